"""The HA stack (pve-ha-manager's API2/HA/*.pm, and a CRM/LRM acting on the lab's VMs).

Config endpoints are synchronous and return null, as in PVE; the CRM acts afterwards on the
server's event loop: it starts and stops HA guests, runs HA migrations, and after a node is lost
it fences it (`ha_fence_delay` real seconds) and recovers its services on other nodes. Decisions
(which node, or none, and why) come from lab/state/ha.py; this module applies them to fakepve's VMs.
PVE 8 labs have HA groups and no rules; PVE 9 labs have rules and refuse every group call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from fakepve import schema as pve_schema

from lab import errors
from lab.errors import PveError, TaskError
from lab.handlers.base import CephHelpers
from lab.state.ha import (
    REMOVABLE_LOCKS,
    RULE_TYPES,
    HaError,
    HaGroup,
    HaResource,
    HaRule,
    HaState,
    check_guest,
    check_sid_format,
    decide_failback,
    decide_recovery,
    decide_start_failure,
    needs_fencing,
    parse_node_list,
    resolve_sid,
    rule_errors,
    split_list,
    status_entries,
    usage,
)

Route = tuple[str, str, Any]
T = TypeVar("T")
log = logging.getLogger("lab.ha")
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"
MODIFIED = "detected modified configuration - file changed by other user? Try again."
RESOURCE_OPTIONS = ("state", "group", "max_restart", "max_relocate", "failback", "auto-rebalance", "comment")
PVE9_RESOURCE_OPTIONS = ("failback", "auto-rebalance")
GROUP_OPTIONS = ("nodes", "restricted", "nofailback", "comment")
# Options a rule of each type takes, and those it cannot be without (Rules/*.pm options()).
RULE_OPTIONS = {"node-affinity": ("resources", "nodes", "strict", "affinity", "disable", "comment"),
                "resource-affinity": ("resources", "affinity", "disable", "comment")}
RULE_REQUIRED = {"node-affinity": ("resources", "nodes"), "resource-affinity": ("resources", "affinity")}


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
        async def qm_migrate(self, vm: Any, target: str, user: str, online: bool, with_local_disks: bool = False,
                             storagemap: dict[str, str] | None = None, log: Any = ()) -> str: ...

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

        return await self.task(vm.node, "ha" + verb, vm.vmid, user, body, lock=False,
                               log=[f"Requesting HA {verb} for VM {vm.vmid}"])

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """fakepve's offline node (595 for its requests), plus what the HA stack does about it."""
        was_online = self._online(node)
        parent: Any = super()
        parent.set_node_offline(node, offline)
        if not self._has_loop():
            log.warning("node %s %s outside the event loop: the HA manager does not act", node,
                        "lost" if offline else "back")
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
        decision = decide_failback(sid, svc, self.ha.placement(sid, self.nodes), self.online_nodes(),
                                   usage(self.ha.services, self.online_nodes()))
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
            decision = decide_start_failure(sid, resource, svc, self.ha.placement(sid, self.nodes), online,
                                            usage(self.ha.services, online))
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
        status = await self._wait_task(await self.qm_migrate(vm, target, "root@pam", online=vm.status == "running"))
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
        decision = decide_recovery(sid, resource, svc, self.ha.placement(sid, self.nodes), online,
                                   usage(self.ha.services, online))
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


class HaApi(HaCrm):
    """/cluster/ha: config endpoints (synchronous, null), migrate/relocate requests and the status."""

    # -- routes and helpers ------------------------------------------------------------------------

    def _routes_ha(self) -> list[Route]:
        ha = "/cluster/ha"
        return [
            ("GET", ha, self._ha_index),
            ("GET", ha + "/groups", self._group_list), ("POST", ha + "/groups", self._group_create),
            ("GET", ha + "/groups/{group}", self._group_read), ("PUT", ha + "/groups/{group}", self._group_update),
            ("DELETE", ha + "/groups/{group}", self._group_delete),
            ("GET", ha + "/rules", self._rule_list), ("POST", ha + "/rules", self._rule_create),
            ("GET", ha + "/rules/{rule}", self._rule_read), ("PUT", ha + "/rules/{rule}", self._rule_update),
            ("DELETE", ha + "/rules/{rule}", self._rule_delete),
            ("GET", ha + "/resources", self._resource_list), ("POST", ha + "/resources", self._resource_create),
            ("GET", ha + "/resources/{sid}", self._resource_read),
            ("PUT", ha + "/resources/{sid}", self._resource_update),
            ("DELETE", ha + "/resources/{sid}", self._resource_delete),
            ("POST", ha + "/resources/{sid}/migrate", self._resource_migrate),
            ("POST", ha + "/resources/{sid}/relocate", self._resource_relocate),
            ("GET", ha + "/status/current", self._ha_status),
            ("GET", ha + "/status/manager_status", self._ha_manager_status),
        ]

    @property
    def _pve9(self) -> bool:
        return self.cluster.spec.pve_version >= 9

    @staticmethod
    def _refusal(exc: HaError, prefix: str | None = None) -> PveError:
        if exc.field:
            return errors.param(**{exc.field: exc.message})
        return errors.die(f"{prefix}: {exc.message}" if prefix else exc.message)

    def _locked(self, errmsg: str | None, change: Callable[[], T]) -> T:
        """PVE::HA::Config::lock_ha_domain: no quorum, no lock; errors inside get the caller's prefix."""
        try:
            if not self.quorate:
                raise HaError("cfs-lock 'domain-ha' error: no quorum!")
            return change()
        except HaError as exc:
            raise self._refusal(exc, errmsg) from exc

    def _reject_params(self, v: dict[str, Any], names: tuple[str, ...]) -> None:
        """Parameters that PVE 8's schema does not have (fakepve's schema is PVE 9's)."""
        given = {n: NOT_IN_SCHEMA for n in names if n in v}
        if given and not self._pve9:
            raise errors.param(**given)

    def _sid(self, text: str) -> tuple[str, str, str]:
        try:
            check_sid_format(text)
            return resolve_sid(text, self._guest_types())
        except HaError as exc:
            raise self._refusal(exc) from exc

    async def _ha_index(self, v: dict[str, Any], user: str) -> list[dict[str, str]]:
        ids = ["status", "resources", "groups"] + (["rules"] if self._pve9 else [])
        return [{"id": i} for i in ids]

    # -- groups (PVE 8; PVE 9 has migrated them to rules) ------------------------------------------

    def _groups_gone(self, verb: str) -> None:
        if self._pve9 and not self.ha.groups:  # have_groups_been_migrated
            raise errors.die(f"cannot {verb}: ha groups have been migrated to rules")

    def _group_config(self, name: str) -> dict[str, Any]:
        group = self.ha.groups.get(name)
        if group is None:
            raise errors.die(f"no such ha group '{name}'")
        return {"group": name, "type": "group", **group.options(), "digest": self.ha.groups_digest()}

    def _group_nodes(self, v: dict[str, Any]) -> dict[str, int | None] | None:
        if v.get("nodes") is None:
            return None
        try:
            return parse_node_list(str(v["nodes"]), what="ha group node" if not self._pve9 else "ha node")
        except HaError as exc:
            raise self._refusal(exc) from exc

    async def _group_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._groups_gone("index groups")
        return [self._group_config(name) for name in self.ha.groups]

    async def _group_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._groups_gone("read group")
        return self._group_config(v["group"])

    async def _group_create(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("create group")
        self.need_quorum()
        if v.get("type", "group") != "group":
            raise errors.die("types does not match")
        name, nodes = v["group"], self._group_nodes(v)
        assert nodes is not None  # required by the schema

        def create() -> None:
            if name in self.ha.groups:
                raise HaError(f"ha group ID '{name}' already defined")
            self.ha.groups[name] = HaGroup(name, nodes, _flag(v, "restricted"), _flag(v, "nofailback"),
                                           v.get("comment"))
        self._locked("create ha group failed", create)

    async def _group_update(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("update group")
        name, nodes = v["group"], self._group_nodes(v)

        def update() -> None:
            if v.get("digest") and v["digest"] != self.ha.groups_digest():
                raise HaError(MODIFIED)
            group = self.ha.groups.get(name)
            if group is None:
                raise HaError(f"no such ha group '{name}'")
            if nodes is not None:
                group.nodes = nodes
            for key in ("restricted", "nofailback", "comment"):
                if key in v:
                    setattr(group, key, _flag(v, key) if key != "comment" else v[key])
            for key in split_list(str(v.get("delete") or "")):
                if key not in GROUP_OPTIONS:
                    raise HaError(f"no such option '{key}'")
                if key == "nodes":
                    raise HaError("unable to delete required option 'nodes'")
                setattr(group, key, None)
        self._locked("update ha group failed", update)
        self._reconsider_all()

    async def _group_delete(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("delete group")
        name = v["group"]

        def delete() -> None:
            for sid, resource in sorted(self.ha.resources.items()):
                if resource.group == name:
                    raise HaError(f"ha group is used by service '{sid}'")
            self.ha.groups.pop(name, None)
        self._locked("delete ha group failed", delete)

    # -- rules (PVE 9) -----------------------------------------------------------------------------

    def _rules_exist(self, method: str, v: dict[str, Any]) -> None:
        """PVE 8's API has no /cluster/ha/rules: its router answers 501 (PVE::HTTPServer)."""
        if not self._pve9:
            path = "/cluster/ha/rules" + (f"/{v['rule']}" if "rule" in v and method != "POST" else "")
            raise PveError(501, f"Method '{method} {path}' not implemented")

    def _rule_values(self, method: str, template: str, v: dict[str, Any]) -> dict[str, Any]:
        """Check a rule's parameters against its type's schema (fakepve skips allOf/oneOf schemas)."""
        spec = pve_schema.load().paths[template][method]["parameters"]["allOf"]
        props: dict[str, Any] = {}
        for part in spec:
            props.update(part.get("properties", {}))
            if "oneOf" in part:
                props["type"] = dict(part["type-property-schema"])
                branch = next((b for b in part["oneOf"] if b["instance-type"] == v.get("type")), None)
                props.update(branch["properties"] if branch else {})
        values, errs = pve_schema.validate({"properties": props, "additionalProperties": 0}, v)
        if errs:
            raise PveError(400, "Parameter verification failed.", errs)
        try:
            if "resources" in values:
                for sid in split_list(str(values["resources"])):
                    check_sid_format(sid, "resources", vmid_ok=False)
            if "nodes" in values:
                values["nodes"] = parse_node_list(str(values["nodes"]))
        except HaError as exc:
            raise self._refusal(exc) from exc
        return values

    def _rule_config(self, rule: HaRule, errs: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
        out = {"rule": rule.name, "type": rule.type, **rule.options(), "digest": self.ha.rules_digest(),
               "order": rule.order}
        if rule.name in errs:
            out["errors"] = errs[rule.name]
        return out

    def _check_rule_refs(self, values: dict[str, Any]) -> None:
        """$assert_valid_resources_param and $assert_valid_nodes_param."""
        if "resources" in values:
            sids = set(split_list(str(values["resources"])))
            if not sids:
                raise HaError("no resources were specified")
            unmanaged = sorted(s for s in sids if s not in self.ha.resources)
            if unmanaged:
                raise HaError(f"cannot use unmanaged resource(s) {', '.join(unmanaged)}.")
        if values.get("nodes") is not None:
            if not values["nodes"]:
                raise HaError("no nodes were specified")
            missing = sorted(n for n in values["nodes"] if n not in self.nodes)
            if missing:
                raise HaError(f"cannot use non-existent node(s) {', '.join(missing)}.")

    def _assert_feasible(self, name: str) -> None:
        errs = rule_errors(self.ha.rules, len(self.nodes))
        if name in errs:
            raise HaError(f"Rule '{name}' is invalid.")

    async def _rule_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._rules_exist("GET", v)
        errs = rule_errors(self.ha.rules, len(self.nodes))
        return [self._rule_config(r, errs) for r in sorted(self.ha.rules.values(), key=lambda r: r.order)
                if v.get("type") in (None, r.type) and v.get("resource") in (None, *r.resources)]

    async def _rule_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._rules_exist("GET", v)
        rule = self.ha.rules.get(v["rule"])
        if rule is None:
            raise errors.die(f"no such ha rule '{v['rule']}'")
        return self._rule_config(rule, rule_errors(self.ha.rules, len(self.nodes)))

    async def _rule_create(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("POST", v)
        values = self._rule_values("POST", "/cluster/ha/rules", v)
        self.need_quorum()
        name, kind = values["rule"], values["type"]

        def create() -> None:
            if name in self.ha.rules:
                raise HaError(f"HA rule '{name}' already defined")
            self._check_rule_refs(values)
            order = max((r.order for r in self.ha.rules.values()), default=0) + 1
            self.ha.rules[name] = HaRule(name, kind, set(split_list(str(values["resources"]))), order,
                                         nodes=values.get("nodes"), strict=_flag(values, "strict"),
                                         affinity=values.get("affinity"),
                                         disable=_flag(values, "disable") or None, comment=values.get("comment"))
            try:
                self._assert_feasible(name)
            except HaError:
                del self.ha.rules[name]
                raise
        self._locked("create ha rule failed", create)
        self._reconsider_all()

    async def _rule_update(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("PUT", v)
        name = v["rule"]
        values = self._rule_values("PUT", "/cluster/ha/rules/{rule}", v)

        def update() -> None:
            if values.get("digest") and values["digest"] != self.ha.rules_digest():
                raise HaError(MODIFIED)
            rule = self.ha.rules.get(name)
            if rule is None:
                raise HaError(f"HA rule '{name}' does not exist")
            self._check_rule_refs(values)
            before = HaRule(**vars(rule) | {"resources": set(rule.resources)})
            for key in RULE_OPTIONS[rule.type]:
                if key in values:
                    new = set(split_list(str(values[key]))) if key == "resources" else values[key]
                    setattr(rule, key, bool(new) if key in ("strict", "disable") else new)
            for key in split_list(str(values.get("delete") or "")):
                if key in values:
                    raise HaError(f"cannot set and delete property '{key}' at the same time!")
                if key not in RULE_OPTIONS[rule.type]:
                    raise HaError(f"no such option '{key}'")
                if key in RULE_REQUIRED[rule.type]:
                    raise HaError(f"unable to delete required option '{key}'")
                setattr(rule, key, None)
            try:
                self._assert_feasible(name)
            except HaError:
                self.ha.rules[name] = before
                raise
        self._locked("update HA rules failed", update)
        self._reconsider_all()

    async def _rule_delete(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("DELETE", v)
        self._locked("delete ha rule failed", lambda: self.ha.rules.pop(v["rule"], None))

    # -- resources ---------------------------------------------------------------------------------

    def _resource_config(self, resource: HaResource) -> dict[str, Any]:
        options = resource.options()
        if self._pve9:
            options.pop("group", None)  # $exclude_group_property once groups are migrated
        out = {"sid": resource.sid, "type": resource.type, **options, "digest": self.ha.resources_digest()}
        if not self._pve9 and resource.group and resource.group not in self.ha.groups:
            out["errors"] = {"group": f"group '{resource.group}' does not exist"}
        return out

    async def _resource_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._sync()
        return [self._resource_config(r) for r in self.ha.resources.values() if v.get("type") in (None, r.type)]

    async def _resource_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._sync()
        sid = self._sid(v["sid"])[0]
        if sid not in self.ha.resources:
            raise errors.die(f"no such resource '{sid}'")
        return self._resource_config(self.ha.resources[sid])

    def _check_type(self, v: dict[str, Any], kind: str) -> None:
        if v.get("type") and v["type"] != kind:
            raise errors.die("types does not match")

    def _check_not_error(self, sid: str, requested: str | None = None) -> None:
        """check_service_state: a service in 'error' only takes `state=disabled`."""
        svc = self.ha.services.get(sid)
        if svc is not None and svc.state == "error" and requested != "disabled":
            raise errors.die(f"service '{sid}' in error state, must be disabled and fixed first")

    async def _resource_create(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, PVE9_RESOURCE_OPTIONS)
        self.need_quorum()
        self._sync()
        sid, kind, name = self._sid(v["sid"])
        self._check_type(v, kind)
        if self._pve9 and v.get("group") is not None:
            raise errors.die("invalid parameter 'group': ha groups have been migrated to rules")
        try:
            check_guest(kind, name, self._guest_types())
        except HaError as exc:
            raise self._refusal(exc) from exc

        def create() -> None:
            if sid in self.ha.resources:
                raise HaError(f"resource ID '{sid}' already defined")
            resource = HaResource(sid, kind)
            _apply_options(resource, v)
            self.ha.resources[sid] = resource
            guest = self._guest(sid)
            node = guest.node if guest is not None else self.local_node()
            self.ha.add_service(resource, node, guest is not None and guest.status == "running")
        self._locked("create resource failed", create)
        self._elect_master()
        self._mirror(sid)
        self._schedule(self._crm_converge(sid))

    async def _resource_update(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, PVE9_RESOURCE_OPTIONS)
        self._sync()
        sid, kind, _name = self._sid(v["sid"])
        self._check_type(v, kind)
        if v.get("group"):
            if self._pve9:
                raise errors.die("invalid parameter 'group': ha groups have been migrated to rules")
            if v["group"] not in self.ha.groups:
                raise errors.die(f"HA group '{v['group']}' does not exist")
        self._check_not_error(sid, v.get("state"))

        def update() -> None:
            if v.get("digest") and v["digest"] != self.ha.resources_digest():
                raise HaError(MODIFIED)
            resource = self.ha.resources.get(sid)
            if resource is None:
                raise HaError(f"no such resource '{sid}'")
            _apply_options(resource, v)
            allowed = [o for o in RESOURCE_OPTIONS if self._pve9 or o not in PVE9_RESOURCE_OPTIONS]
            for key in split_list(str(v.get("delete") or "")):
                if key not in allowed:
                    raise HaError(f"no such option '{key}'")
                setattr(resource, key.replace("-", "_"), None)
        self._locked("update resources config failed", update)
        self._after_state_change(sid)

    async def _resource_delete(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, ("purge",))
        self._sync()
        sid = self._sid(v["sid"])[0]
        if sid not in self.ha.resources:
            raise errors.die(f"cannot delete service '{sid}', not HA managed!")
        purge = bool(v.get("purge", 1)) and self._pve9
        self._locked("delete resource failed", lambda: self.ha.drop_resource(sid, purge))
        self._mirror(sid)

    async def _resource_migrate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "migrate")

    async def _resource_relocate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "relocate")

    async def _resource_motion(self, v: dict[str, Any], kind: str) -> dict[str, Any] | None:
        sid = self._sid(v["sid"])[0]
        await self.ha_queue_motion(sid, v["node"], kind)
        return {"sid": sid, "requested-node": v["node"]} if self._pve9 else None

    async def ha_queue_motion(self, sid: str, target: str, kind: str) -> None:
        """`ha-manager migrate|relocate`: checks, then a CRM command for its next round."""
        self._sync()
        resource = self.ha.resources.get(sid)
        if resource is None or resource.state == "ignored":
            raise errors.die(f"resource '{sid}' is not HA managed")
        self._check_not_error(sid)
        self._locked(None, lambda: None)  # queue_crm_commands takes the ha domain lock
        self._schedule(self._crm_motion(sid, target, kind))

    # -- status ------------------------------------------------------------------------------------

    async def _ha_status(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._sync()
        vm_nodes = {f"vm:{vm.vmid}": vm.node for vm in self.vms}
        vm_nodes.update((f"ct:{ct.vmid}", ct.node) for ct in getattr(self, "cts", []))
        return status_entries(local_node=self.local_node(), quorate=self.quorate, master=self.ha.master,
                              now=time.time(), nodes=self.nodes, lost=self.ha.lost, services=self.ha.services,
                              resources=self.ha.resources, vm_nodes=vm_nodes, pve_version=self.cluster.spec.pve_version)

    async def _ha_manager_status(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._sync()
        now = int(time.time())
        services = {sid: {k: val for k, val in {"node": s.node, "state": s.state, "running": int(s.running) or None,
                                               "failed_nodes": s.failed_nodes or None, "target": s.target}.items()
                          if val is not None} for sid, s in self.ha.services.items()}
        manager: dict[str, Any] = {}
        if self.ha.master is not None:
            manager = {"master_node": self.ha.master, "timestamp": now, "service_status": services,
                       "node_status": self.ha.node_status(self.nodes)}
        return {"manager_status": manager, "quorum": {"node": self.local_node(), "quorate": int(self.quorate)},
                "lrm_status": {n: {"mode": "active", "timestamp": int(self.ha.lost.get(n, now)),
                                   "state": "active" if any(s.node == n for s in self.ha.services.values())
                                   else "wait_for_agent_lock"} for n in sorted(self.nodes)}}


def _flag(values: dict[str, Any], key: str) -> bool | None:
    return None if values.get(key) is None else bool(int(values[key]))


def _apply_options(resource: HaResource, v: dict[str, Any]) -> None:
    for key in RESOURCE_OPTIONS:
        if key in v:
            value = v[key]
            if key in ("failback", "auto-rebalance"):
                value = _flag(v, key)
            setattr(resource, key.replace("-", "_"), value)


assert set(RULE_OPTIONS) == set(RULE_TYPES)
