"""The lab's HA manager: pve-ha-manager's CRM and LRM acting on the lab's guests, on the server's event loop.

It starts and stops HA guests, runs HA migrations, and after a node is lost it fences it (`fence_delay`
real seconds) and recovers its services on other nodes. Decisions (which node, or none, and why) come
from lab/ha/state.py; the manager applies them through `GuestOps`, what pve-ha-manager's environment
(src/PVE/HA/Env/PVE2.pm) and its resource agents (src/PVE/HA/Resources/PVEVM.pm) do on a real node.
The HTTP side is lab/handlers/ha.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from lab.errors import TaskError
from lab.ha.state import (
    HaError,
    HaResource,
    HaState,
    decide_failback,
    decide_recovery,
    decide_start_failure,
    needs_fencing,
    usage,
)
from lab.models.fakepve_model import FakeVm

log = logging.getLogger("lab.ha")
# Real seconds from losing a node to fencing it and recovering its services (PVE: about 2 minutes).
DEFAULT_FENCE_DELAY = 3.0


class GuestOps(Protocol):
    """What the HA manager needs of the cluster: its guests and nodes, the LRM's actions, and a clock."""

    def vms(self) -> list[FakeVm]: ...

    def vm(self, vmid: int) -> FakeVm | None: ...

    def guest_types(self) -> dict[int, str]:
        """vmid -> 'qemu' or 'lxc', for every guest of the cluster."""
        ...

    def nodes(self) -> list[str]: ...

    def online_nodes(self) -> list[str]: ...

    def is_online(self, node: str) -> bool: ...

    def quorate(self) -> bool:
        """Whether the cluster has quorum (the HA domain lock needs it)."""
        ...

    async def start(self, vm: FakeVm) -> str:
        """The LRM starts the guest on its node (a qmstart task as root@pam); the task's exit status."""
        ...

    async def stop(self, vm: FakeVm) -> str:
        """The LRM shuts the guest down, forcing it off at the timeout; the task's exit status."""
        ...

    async def migrate(self, vm: FakeVm, target: str) -> str:
        """The LRM migrates the guest (live if it runs); the qmigrate task's exit status."""
        ...

    def steal(self, vm: FakeVm, node: str) -> None:
        """Recovery: the fenced guest's config moves to `node`, stopped (Env steal_service)."""
        ...

    async def wait_round(self) -> None:
        """Until the CRM's next round acts on a change."""
        ...

    def now(self) -> float: ...


class HaManager:
    """The HA manager at work: the CRM's rounds and the LRMs' start/stop/migrate, driven by config
    changes, HA requests and node loss, each a job on the server's event loop."""

    def __init__(self, state: HaState, guests: GuestOps, fence_delay: float = DEFAULT_FENCE_DELAY) -> None:
        self.state = state
        self.guests = guests
        self.fence_delay = fence_delay
        self._jobs: set[asyncio.Task[Any]] = set()
        # One CRM/LRM action per service at a time (PVE: the LRM's worker per service).
        self._locks: dict[str, asyncio.Lock] = {}

    def cancel_jobs(self) -> None:
        """Pending CRM jobs go with the server (they would act on a server that is gone)."""
        for job in list(self._jobs):
            job.cancel()

    # -- bookkeeping ---------------------------------------------------------------------------------

    def guest(self, sid: str) -> FakeVm | None:
        kind, _, name = sid.partition(":")
        if kind != "vm" or not name.isdigit():
            return None
        return self.guests.vm(int(name))

    def _note(self, line: str) -> None:
        self.state.log.append(line)
        log.info("%s", line)

    def mirror(self, sid: str) -> None:
        """fakepve's vm.ha_state is what /cluster/resources (hastate) and status/current (ha.state) show:
        the CRM state, or None for a guest HA does not manage (no resource, or an ignored one)."""
        vm = self.guest(sid)
        if vm is not None:
            svc = self.state.services.get(sid)
            vm.ha_state = svc.state if svc is not None and sid in self.state.resources else None

    def sync(self) -> None:
        """Follow fakepve's own VM changes: `qm create --ha-managed` adds a resource, `qm destroy --purge`
        (the only way to destroy an HA guest) removes it."""
        ha = self.state
        for vm in self.guests.vms():
            sid = f"vm:{vm.vmid}"
            if vm.ha_state is not None and sid not in ha.resources:
                resource = HaResource(sid, "vm", state="started" if vm.ha_state == "started" else "stopped")
                ha.resources[sid] = resource
                svc = ha.add_service(resource, vm.node, vm.status == "running")
                if svc is not None and svc.running == (resource.request_state == "started"):
                    svc.state = resource.request_state  # already where it should be
                elif svc is not None:
                    self.converge_later(sid)
                self.mirror(sid)
        known = self.guests.guest_types()
        for sid, resource in list(ha.resources.items()):
            if resource.vmid not in known:
                ha.drop_resource(sid, purge=True)
        self.elect_master()

    def elect_master(self) -> None:
        ha = self.state
        if not ha.resources and ha.master is None:
            return  # the CRM only becomes master once there is something to manage
        if ha.master is None or not self.guests.is_online(ha.master):
            online = self.guests.online_nodes()
            ha.master = online[0] if online else None

    def after_state_change(self, sid: str) -> None:
        """The CRM sees the new config: an ignored service leaves its status, a re-managed one comes
        back, an erroneous one is cleared by `disabled`; then it converges after its next round."""
        resource, svc = self.state.resources[sid], self.state.services.get(sid)
        guest = self.guest(sid)
        if resource.state == "ignored":
            self.state.services.pop(sid, None)
        elif svc is None and guest is not None:
            self.state.add_service(resource, guest.node, guest.status == "running")
        elif svc is not None and svc.state == "error" and resource.request_state == "disabled":
            svc.state, svc.failed_nodes = "stopped", []
        self.mirror(sid)
        self.converge_later(sid)

    # -- requests ------------------------------------------------------------------------------------

    def request_state(self, sid: str, state: str) -> None:
        """start/stop/shutdown of an HA guest: `ha-manager set --state` (the body of the API's short task)."""
        self.sync()
        resource = self.state.resources.get(sid)
        if resource is None:
            return
        svc = self.state.services.get(sid)
        if svc is not None and svc.state == "error":
            raise TaskError(f"command 'ha-manager set {sid} --state {state}' failed: exit code 255")
        resource.state = state
        self.after_state_change(sid)

    def queue_motion(self, sid: str, target: str, kind: str) -> None:
        """`ha-manager migrate|relocate`: checks, then a CRM command for its next round (HaError if refused)."""
        self.sync()
        resource = self.state.resources.get(sid)
        if resource is None or resource.state == "ignored":
            raise HaError(f"resource '{sid}' is not HA managed")
        self.state.check_service_state(sid)
        if not self.guests.quorate():  # queue_crm_commands takes the ha domain lock
            raise HaError("cfs-lock 'domain-ha' error: no quorum!")
        self._schedule(self._crm_motion(sid, target, kind))

    def converge_later(self, sid: str) -> None:
        """The CRM's next round brings the service to its requested state."""
        self._schedule(self._crm_converge(sid))

    def reconsider_all(self) -> None:
        """Placement changed (group or rule): let the CRM check failback for every service."""
        for sid in list(self.state.services):
            self.converge_later(sid)

    # -- node loss -----------------------------------------------------------------------------------

    def node_changed(self, node: str, was_online: bool) -> None:
        """A node went offline or came back (fakepve's set_node_offline): what the HA stack does about it."""
        online = self.guests.is_online(node)
        if not _has_loop():
            log.warning(
                "node %s %s outside the event loop: the HA manager does not act", node, "back" if online else "lost"
            )
            return
        if not online and was_online:
            self._node_lost(node)
        elif online and not was_online:
            self._node_back(node)

    def _node_lost(self, node: str) -> None:
        self.sync()
        ha = self.state
        ha.lost[node] = self.guests.now()
        self.elect_master()
        self._note(f"node '{node}': state changed from 'online' => 'fence'")
        for sid, svc in sorted(ha.services.items()):
            if svc.node == node and needs_fencing(ha.resources[sid], svc):
                svc.state, svc.running = "fence", False
                self.mirror(sid)
        self._schedule(self._crm_fence(node))

    def _node_back(self, node: str) -> None:
        ha = self.state
        ha.lost.pop(node, None)
        fenced = node in ha.fenced
        ha.fenced.discard(node)
        self._note(f"node '{node}': state changed from '{'unknown' if fenced else 'fence'}' => 'online'")
        for sid, svc in sorted(ha.services.items()):
            if svc.node == node and svc.state == "fence":  # back before it was fenced: nothing happened
                vm = self.guest(sid)
                svc.running = vm is not None and vm.status == "running"
                svc.state = "started" if ha.resources[sid].request_state == "started" else "stopped"
                self.mirror(sid)
        self.elect_master()
        self._schedule(self._crm_node_back())

    # -- jobs on the server's event loop -------------------------------------------------------------

    def _schedule(self, job: Coroutine[Any, Any, None]) -> None:
        """Run a CRM job on the server's loop; outside one (plain sync code) it is dropped with a warning."""
        try:
            task = asyncio.get_running_loop().create_task(job)
        except RuntimeError:
            job.close()
            log.warning("no running event loop: HA manager job dropped")
            return
        self._jobs.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[Any]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("HA manager job failed", exc_info=task.exception())

    def _lock(self, sid: str) -> asyncio.Lock:
        return self._locks.setdefault(sid, asyncio.Lock())

    # -- CRM rounds and LRM actions ------------------------------------------------------------------

    async def _crm_converge(self, sid: str) -> None:
        """One CRM round for a service: bring its guest to the requested state, then honour failback."""
        await self.guests.wait_round()
        async with self._lock(sid):
            ha = self.state
            resource, svc, vm = ha.resources.get(sid), ha.services.get(sid), self.guest(sid)
            if resource is None or svc is None or not self.guests.is_online(svc.node):
                return
            if svc.state in ("fence", "recovery", "error", "migrate", "relocate"):
                return
            if resource.type != "vm":  # containers: the lab keeps their HA state only
                svc.state = "started" if resource.request_state == "started" else "stopped"
            elif vm is None:  # destroyed meanwhile; sync drops the resource
                return
            elif resource.request_state == "started":
                if svc.state != "started" or not svc.running:
                    svc.state = "started"
                    self.mirror(sid)
                    await self._lrm_start(sid)
                await self._failback(sid)
            else:
                svc.state = "request_stop"
                self.mirror(sid)
                if vm.status == "running":
                    await self.guests.stop(vm)
                if svc.state == "request_stop":
                    svc.state, svc.running = "stopped", False
            self.mirror(sid)

    async def _failback(self, sid: str) -> None:
        ha, online = self.state, self.guests.online_nodes()
        svc = ha.services[sid]
        decision = decide_failback(sid, svc, ha.placement(sid, self.guests.nodes()), online, usage(ha.services, online))
        if decision is not None and decision.node is not None:
            self._note(decision.reason)
            await self._crm_move(sid, decision.node, "migrate")

    async def _lrm_start(self, sid: str) -> None:
        """Start the guest: max_restart retries on its node, then the CRM's relocation policy, which
        moves it to the next allowed node or, past max_relocate failed nodes, puts it in 'error'."""
        ha = self.state
        resource, svc, vm = ha.resources[sid], ha.services[sid], self.guest(sid)
        assert vm is not None  # only VMs get here
        while svc.state == "started":
            if vm.status == "running":  # LRM.pm exec_resource_agent: `return SUCCESS if $running`, no start task
                svc.running, svc.failed_nodes = True, []
                self.mirror(sid)
                return
            for attempt in range(1 + resource.restart_limit):
                if await self.guests.start(vm) == "OK":
                    svc.running, svc.failed_nodes = True, []
                    self.mirror(sid)
                    return
                if svc.state != "started":
                    return
                if attempt < resource.restart_limit:
                    self._note(f"restart service '{sid}' on node '{svc.node}' (attempt {attempt + 1})")
            online = self.guests.online_nodes()
            decision = decide_start_failure(
                sid, resource, svc, ha.placement(sid, self.guests.nodes()), online, usage(ha.services, online)
            )
            self._note(decision.reason)
            svc.failed_nodes.append(svc.node)
            if decision.state == "error":
                svc.state, svc.running = "error", False
            elif decision.node is not None:
                await self._move(sid, decision.node, "relocate")
                if svc.state == "relocate":  # not fenced meanwhile: start it where it is now
                    svc.state = "started"
            self.mirror(sid)

    async def _move(self, sid: str, target: str, kind: str) -> bool:
        """The LRM's migrate (running guests move live) or relocate (stop, move, then start again)."""
        svc, vm = self.state.services[sid], self.guest(sid)
        assert vm is not None
        svc.state, svc.target = kind, target
        self.mirror(sid)
        if kind == "relocate" and vm.status == "running":
            await self.guests.stop(vm)
        status = await self.guests.migrate(vm, target)
        svc.target = None
        if status != "OK":
            self._note(f"service '{sid}' - {kind} failed: {status}")
        svc.node = vm.node
        return status == "OK"

    async def _crm_move(self, sid: str, target: str, kind: str) -> None:
        await self._move(sid, target, kind)
        resource, svc, vm = self.state.resources.get(sid), self.state.services[sid], self.guest(sid)
        if svc.state != kind:  # fenced meanwhile
            return
        if resource is not None and resource.request_state == "started":
            svc.state, svc.running = "started", vm is not None and vm.status == "running"
            self.mirror(sid)
            if not svc.running:
                await self._lrm_start(sid)
        else:
            svc.state = "stopped"
        self.mirror(sid)

    async def _crm_motion(self, sid: str, target: str, kind: str) -> None:
        """A queued `migrate`/`relocate` command, as next_state_started/stopped handle it."""
        await self.guests.wait_round()
        async with self._lock(sid):
            svc = self.state.services.get(sid)
            if svc is None or self.guest(sid) is None or svc.state not in ("started", "stopped"):
                return
            if not self.guests.is_online(target):
                self._note(f"ignore service '{sid}' {kind} request - node '{target}' not online")
            elif svc.node == target:
                self._note(f"ignore service '{sid}' {kind} request - service already on node '{target}'")
            else:
                self._note(f"{kind} service '{sid}' to node '{target}'")
                await self._crm_move(sid, target, kind)

    # -- fencing and recovery ------------------------------------------------------------------------

    async def _crm_fence(self, node: str) -> None:
        """Fence a lost node once it has been gone `fence_delay` seconds, then recover its services."""
        await asyncio.sleep(self.fence_delay)
        if self.guests.is_online(node):
            return
        ha = self.state
        ha.fenced.add(node)
        self._note(f"fencing: acknowledged - got agent lock for node '{node}'")
        self._note(f"node '{node}': state changed from 'fence' => 'unknown'")
        for sid in sorted(ha.services):
            svc = ha.services.get(sid)
            if svc is None or svc.node != node or svc.state != "fence":
                continue
            async with self._lock(sid):
                if svc.state == "fence":
                    svc.state = "recovery"
                    self._recover(sid)

    def _recover(self, sid: str) -> None:
        """next_state_recovery: steal the service for the chosen node (the guest is stopped there), then
        the LRM starts it; with no node allowed it stays in 'recovery' and is retried when nodes return."""
        ha = self.state
        resource, svc, vm = ha.resources[sid], ha.services[sid], self.guest(sid)
        online = self.guests.online_nodes()
        decision = decide_recovery(
            sid, resource, svc, ha.placement(sid, self.guests.nodes()), online, usage(ha.services, online)
        )
        self._note(decision.reason)
        if decision.node is None or vm is None:
            svc.state = decision.state
            self.mirror(sid)
            return
        self.guests.steal(vm, decision.node)
        svc.node, svc.running = decision.node, False
        svc.state = "started" if decision.start else "stopped"
        self.mirror(sid)
        if decision.start:
            self._schedule(self._crm_start(sid))

    async def _crm_start(self, sid: str) -> None:
        async with self._lock(sid):
            svc = self.state.services.get(sid)
            if svc is not None and svc.state == "started":
                await self._lrm_start(sid)

    async def _crm_node_back(self) -> None:
        """A node came back: services stuck in 'recovery' get another try, started ones may fail back."""
        await self.guests.wait_round()
        for sid in sorted(self.state.services):
            svc = self.state.services.get(sid)
            if svc is None:
                continue
            async with self._lock(sid):
                if svc.state == "recovery":
                    self._recover(sid)
                elif svc.state == "started" and self.guest(sid) is not None:
                    await self._failback(sid)


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
