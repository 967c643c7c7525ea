"""Lab-only endpoints under /lab/ (outside PVE's /api2): counters, the task log, node failures, faults.

They sit behind the same authentication as the API (ticket or API token), and are what the CLI,
other processes' tests and the benchmarks use; in-process code can call the methods directly.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from lab.ceph_backend.errors import CephBackendError
from lab.handlers.base import NODE_IN_PATH, LabArea
from lab.models.locks import LockTimeout
from lab.models.nodes import NodeChangeError
from lab.spec import Disk

# fakepve's fault switches that other processes may flip: name -> (method, allowed keyword arguments).
FAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "flaky_network": ("flaky_network", ("drop_rate", "hang_rate", "hang_secs", "seed")),
    "slow_network": ("slow_network", ("latency", "jitter", "node")),
    "lose_quorum": ("lose_quorum", ()),
    "regain_quorum": ("regain_quorum", ()),
    "ceph_slow": ("ceph_slow", ("secs", "health")),
    "ceph_down": ("ceph_down", ()),
    "ceph_recover": ("ceph_recover", ()),
    "fail": ("fail", ("method", "suffix", "status", "message", "html", "error", "times")),
}


class LabControlApi(LabArea):
    def _build_app(self) -> web.Application:
        app: web.Application = super()._build_app()  # type: ignore[misc]
        r = app.router
        r.add_get("/lab/requests", self._ctl_requests)
        r.add_post("/lab/requests/reset", self._ctl_requests_reset)
        r.add_get("/lab/requests/times", self._ctl_request_times)
        r.add_get("/lab/tasks", self._ctl_tasks)
        r.add_get("/lab/status", self._ctl_status)
        r.add_post("/lab/nodes/{node}/fail", self._ctl_fail_node)
        r.add_post("/lab/nodes/{node}/recover", self._ctl_recover_node)
        r.add_post("/lab/faults/node_unreachable", self._ctl_node_unreachable)
        r.add_post("/lab/faults/ceph_conf_locked", self._ctl_ceph_conf_locked)
        r.add_post("/lab/nodes/{node}/zap", self._ctl_zap_disk)
        r.add_post("/lab/nodes", self._ctl_add_node)
        r.add_post("/lab/nodes/{node}/disks/{disk}/fail", self._ctl_fail_disk)
        r.add_post("/lab/nodes/{node}/disks/{disk}/replace", self._ctl_replace_disk)
        r.add_post("/lab/faults/{fault}", self._ctl_fault)
        r.add_post("/lab/faults-clear", self._ctl_faults_clear)
        # First in the chain: control requests skip fakepve's middleware, so injected network faults
        # never hit the calls that clear them, and they are not counted as API requests.
        app.middlewares.insert(0, self._ctl_middleware)
        return app

    @web.middleware
    async def _ctl_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith("/") and request.path.startswith("/api2/") and request.path.count("/") > 3:
            return await self._without_trailing_slash(request)
        if not request.path.startswith("/lab/"):
            node = NODE_IN_PATH.match(request.path)
            if node and self.cluster.is_unreachable(node.group(1), time.monotonic()):
                # pveproxy could not reach the node's pvedaemon (pve-http-server
                # src/PVE/APIServer/AnyEvent.pm proxy_request: AnyEvent::HTTP's 595).
                return web.json_response({"data": None, "message": "No route to host"}, status=595)
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        tokenid, _, secret = auth.removeprefix("PVEAPIToken=").partition("=")
        if not auth.startswith("PVEAPIToken=") or self.apitokens.get(tokenid) != secret:
            return web.json_response({"data": None, "message": "authentication failure"}, status=401)
        route_handler = request.match_info.handler
        return await route_handler(request)

    async def _without_trailing_slash(self, request: web.Request) -> web.StreamResponse:
        """PVE's router ignores a trailing slash (bpg POSTs to /cluster/ha/resources/); aiohttp's does not.

        Route the request as if the slash were not there, through the rest of the middleware chain.
        """
        stripped = request.clone(rel_url=request.rel_url.with_path(request.path.rstrip("/")))
        match_info = await request.app.router.resolve(stripped)
        match_info.add_app(request.app)
        stripped._match_info = match_info  # aiohttp sets it the same way
        chained = match_info.handler
        for middleware in reversed(request.app.middlewares[1:]):  # [0] is this one
            chained = functools.partial(middleware, handler=chained)
        response: web.StreamResponse = await chained(stripped)
        return response

    # -- counters and tasks ---------------------------------------------------------------------

    def request_counts(self) -> list[dict[str, Any]]:
        return [{"method": m, "path": p, "count": n} for (m, p), n in sorted(self.cluster.request_counts.items())]

    async def _ctl_requests(self, request: web.Request) -> web.Response:
        counts = self.request_counts()
        return web.json_response({"data": {"counts": counts, "total": sum(c["count"] for c in counts)}})

    async def _ctl_requests_reset(self, request: web.Request) -> web.Response:
        self.cluster.request_counts.clear()
        self.cluster.request_times.clear()
        return web.json_response({"data": None})

    async def _ctl_request_times(self, request: web.Request) -> web.Response:
        rows = [
            {"time": r.when, "method": r.method, "path": r.template, "node": r.node, "seconds": r.seconds}
            for r in self.cluster.request_times
        ]
        return web.json_response({"data": rows})

    def task_records(self) -> list[dict[str, Any]]:
        out = []
        for record in self.tasklog:
            times = self.cluster.task_times.get(record["upid"])
            out.append(
                {k: record.get(k) for k in ("upid", "node", "type", "id", "user", "status", "exitstatus")}
                | {
                    "start": times.start if times else None,
                    "end": times.end if times else None,
                    "lock_wait": times.lock_wait if times else 0.0,
                }
            )
        return out

    async def _ctl_tasks(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self.task_records()})

    async def _ctl_status(self, request: web.Request) -> web.Response:
        daemons = await asyncio.to_thread(self.backend.daemons)
        return web.json_response(
            {
                "data": {
                    "nodes": {
                        n: {"online": s.get("online", True), "ceph_installed": self.cluster.installed.get(n)}
                        for n, s in sorted(self.nodes.items())
                    },
                    "daemons": daemons,
                    "pve_version": self.cluster.spec.pve_version,
                    "pve_release": self.cluster.spec.release.text,
                }
            }
        )

    # -- node failure ---------------------------------------------------------------------------

    async def fail_node(self, node: str) -> None:
        """Power loss: the node's Ceph daemons die, the API answers 595 for it, HA fences and recovers."""
        await asyncio.to_thread(self.backend.fail_node, node)
        self.set_node_offline(node)

    async def recover_node(self, node: str) -> None:
        await asyncio.to_thread(self.backend.recover_node, node)
        self.set_node_offline(node, offline=False)

    async def _ctl_fail_node(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        if node not in self.nodes:
            return web.json_response({"data": None, "message": f"no such node '{node}'"}, status=404)
        await self.fail_node(node)
        return web.json_response({"data": None})

    async def _ctl_recover_node(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        if node not in self.nodes:
            return web.json_response({"data": None, "message": f"no such node '{node}'"}, status=404)
        await self.recover_node(node)
        return web.json_response({"data": None})

    async def _ctl_zap_disk(self, request: web.Request) -> web.Response:
        """What an operator runs on the node, `ceph-volume lvm zap --destroy <disk>`: no PVE API does it."""
        node = request.match_info["node"]
        args = await request.json() if request.can_read_body else {}
        disks = self.cluster.spec.node(node).disks if node in self.nodes else ()
        disk = next((d for d in disks if d.answers_to(str(args.get("disk")))), None)
        if disk is None:
            return web.json_response({"data": None, "message": f"no disk {args.get('disk')!r} on '{node}'"}, status=404)
        try:
            await asyncio.to_thread(self.backend.zap_disk, node, disk)
        except CephBackendError as exc:
            return web.json_response({"data": None, "message": str(exc)}, status=409)
        return web.json_response({"data": None})

    # -- the lab's hardware: a new node, a failed disk, a new disk -------------------------------------

    async def _ctl_add_node(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        try:
            spec = self.hardware.add(str(body.get("name", "")), body.get("disks") or None)
        except NodeChangeError as exc:
            return _bad_request(str(exc))
        node = spec.node(str(body["name"]))
        disks = [_disk_row(d) for d in node.disks]
        return web.json_response({"data": {"name": node.name, "ip": node.ip, "disks": disks}})

    async def _ctl_fail_disk(self, request: web.Request) -> web.Response:
        node, device = request.match_info["node"], request.match_info["disk"]
        try:
            self.hardware.disk(node, device)
            failure = await asyncio.to_thread(self.hardware.fail_disk, node, device)
        except (NodeChangeError, CephBackendError) as exc:
            return _bad_request(str(exc))
        return web.json_response({"data": {"devpath": failure.disk.devpath, "osd_id": failure.osd_id}})

    async def _ctl_replace_disk(self, request: web.Request) -> web.Response:
        node, device = request.match_info["node"], request.match_info["disk"]
        body = await request.json() if request.can_read_body else {}
        try:
            disk = await asyncio.to_thread(self.hardware.replace_disk, node, device, body.get("size") or None)
        except (NodeChangeError, CephBackendError) as exc:
            return _bad_request(str(exc))
        return web.json_response({"data": _disk_row(disk)})

    # -- fakepve's faults, for other processes ---------------------------------------------------

    async def _ctl_fault(self, request: web.Request) -> web.Response:
        name = request.match_info["fault"]
        if name not in FAULTS:
            return web.json_response(
                {"data": None, "message": f"unknown fault '{name}'; known: " + ", ".join(sorted(FAULTS))}, status=400
            )
        method, allowed = FAULTS[name]
        args = await request.json() if request.can_read_body else {}
        unknown = set(args) - set(allowed)
        if unknown:
            takes = ", ".join(allowed) or "nothing"
            return web.json_response(
                {"data": None, "message": f"fault '{name}' takes {takes}; not {', '.join(sorted(unknown))}"}, status=400
            )
        getattr(self, method)(**args)
        return web.json_response({"data": None})

    async def _ctl_node_unreachable(self, request: web.Request) -> web.Response:
        """{"node": N, "secs": S}: every request naming node N gets 595 for S seconds; N keeps running."""
        args = await request.json()
        self.cluster.make_unreachable(str(args["node"]), time.monotonic() + float(args["secs"]))
        return web.json_response({"data": None})

    async def _ctl_ceph_conf_locked(self, request: web.Request) -> web.Response:
        """{"secs": S}: another client holds the cfs lock on ceph.conf for S seconds, from now."""
        args = await request.json()
        try:
            await self.locks.held_by_another(self.locks.ceph_conf, float(args["secs"]))
        except LockTimeout:
            return web.json_response({"data": None, "message": "ceph.conf's lock is held already"}, status=409)
        return web.json_response({"data": None})

    async def _ctl_faults_clear(self, request: web.Request) -> web.Response:
        self.failures.clear()
        self.network.update(latency=0.0, jitter=0.0, node_latency={}, drop_rate=0.0, hang_rate=0.0)
        self.regain_quorum()
        self.ceph_recover()
        self.cluster.unreachable_until.clear()
        return web.json_response({"data": None})


def _bad_request(message: str) -> web.Response:
    return web.json_response({"data": None, "message": message}, status=400)


def _disk_row(disk: Disk) -> dict[str, Any]:
    return {"devpath": disk.devpath, "size": disk.size, "type": disk.type}
