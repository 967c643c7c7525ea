"""The lab's PVE API: fakepve's FakePve with stateful Ceph, disk, install, VM and HA handlers on top.

fakepve keeps what it does well (schema validation with PVE's wording, tickets and CSRF, API tokens,
UPID tasks, VM lifecycle, storage.cfg, fault injection); the mixins below replace its generic
answers where real state matters. Ceph state is never invented: it is read from the real daemons.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from fakepve import FakePve
from fakepve.qemu import DRIVE_KEY, drives_of, split_drive, volume_ref
from fakepve.server import API

from lab import errors
from lab.ceph_backend.backend import CephBackend
from lab.ceph_backend.monitors import MonitorCommands
from lab.ceph_backend.osds import OsdCommands
from lab.ceph_backend.pools import PoolCommands
from lab.ceph_backend.rados_client import RadosClient
from lab.ceph_backend.rbd import Rbd
from lab.errors import PveError, TaskError
from lab.ha.config import HaConfig
from lab.ha.manager import HaManager
from lab.ha.state import HaState
from lab.handlers.apt import AptApi
from lab.handlers.base import NODE_IN_PATH
from lab.handlers.ceph_cluster import CephClusterApi
from lab.handlers.ceph_osd import CephOsdApi
from lab.handlers.ceph_pool import CephPoolApi
from lab.handlers.cluster_info import ClusterInfoApi
from lab.handlers.control import LabControlApi
from lab.handlers.ha import HaApi
from lab.handlers.network import NetworkApi
from lab.handlers.node_time import NodeTimeApi
from lab.handlers.qemu_config import QemuConfigApi
from lab.handlers.qemu_disks import QemuDisksApi
from lab.handlers.qemu_migrate import QemuMigrateApi
from lab.handlers.rbd_volumes import RbdVolumesApi
from lab.handlers.releases import ReleasesApi
from lab.handlers.tasks import TaskListApi
from lab.handlers.terminal import TerminalApi
from lab.models.apt import NodeApt
from lab.models.cluster import ClusterState, RequestTime, TaskTimes
from lab.models.daemon_reload import ApiDaemons
from lab.models.disks import VmDisks
from lab.models.guests import LabGuests
from lab.models.locks import ClusterLocks, counting_waits
from lab.models.migration import Migrations
from lab.models.node_install import NodeInstallTarget
from lab.models.nodes import LabNodes
from lab.models.task_warnings import Warned, collecting_warnings, finish_with_warnings
from lab.models.vm_config import VmConfigDrives
from lab.models.volumes import FakepveVolumeTable, RbdVolumes
from lab.pve_formats import normalize_legacy_param_formats
from lab.terminal.service import TerminalService
from lab.tls import certificate_fingerprint
from lab.worker import one_line

# PVE seconds -> real seconds for fakepve's simulated work (VM start, shutdown, HA delays). Ceph work
# is real and takes what it takes.
TIME_SCALE = 0.02
logger = logging.getLogger("lab")


class LabPve(
    LabControlApi,
    ClusterInfoApi,
    HaApi,
    QemuMigrateApi,
    QemuConfigApi,
    QemuDisksApi,
    RbdVolumesApi,
    AptApi,
    TerminalApi,
    ReleasesApi,
    CephClusterApi,
    CephOsdApi,
    CephPoolApi,
    NetworkApi,
    NodeTimeApi,
    TaskListApi,
    FakePve,
):
    def __init__(self, cluster: ClusterState, backend: CephBackend, root_password: str, host: str, port: int) -> None:
        # fakepve's Model: the VMs, nodes, storages (with their volumes), tasks and fault scenarios.
        super().__init__(user="root@pam", password=root_password, host=host, port=port)
        self.time_scale = TIME_SCALE
        spec = cluster.spec
        # GET /version: pve-manager's `version_info` (`version` X.Y.Z, `release` X.Y).
        self.version, self.release_version = spec.release.text, spec.release.minor_text
        self.cluster_name = "lab"
        self.nodes = {node.name: {"online": True} for node in spec.nodes}

        # The lab's own PVE-side state (docs/architecture.md lists who owns what).
        self.cluster = cluster  # the spec, installed Ceph packages, request counts, task times
        self.apt = {node.name: NodeApt(spec.pve_version) for node in spec.nodes}
        self.api_daemons = ApiDaemons(spec.answering_node)  # the reloads pveceph install triggers
        self.ha = HaState()  # groups, rules, resources, and the CRM's view of the services
        self.locks = ClusterLocks()  # the cfs lock on ceph.conf, each node's disk lock

        # Ceph: the real daemons hold its state; these send it PVE's commands.
        self.backend = backend
        self.rados = RadosClient(backend.conf_path)
        self.ceph_mons = MonitorCommands(self.rados)
        self.ceph_osds = OsdCommands(self.rados)
        self.ceph_pools = PoolCommands(self.rados)
        self.rbd = Rbd(backend)

        # Behaviour over that state, shared by the route tables.
        self.volumes = RbdVolumes(self, self.rbd, FakepveVolumeTable(self), self.locks)
        self.disks = VmDisks(self, self.volumes)
        self.vm_drives = VmConfigDrives(self, self.volumes)
        self.migrations = Migrations(self, cluster, self.disks)
        self.guests = LabGuests(self, self.migrations)
        self.ha_config = HaConfig(self.ha, self.guests.nodes)
        self.ha_manager = HaManager(self.ha, self.guests)
        self.terminals = TerminalService(
            answering_node=spec.answering_node,
            release=spec.release,
            node_ip=lambda node: cluster.spec.node(node).ip,  # cluster.spec: nodes added later too
            target_for=lambda node: NodeInstallTarget(node, cluster, self.apt[node], self.api_daemons),
            may_console=lambda authid, path: bool(self.allowed(authid, path, "Sys.Console")),
            time_scale=TIME_SCALE,
        )
        self.hardware = LabNodes(self, cluster, self.apt, backend)  # add-node, fail-disk, replace-disk

        # Request path -> schema path template, for the request counters.
        self._templates: dict[str, str] = {}
        # When each client connection made its first request (the daemons' reload ends old ones).
        self._connections: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    # -- routes and the wire: what fakepve's app gets on top ------------------------------------------

    def _register_stateful(self, router: Any, prefixes: Any) -> None:
        """Routes that answer with something other than PVE's JSON (the terminal's websocket) go first,
        ahead of fakepve's stateful and catch-all routes."""
        for method, template, handler in self._raw_routes_terminal():
            for prefix in prefixes:
                router.add_route(method, prefix + template, handler)
        parent: Any = super()
        parent._register_stateful(router, prefixes)

    def _build_app(self) -> web.Application:
        parent: Any = super()
        app: web.Application = parent._build_app()
        # Right after the control middleware (LabControlApi's, first in the chain): it sees the connection
        # first and the answer last.
        app.middlewares.insert(1, self._pve_wire)
        return app

    @web.middleware
    async def _pve_wire(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        """What PVE's HTTP server does around every call that fakepve's handlers do not model.

        - While `pveceph install`'s `systemctl try-reload-or-restart pvedaemon pveproxy` runs on the
          answering node (or on the node a call is proxied to), new connections wait in the listen
          backlog, and kept-alive ones of the old workers end after their next answer
          (lab/models/daemon_reload.py).
        - Before libpve-http-server-perl 5.2.0 (lab/releases.py `errors_carry_message`), an error's JSON
          body has no `message`: only the reason phrase, PVE's first line, carries it.
        """
        if request.path.startswith("/lab/"):
            return await handler(request)
        arrived = time.time()
        node_match = NODE_IN_PATH.match(request.path)
        node = node_match.group(1) if node_match else None
        try:
            response = await self._on_the_wire(request, handler, node)
        finally:
            seconds = time.time() - arrived
            self.cluster.note_request_time(
                RequestTime(arrived, request.method, self._template_of(request), node, seconds)
            )
        return response

    async def _on_the_wire(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]], node: str | None
    ) -> Any:
        new_connection = request.transport is not None and request.transport not in self._connections
        opened = self._connections.setdefault(request.transport, time.monotonic()) if request.transport else 0.0
        delay = self.api_daemons.accept_delay(node, new_connection)
        if delay > 0:
            await asyncio.sleep(delay)
        response = await handler(request)
        if not isinstance(response, web.Response) or isinstance(response, web.WebSocketResponse):
            return response
        if self.api_daemons.closes_after_answer(opened):
            response.force_close()
        if (
            response.status >= 400
            and not self.cluster.spec.release.errors_carry_message
            and request.path.startswith("/api2/json/")
            and response.content_type == "application/json"
            and response.text
        ):
            body = json.loads(response.text)
            if isinstance(body, dict) and body.pop("message", None) is not None:
                stripped = web.json_response(body, status=response.status, reason=response.reason)
                if response.keep_alive is False:
                    stripped.force_close()
                return stripped
        return response

    # -- fakepve's hooks: each hands the work to the model that owns it ------------------------------

    async def _qm_create(self, v: dict[str, Any], user: str) -> Any:
        """fakepve's qm create, its RBD images made off the event loop (lab/models/volumes.py)."""
        named = [v.get("storage")] + [volume_ref(split_drive(str(x))[0])[0] for k, x in v.items() if DRIVE_KEY.match(k)]
        with self.volumes.scoped(named):
            parent: Any = super()
            return await parent._qm_create(v, user)

    async def _qm_clone(self, v: dict[str, Any], user: str) -> Any:
        """fakepve's qm clone, likewise: the target storage, or those of the source's drives."""
        source = self.vm(int(v["vmid"]))
        configs = [source.config, *source.snapshots.values()] if source is not None else []
        named = [v.get("storage")] + [volume_ref(vol)[0] for conf in configs for _key, vol, _props in drives_of(conf)]
        with self.volumes.scoped(named):
            parent: Any = super()
            return await parent._qm_clone(v, user)

    async def _qm_destroy(self, v: dict[str, Any], user: str) -> Any:
        """fakepve's qm destroy, its RBD images removed off the event loop after the body (lab/models/volumes.py)."""
        with self.volumes.deferring_frees():
            parent: Any = super()
            return await parent._qm_destroy(v, user)

    async def ceph_io(self, vm: Any, keys: Any = None) -> None:
        """fakepve's Ceph scenarios, then the images a qm create or clone body has just reserved."""
        parent: Any = super()
        await parent.ceph_io(vm, keys)
        await self.volumes.make_reserved()

    def _qm_alloc(
        self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None = None
    ) -> tuple[str, str]:
        """fakepve's qm create, clone and cloud-init allocate a volume: on RBD the image is made too."""
        return self.volumes.alloc(sid, vmid, fmt, size, linked_from)

    def _qm_free(self, volid: str) -> None:
        """fakepve's qm destroy frees a volume: on RBD the image goes too."""
        self.volumes.free(volid)

    def _qm_rename_volume(self, volid: str) -> str:
        """fakepve's qm template renames a volume to base-...: on RBD the image is renamed and protected."""
        return self.volumes.rename_to_base(volid)

    async def _ha_request(self, vm: Any, user: str, state: str) -> str:
        """fakepve's start/stop/shutdown of an HA guest: `ha-manager set --state` in a short task; the CRM
        acts later."""
        sid, verb = f"vm:{vm.vmid}", "start" if state == "started" else "stop"

        async def body() -> None:
            self.ha_manager.request_state(sid, state)

        return await self.task(
            vm.node, "ha" + verb, vm.vmid, user, body, lock=False, log=[f"Requesting HA {verb} for VM {vm.vmid}"]
        )

    async def start(self, certfile: str, keyfile: str) -> None:
        """Serve the API; every node's certificate fingerprint is the served certificate's."""
        self.cluster.ssl_fingerprint = certificate_fingerprint(Path(certfile))
        await super().start(certfile, keyfile)

    def ceph_slow(self, secs: float, health: str = "HEALTH_WARN") -> None:
        """fakepve's slow Ceph (its simulated RBD work takes `secs` PVE seconds longer), and the real
        cluster's too once there is one: a fifth of every OSD's messages delayed by `secs` real seconds.
        The delay holds the OSD's dispatch thread, so keep it small (0.05 s makes ops a few times slower;
        0.5 s stalls peering and client calls time out)."""
        parent: Any = super()
        parent.ceph_slow(secs, health)
        if self.backend.initialized():
            self.ceph_osds.slow_dispatch(0.2, secs)

    def ceph_recover(self) -> None:
        was_slow = bool(self.ceph.get("slow"))
        parent: Any = super()
        parent.ceph_recover()
        if was_slow and self.backend.initialized():
            self.ceph_osds.normal_dispatch()

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """fakepve's offline node (595 for its requests), plus what the HA stack does about it."""
        was_online = self.guests.is_online(node)
        parent: Any = super()  # fakepve's Model
        parent.set_node_offline(node, offline)
        self.ha_manager.node_changed(node, was_online)

    async def stop(self) -> None:
        """Stop the API; pending HA manager jobs go with it (they would act on a server that is gone)."""
        self.ha_manager.cancel_jobs()
        self.terminals.shutdown()  # open terminals would hold the server's shutdown for a minute
        await super().stop()

    # -- parameters: PVE's RESTHandler normalises list parameters before it validates --------------

    async def answer(self, request: web.Request, match: Any, params: Any, user: Any, call: Any = None) -> Any:
        """fakepve's schema check and dispatch (generic and `_routes_*` handlers), after PVE's normalisation."""
        info = match.methods.get(request.method) if match is not None else None
        if info is not None:
            params = normalize_legacy_param_formats(params, info.get("parameters"))
        parent: Any = super()
        return await parent.answer(request, match, params, user, call)

    def _verify(self, request: web.Request, values: Any, drop: Any = ()) -> Any:
        """The same for fakepve's hand-written routes (VM config, tasks, ...)."""
        match = self.resolve(request, API)
        info = match.methods.get(request.method) if match is not None else None
        if info is not None:
            values = normalize_legacy_param_formats(values, info.get("parameters"))
        parent: Any = super()
        return parent._verify(request, values, drop)

    # -- permissions ----------------------------------------------------------------------------

    def check_permissions(self, user: Any, perms: Any, values: Any, declared: Any = None) -> None:
        # Methods without a permission rule are for the root@pam *login* only; fakepve lets root's
        # API tokens through, real PVE does not (the token id is the "user" there).
        if perms is None and user is not None and user != "root@pam":
            raise errors.forbidden("user != root@pam")
        super().check_permissions(user, perms, values, declared)

    # -- tasks: keep sub-second start and end times for benchmarks -------------------------------

    async def task(
        self,
        node: str,
        ttype: str,
        tid: Any,
        user: str,
        body: Callable[[], Awaitable[Any]],
        vm: Any = None,
        lock: bool = True,
        log: Any = (),
    ) -> str:
        times = TaskTimes()

        started: dict[str, str] = {}  # the UPID, once fakepve has made it

        async def timed() -> Any:
            times.start = time.time()
            waits = None
            warned: list[Warned] = []
            try:
                with counting_waits() as waits, collecting_warnings() as warned:
                    await self.volumes.begin_scope()  # a qm create or clone: its RBD storages' locks and pools
                    result = await body()
                    await self.volumes.make_reserved()  # none left if the body's ceph_io made them
                    await self.volumes.free_deferred()  # a qm destroy: the RBD images its body freed
                return result
            except TaskError:
                raise
            except PveError as exc:  # a die() inside the worker
                raise TaskError(exc.message) from exc
            except Exception as exc:  # a task is a worker process: any failure ends it, as in PVE
                # pve-common src/PVE/RESTEnvironment.pm fork_worker ends a task with whatever its worker died
                # of; fakepve only ends it on a TaskError, so anything else would leave it running for ever.
                logger.exception("task %s on %s failed", ttype, node)
                raise TaskError(one_line(exc)) from exc
            finally:
                self.volumes.end_scope()
                times.end = time.time()
                times.lock_wait = waits.seconds if waits is not None else 0.0
                if warned:
                    # fakepve ends the record right after the body, without yielding: amend it then.
                    asyncio.get_running_loop().call_soon(self._amend_ended, started, warned)

        parent: Any = super()  # fakepve's Model.task
        upid: str = await parent.task(node, ttype, tid, user, timed, vm=vm, lock=lock, log=log)
        started["upid"] = upid
        self.cluster.task_times[upid] = times  # the same object the body fills in as it runs
        return upid

    def _amend_ended(self, started: dict[str, str], warned: list[Warned]) -> None:
        finish_with_warnings(self.tasks[started["upid"]], warned)

    # -- request counting -----------------------------------------------------------------------

    def _record(self, request: web.Request, body: bytes) -> None:
        if request.path.startswith("/lab/"):
            return
        super()._record(request, body)
        template = self._template_of(request)
        self.cluster.request_counts[(request.method, template)] += 1

    def _template_of(self, request: web.Request) -> str:
        """The schema path template of a request path, cached: matching the schema costs more than the rest."""
        path = request.path
        template = self._templates.get(path)
        if template is None:
            match = self.resolve(request, API)
            template = match.template if match else path
            if len(self._templates) < 10_000:
                self._templates[path] = template
        return template
