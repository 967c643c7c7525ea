"""The lab's HA manager: pve-ha-manager's CRM and LRM acting on the lab's VMs, on the server's event loop.

It starts and stops HA guests, runs HA migrations, and after a node is lost it fences it
(`ha_fence_delay` real seconds) and recovers its services on other nodes. Decisions (which node,
or none, and why) come from lab/state/ha.py; this module applies them to fakepve's VMs. The HTTP
side is lab/handlers/ha.py.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from lab.errors import TaskError
from lab.ha.state import (
    REMOVABLE_LOCKS,
    HaResource,
    HaState,
    decide_failback,
    decide_recovery,
    decide_start_failure,
    needs_fencing,
    usage,
)
from lab.handlers.base import CephHelpers

log = logging.getLogger("lab.ha")


class HaCrm(CephHelpers):
    """The HA manager at work: the CRM's rounds and the LRMs' start/stop/migrate tasks, driven by
    config changes, HA requests and node loss, each a job on the server's event loop."""

    vms: list[Any]
    tasks: dict[str, dict[str, Any]]
    time_scale: float
    ha_delay: float
    quorate: bool

    if TYPE_CHECKING:  # fakepve's Model and server, and QemuExtraApi

        async def pause(self, secs: float) -> None: ...
        def vm(self, vmid: int) -> Any: ...
        async def ceph_io(self, vm: Any, keys: Any = None) -> None: ...
        async def _powerdown(self, vm: Any, p: dict[str, Any]) -> Any: ...

    # -- bookkeeping -------------------------------------------------------------------------------

    def init_ha(self) -> None:
        self.ha = HaState()
        # Real seconds from losing a node to fencing it and recovering its services (PVE: about 2 minutes).
        self.ha_fence_delay = 3.0
        self._ha_jobs: set[asyncio.Task[Any]] = set()
        self._ha_locks: dict[str, asyncio.Lock] = {}

    async def stop(self) -> None:
        """Stop the API; pending CRM jobs go with it (they would act on a server that is gone)."""
        for job in list(self._ha_jobs):
            job.cancel()
        parent: Any = super()
        await parent.stop()

    def _guest_types(self) -> dict[int, str]:
        types = {ct.vmid: "lxc" for ct in getattr(self, "cts", [])}
        types.update((vm.vmid, "qemu") for vm in self.vms)
        return types

    def _guest(self, sid: str) -> Any:
        kind, _, name = sid.partition(":")
        if kind != "vm" or not name.isdigit():
            return None
        return self.vm(int(name))

    def _online(self, node: str) -> bool:
        return bool(self.nodes.get(node, {}).get("online", True))

    def _note(self, line: str) -> None:
        self.ha.log.append(line)
        log.info("%s", line)

    def _mirror(self, sid: str) -> None:
        """fakepve's vm.ha_state is what /cluster/resources (hastate) and status/current (ha.state) show:
        the CRM state, or None for a guest HA does not manage (no resource, or an ignored one)."""
        vm = self._guest(sid)
        if vm is not None:
            svc = self.ha.services.get(sid)
            vm.ha_state = svc.state if svc is not None and sid in self.ha.resources else None

    def _sync(self) -> None:
        """Follow fakepve's own VM changes: `qm create --ha-managed` adds a resource, `qm destroy --purge`
        (the only way to destroy an HA guest) removes it."""
        for vm in self.vms:
            sid = f"vm:{vm.vmid}"
            if vm.ha_state is not None and sid not in self.ha.resources:
                resource = HaResource(sid, "vm", state="started" if vm.ha_state == "started" else "stopped")
                self.ha.resources[sid] = resource
                svc = self.ha.add_service(resource, vm.node, vm.status == "running")
                if svc is not None and svc.running == (resource.request_state == "started"):
                    svc.state = resource.request_state  # already where it should be
                elif svc is not None:
                    self._schedule(self._crm_converge(sid))
                self._mirror(sid)
        known = self._guest_types()
        for sid, resource in list(self.ha.resources.items()):
            if resource.vmid not in known:
                self.ha.drop_resource(sid, purge=True)
        self._elect_master()

    def _elect_master(self) -> None:
        if not self.ha.resources and self.ha.master is None:
            return  # the CRM only becomes master once there is something to manage
        if self.ha.master is None or not self._online(self.ha.master):
            online = self.online_nodes()
            self.ha.master = online[0] if online else None

    def _after_state_change(self, sid: str) -> None:
        """The CRM sees the new config: an ignored service leaves its status, a re-managed one comes
        back, an erroneous one is cleared by `disabled`; then it converges after its next round."""
        resource, svc = self.ha.resources[sid], self.ha.services.get(sid)
        guest = self._guest(sid)
        if resource.state == "ignored":
            self.ha.services.pop(sid, None)
        elif svc is None and guest is not None:
            self.ha.add_service(resource, guest.node, guest.status == "running")
        elif svc is not None and svc.state == "error" and resource.request_state == "disabled":
            svc.state, svc.failed_nodes = "stopped", []
        self._mirror(sid)
        self._schedule(self._crm_converge(sid))

    # -- fakepve's VM actions on HA guests, and node loss ------------------------------------------

    async def _ha_request(self, vm: Any, user: str, state: str) -> str:
        """start/stop/shutdown of an HA guest: `ha-manager set --state` in a short task; the CRM acts later."""
        sid, verb = f"vm:{vm.vmid}", "start" if state == "started" else "stop"

        async def body() -> None:
            self._sync()
            resource = self.ha.resources.get(sid)
            if resource is None:
                return
            svc = self.ha.services.get(sid)
            if svc is not None and svc.state == "error":
                raise TaskError(f"command 'ha-manager set {sid} --state {state}' failed: exit code 255")
            resource.state = state
            self._after_state_change(sid)

        return await self.task(
            vm.node, "ha" + verb, vm.vmid, user, body, lock=False, log=[f"Requesting HA {verb} for VM {vm.vmid}"]
        )

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """fakepve's offline node (595 for its requests), plus what the HA stack does about it."""
        was_online = self._online(node)
        parent: Any = super()
        parent.set_node_offline(node, offline)
        if not self._has_loop():
            log.warning(
                "node %s %s outside the event loop: the HA manager does not act", node, "lost" if offline else "back"
            )
            return
        if offline and was_online:
            self._node_lost(node)
        elif not offline and not was_online:
            self._node_back(node)

    @staticmethod
    def _has_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def _node_lost(self, node: str) -> None:
        self._sync()
        self.ha.lost[node] = time.time()
        self._elect_master()
        self._note(f"node '{node}': state changed from 'online' => 'fence'")
        for sid, svc in sorted(self.ha.services.items()):
            if svc.node == node and needs_fencing(self.ha.resources[sid], svc):
                svc.state, svc.running = "fence", False
                self._mirror(sid)
        self._schedule(self._crm_fence(node))

    def _node_back(self, node: str) -> None:
        self.ha.lost.pop(node, None)
        fenced = node in self.ha.fenced
        self.ha.fenced.discard(node)
        self._note(f"node '{node}': state changed from '{'unknown' if fenced else 'fence'}' => 'online'")
        for sid, svc in sorted(self.ha.services.items()):
            if svc.node == node and svc.state == "fence":  # back before it was fenced: nothing happened
                vm = self._guest(sid)
                svc.running = vm is not None and vm.status == "running"
                svc.state = "started" if self.ha.resources[sid].request_state == "started" else "stopped"
                self._mirror(sid)
        self._elect_master()
        self._schedule(self._crm_node_back())

    # -- jobs on the server's event loop -----------------------------------------------------------

    def _schedule(self, job: Coroutine[Any, Any, None]) -> None:
        """Run a CRM job on the server's loop; outside one (plain sync code) it is dropped with a warning."""
        try:
            task = asyncio.get_running_loop().create_task(job)
        except RuntimeError:
            job.close()
            log.warning("no running event loop: HA manager job dropped")
            return
        self._ha_jobs.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[Any]) -> None:
        self._ha_jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("HA manager job failed", exc_info=task.exception())

    def _lock(self, sid: str) -> asyncio.Lock:
        """One CRM/LRM action per service at a time (PVE: the LRM's worker per service)."""
        return self._ha_locks.setdefault(sid, asyncio.Lock())

    def _reconsider_all(self) -> None:
        """Placement changed (group or rule): let the CRM check failback for every service."""
        for sid in list(self.ha.services):
            self._schedule(self._crm_converge(sid))

    # -- CRM rounds and LRM actions ----------------------------------------------------------------

    async def _crm_converge(self, sid: str) -> None:
        """One CRM round for a service: bring its guest to the requested state, then honour failback."""
        await self.pause(self.ha_delay)
        async with self._lock(sid):
            resource, svc, vm = self.ha.resources.get(sid), self.ha.services.get(sid), self._guest(sid)
            if resource is None or svc is None or not self._online(svc.node):
                return
            if svc.state in ("fence", "recovery", "error", "migrate", "relocate"):
                return
            if resource.type != "vm":  # containers: the lab keeps their HA state only
                svc.state = "started" if resource.request_state == "started" else "stopped"
            elif vm is None:  # destroyed meanwhile; _sync drops the resource
                return
            elif resource.request_state == "started":
                if svc.state != "started" or not svc.running:
                    svc.state = "started"
                    self._mirror(sid)
                    await self._lrm_start(sid)
                await self._failback(sid)
            else:
                svc.state = "request_stop"
                self._mirror(sid)
                if vm.status == "running":
                    await self._lrm_run(vm, "qmshutdown")
                if svc.state == "request_stop":
                    svc.state, svc.running = "stopped", False
            self._mirror(sid)

    async def _failback(self, sid: str) -> None:
        svc = self.ha.services[sid]
        decision = decide_failback(
            sid,
            svc,
            self.ha.placement(sid, self.nodes),
            self.online_nodes(),
            usage(self.ha.services, self.online_nodes()),
        )
        if decision is not None and decision.node is not None:
            self._note(decision.reason)
            await self._crm_move(sid, decision.node, "migrate")

    async def _lrm_run(self, vm: Any, kind: str) -> str:
        """A task the LRM runs for a service (as root@pam, on the guest's node); its exit status."""
        if kind == "qmstart":
            body = self._start_body(vm)
        else:

            async def body() -> None:
                await self._powerdown(vm, {"forceStop": "1"})

        upid = await self.task(vm.node, kind, vm.vmid, "root@pam", body, vm=vm)
        return await self._wait_task(upid)

    def _start_body(self, vm: Any) -> Callable[[], Coroutine[Any, Any, None]]:
        async def body() -> None:  # fakepve's qmstart body, without the HA detour
            if vm.status == "running":
                return
            if vm.lock and vm.lock != "suspended":
                raise TaskError(f"VM is locked ({vm.lock})")
            await self.ceph_io(vm)
            await self.pause(vm.start_secs)
            if vm.start_error:
                raise TaskError(vm.start_error)
            vm.apply_pending()
            vm.status = vm.qmpstatus = "running"
            vm.started_at = time.time()

        return body

    async def _wait_task(self, upid: str) -> str:
        while self.tasks[upid]["status"] != "stopped":
            await asyncio.sleep(0.02)
        return str(self.tasks[upid]["exitstatus"])

    async def _lrm_start(self, sid: str) -> None:
        """Start the guest: max_restart retries on its node, then the CRM's relocation policy, which
        moves it to the next allowed node or, past max_relocate failed nodes, puts it in 'error'."""
        resource, svc, vm = self.ha.resources[sid], self.ha.services[sid], self._guest(sid)
        while svc.state == "started":
            for attempt in range(1 + resource.restart_limit):
                if await self._lrm_run(vm, "qmstart") == "OK":
                    svc.running, svc.failed_nodes = True, []
                    self._mirror(sid)
                    return
                if svc.state != "started":
                    return
                if attempt < resource.restart_limit:
                    self._note(f"restart service '{sid}' on node '{svc.node}' (attempt {attempt + 1})")
            online = self.online_nodes()
            decision = decide_start_failure(
                sid, resource, svc, self.ha.placement(sid, self.nodes), online, usage(self.ha.services, online)
            )
            self._note(decision.reason)
            svc.failed_nodes.append(svc.node)
            if decision.state == "error":
                svc.state, svc.running = "error", False
            elif decision.node is not None:
                await self._move(sid, decision.node, "relocate")
                if svc.state == "relocate":  # not fenced meanwhile: start it where it is now
                    svc.state = "started"
            self._mirror(sid)

    async def _move(self, sid: str, target: str, kind: str) -> bool:
        """The LRM's migrate (running guests move live) or relocate (stop, move, then start again)."""
        svc, vm = self.ha.services[sid], self._guest(sid)
        svc.state, svc.target = kind, target
        self._mirror(sid)
        if kind == "relocate" and vm.status == "running":
            await self._lrm_run(vm, "qmshutdown")
        status = await self._wait_task(
            await self.migrations.migrate(vm, target, "root@pam", online=vm.status == "running")
        )
        svc.target = None
        if status != "OK":
            self._note(f"service '{sid}' - {kind} failed: {status}")
        svc.node = vm.node
        return status == "OK"

    async def _crm_move(self, sid: str, target: str, kind: str) -> None:
        await self._move(sid, target, kind)
        resource, svc, vm = self.ha.resources.get(sid), self.ha.services[sid], self._guest(sid)
        if svc.state != kind:  # fenced meanwhile
            return
        if resource is not None and resource.request_state == "started":
            svc.state, svc.running = "started", vm.status == "running"
            self._mirror(sid)
            if not svc.running:
                await self._lrm_start(sid)
        else:
            svc.state = "stopped"
        self._mirror(sid)

    async def _crm_motion(self, sid: str, target: str, kind: str) -> None:
        """A queued `migrate`/`relocate` command, as next_state_started/stopped handle it."""
        await self.pause(self.ha_delay)
        async with self._lock(sid):
            svc = self.ha.services.get(sid)
            if svc is None or self._guest(sid) is None or svc.state not in ("started", "stopped"):
                return
            if not self._online(target):
                self._note(f"ignore service '{sid}' {kind} request - node '{target}' not online")
            elif svc.node == target:
                self._note(f"ignore service '{sid}' {kind} request - service already on node '{target}'")
            else:
                self._note(f"{kind} service '{sid}' to node '{target}'")
                await self._crm_move(sid, target, kind)

    # -- fencing and recovery ----------------------------------------------------------------------

    async def _crm_fence(self, node: str) -> None:
        """Fence a lost node once it has been gone `ha_fence_delay` seconds, then recover its services."""
        await asyncio.sleep(self.ha_fence_delay)
        if self._online(node):
            return
        self.ha.fenced.add(node)
        self._note(f"fencing: acknowledged - got agent lock for node '{node}'")
        self._note(f"node '{node}': state changed from 'fence' => 'unknown'")
        for sid in sorted(self.ha.services):
            svc = self.ha.services.get(sid)
            if svc is None or svc.node != node or svc.state != "fence":
                continue
            async with self._lock(sid):
                if svc.state == "fence":
                    svc.state = "recovery"
                    self._recover(sid)

    def _recover(self, sid: str) -> None:
        """next_state_recovery: steal the service for the chosen node (the guest is stopped there), then
        the LRM starts it; with no node allowed it stays in 'recovery' and is retried when nodes return."""
        resource, svc, vm = self.ha.resources[sid], self.ha.services[sid], self._guest(sid)
        online = self.online_nodes()
        decision = decide_recovery(
            sid, resource, svc, self.ha.placement(sid, self.nodes), online, usage(self.ha.services, online)
        )
        self._note(decision.reason)
        if decision.node is None or vm is None:
            svc.state = decision.state
            self._mirror(sid)
            return
        vm.node, vm.status, vm.qmpstatus, vm.started_at = decision.node, "stopped", "stopped", None
        if vm.lock in REMOVABLE_LOCKS:
            vm.lock = None
            vm.config.pop("lock", None)
        svc.node, svc.running = decision.node, False
        svc.state = "started" if decision.start else "stopped"
        self._mirror(sid)
        if decision.start:
            self._schedule(self._crm_start(sid))

    async def _crm_start(self, sid: str) -> None:
        async with self._lock(sid):
            if self.ha.services.get(sid) is not None and self.ha.services[sid].state == "started":
                await self._lrm_start(sid)

    async def _crm_node_back(self) -> None:
        """A node came back: services stuck in 'recovery' get another try, started ones may fail back."""
        await self.pause(self.ha_delay)
        for sid in sorted(self.ha.services):
            svc = self.ha.services.get(sid)
            if svc is None:
                continue
            async with self._lock(sid):
                if svc.state == "recovery":
                    self._recover(sid)
                elif svc.state == "started" and self._guest(sid) is not None:
                    await self._failback(sid)
