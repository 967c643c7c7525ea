"""Ceph init, status, MONs, MGRs, services, safety checks and OSD flags (PVE/API2/Ceph.pm, Ceph/MON.pm,
Ceph/MGR.pm, Ceph/Cfg.pm, Cluster/Ceph.pm)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from lab import errors
from lab.ceph_backend import conf
from lab.ceph_backend.addresses import NoAddressInNetwork
from lab.ceph_backend.monitors import SAFETY_COMMANDS
from lab.ceph_backend.rados_client import RadosError
from lab.errors import TaskError
from lab.handlers.base import CEPH_BIN, CEPH_MGR_BIN, CEPH_MON_BIN, LabArea, Route
from lab.models.ceph_config import config_values
from lab.models.logfile import LogLine, dump_logfile
from lab.models.mon_list import MonService, mon_list
from lab.worker import in_thread

logger = logging.getLogger("lab")


class CephClusterApi(LabArea):
    def _routes_ceph_cluster(self) -> list[Route]:
        n = "/nodes/{node}/ceph"
        return [
            ("POST", n + "/init", self._ceph_init),
            ("GET", n + "/status", self._ceph_node_status),
            ("GET", n + "/cfg/raw", self._ceph_cfg_raw),
            ("GET", n + "/cfg/value", self._ceph_cfg_value),
            ("GET", n + "/log", self._ceph_log),
            ("GET", n + "/mon", self._mon_list),
            ("POST", n + "/mon/{monid}", self._mon_create),
            ("DELETE", n + "/mon/{monid}", self._mon_destroy),
            ("GET", n + "/mgr", self._mgr_list),
            ("POST", n + "/mgr/{id}", self._mgr_create),
            ("DELETE", n + "/mgr/{id}", self._mgr_destroy),
            ("GET", n + "/cmd-safety", self._cmd_safety),
            ("GET", n + "/rules", self._rules),
            ("POST", n + "/start", self._service_start),
            ("POST", n + "/stop", self._service_stop),
            ("POST", n + "/restart", self._service_restart),
            ("GET", "/cluster/ceph/flags/{flag}", self._flag_get),
            ("PUT", "/cluster/ceph/flags/{flag}", self._flag_update),
        ]

    # -- init ---------------------------------------------------------------------------------

    async def _ceph_init(self, v: dict[str, Any], user: str) -> None:
        node = v["node"]
        self.need_installed(node, CEPH_BIN)
        self.need_quorum()
        lock = self.locks.ceph_conf

        async def body() -> None:
            await asyncio.to_thread(
                self.backend.init,
                str(v.get("network") or ""),
                v.get("cluster-network"),
                int(v.get("size", 3)),
                int(v.get("min_size", 2)),
            )

        try:
            await lock.run(body, errors.cfs_lock_timeout("file-ceph_conf"))
        except TaskError as exc:  # init is synchronous: a lock timeout is an HTTP error here
            raise errors.die(str(exc)) from exc
        return None

    async def _ceph_cfg_raw(self, v: dict[str, Any], user: str) -> str:
        self.need_inited(v["node"])
        return self.backend.raw_conf()

    async def _ceph_log(self, v: dict[str, Any], user: str) -> list[LogLine]:
        """pve-manager PVE/API2/Ceph.pm `log`: the node's /var/log/ceph/ceph.log, paged (lab/models/logfile.py).

        Each MON writes the cluster log to its own node's file: a node that never had a MON answers
        as PVE does there, with the open error.
        """
        node = v["node"]
        self.need_inited(node)
        path = self.backend.cluster_log(node)
        start, limit = (None if v.get(key) is None else int(v[key]) for key in ("start", "limit"))
        _total, lines = await asyncio.to_thread(dump_logfile, path, start, limit)
        return lines

    async def _ceph_cfg_value(self, v: dict[str, Any], user: str) -> dict[str, dict[str, str]]:
        """pve-manager PVE/API2/Ceph/Cfg.pm `value`: lab/models/ceph_config.py."""
        self.need_inited(v["node"])
        return config_values(
            str(v.get("config-keys") or ""),
            await self.ceph_command(self.ceph_mons.config_dump),
            self.backend.config(),
            db_filtered_by_key=self.cluster.spec.release.cfg_value_filters_db_keys,
        )

    # -- status -------------------------------------------------------------------------------

    async def ceph_status_document(self, node: str) -> dict[str, Any]:
        """`ceph status` with health from `health detail`, monmap and mgrmap, as PVE::Ceph::Tools builds it."""
        self.need_inited(node)
        if not self.backend.config().get("global", {}).get("mon_host"):
            raise errors.die("rados_connect failed - No such file or directory")
        status = await self.ceph_command(self.ceph_mons.status)
        status["health"] = await self.ceph_command(self.ceph_mons.health_detail)
        status["monmap"] = await self.ceph_command(self.ceph_mons.mon_dump)
        mgrmap = await self.ceph_command(self.ceph_mons.mgr_dump)
        # The module catalogue (hundreds of KB of option schemas) is left out: nothing reads it.
        mgrmap.pop("available_modules", None)
        status["mgrmap"] = mgrmap
        return status

    async def _ceph_status(self, request: Any) -> Any:  # overrides fakepve's canned GET /cluster/ceph/status
        from fakepve.server import ok

        return ok(await self.ceph_status_document(self.local_node()))

    async def _ceph_node_status(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        return await self.ceph_status_document(v["node"])

    # -- MON ----------------------------------------------------------------------------------

    def _daemon_nodes(self, kind: str) -> dict[str, str]:
        return {d["id"]: d["node"] for d in self.backend.daemons() if d["kind"] == kind}

    async def _mon_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.need_inited(v["node"])
        services = [MonService(d["id"], d["node"], enabled=True) for d in self.backend.daemons() if d["kind"] == "mon"]
        sections = self.backend.config()
        try:
            metadata = await asyncio.to_thread(self.ceph_mons.mon_metadata)
            quorum = await asyncio.to_thread(self.ceph_mons.quorum_status)
        except RadosError:  # PVE reads RADOS inside an eval here: no cluster yet is not an error
            return mon_list(services, sections, None, None)
        return mon_list(services, sections, metadata, quorum)

    def _mon_ip(self, node: str, requested: str | None) -> str:
        """PVE/API2/Ceph/MON.pm get_mon_ips: the node's addresses inside public_network (its public one)."""
        addresses = self.cluster.spec.node(node).addresses
        public = self.backend.config().get("global", {}).get("public_network")
        allowed = [
            ip
            for ip in addresses
            if not public or ipaddress.ip_address(ip) in ipaddress.ip_network(public, strict=False)
        ]
        if requested:
            ips = [ip.strip() for ip in requested.replace(";", ",").split(",") if ip.strip()]
            for ip in ips:
                if ip not in (allowed if public else addresses):
                    raise errors.mon_ip_not_local(ip, node)
            return ips[0]
        if not public:
            return addresses[0]  # PVE::Cluster::remote_node_ip: the node's address in the PVE cluster
        if not allowed:
            raise errors.mon_no_ip(public, node)
        return allowed[0]

    async def _mon_create(self, v: dict[str, Any], user: str) -> str:
        node, mon_id = v["node"], v.get("monid") or v["node"]
        self.need_installed(node, CEPH_MON_BIN)
        self.need_inited(node)
        mons = self._daemon_nodes("mon")
        first = not mons and not self.backend.config().get("global", {}).get("mon_host")
        if not first:
            try:
                await asyncio.to_thread(self.ceph_mons.quorum_names)
            except RadosError as exc:
                raise errors.mon_no_cluster() from exc
        ip = self._mon_ip(node, v.get("mon-address"))
        if ip in conf.mon_host_ips(self.backend.config().get("global", {}).get("mon_host")):
            raise errors.mon_address_in_use(ip)
        if mon_id in mons:
            raise errors.mon_exists(mon_id)

        async def build() -> None:
            # PVE decides "first monitor" before taking the lock; two parallel first creates split the
            # cluster there. The lab refuses instead of building a second monmap.
            if first and self._daemon_nodes("mon"):
                raise TaskError(
                    "lab: another first monitor was created concurrently; PVE would now have two "
                    "separate clusters - create MONs one after another"
                )
            if mon_id in self._daemon_nodes("mon"):
                raise TaskError(f"monitor '{mon_id}' already exists")
            await in_thread(self.backend.create_mon, mon_id, node, ip)

        async def body() -> None:
            await self.locks.ceph_conf.run(build, errors.cfs_lock_timeout("file-ceph_conf"))
            if first:
                # After the lock: a separate MGR task the MON task does not wait for (pve-manager
                # PVE/API2/Ceph/MON.pm createmon calls PVE::API2::Ceph::MGR->createmgr, which forks its worker).
                await self._start_mgr_task(node, node, user)

        return await self.task(node, "cephcreatemon", f"mon.{mon_id}", user, body, lock=False)

    async def _mon_destroy(self, v: dict[str, Any], user: str) -> str:
        node, mon_id = v["node"], v["monid"]
        self.need_inited(node)
        names = await self.ceph_command(self.ceph_mons.mon_names)
        placed = self._daemon_nodes("mon")
        if mon_id not in names and mon_id not in placed:
            raise errors.no_such_mon(mon_id)
        if placed.get(mon_id) != node:
            raise errors.mon_not_local(mon_id)
        if len(names) <= 1:
            raise errors.last_mon()

        async def body() -> None:
            async def remove() -> None:
                await in_thread(self.backend.destroy_mon, mon_id)

            await self.locks.ceph_conf.run(remove, errors.cfs_lock_timeout("file-ceph_conf"))

        return await self.task(node, "cephdestroymon", f"mon.{mon_id}", user, body, lock=False)

    # -- MGR ----------------------------------------------------------------------------------

    async def _mgr_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.need_inited(v["node"])
        mgrmap = await self.ceph_command(self.ceph_mons.mgr_dump)
        placed = {d["id"]: d for d in self.backend.daemons() if d["kind"] == "mgr"}
        states = {}
        if mgrmap.get("active_name"):
            states[mgrmap["active_name"]] = ("active", mgrmap.get("active_addr", ""))
        for standby in mgrmap.get("standbys", []):
            states[standby["name"]] = ("standby", "")
        out = []
        for mgr_id in sorted(set(placed) | set(states)):
            state, addr = states.get(mgr_id, ("stopped" if placed.get(mgr_id) else "unknown", ""))
            daemon = placed.get(mgr_id, {})
            out.append(
                {
                    "name": mgr_id,
                    "host": daemon.get("node", ""),
                    "state": state,
                    "addr": addr.split("/")[0],
                    "service": 1 if daemon else 0,
                    "direxists": 1 if daemon else 0,
                }
            )
        return out

    async def _start_mgr_task(self, node: str, mgr_id: str, user: str) -> str:
        async def body() -> None:
            if mgr_id in self._daemon_nodes("mgr"):
                raise errors.mgr_dir_exists(mgr_id)
            await in_thread(self.backend.create_mgr, mgr_id, node)

        return await self.task(node, "cephcreatemgr", f"mgr.{mgr_id}", user, body, lock=False)

    async def _mgr_create(self, v: dict[str, Any], user: str) -> str:
        node, mgr_id = v["node"], v.get("id") or v["node"]
        self.need_installed(node, CEPH_MGR_BIN)
        self.need_inited(node)
        return await self._start_mgr_task(node, mgr_id, user)

    async def _mgr_destroy(self, v: dict[str, Any], user: str) -> str:
        node, mgr_id = v["node"], v["id"]
        self.need_inited(node)

        async def body() -> None:
            # PVE only finds the directory on the node that hosts the MGR.
            if self._daemon_nodes("mgr").get(mgr_id) != node:
                raise errors.mgr_dir_missing(mgr_id)
            await in_thread(self.backend.destroy_mgr, mgr_id)

        return await self.task(node, "cephdestroymgr", f"mgr.{mgr_id}", user, body, lock=False)

    # -- safety and rules ---------------------------------------------------------------------

    async def _cmd_safety(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.need_inited(v["node"])
        service, action, ident = v["service"], v["action"], str(v["id"])
        if (service, action) not in SAFETY_COMMANDS:
            raise errors.die(f"Service does not support this action: {service}: {action}")
        try:
            await asyncio.to_thread(self.ceph_mons.safety_check, service, action, ident)
        except RadosError as exc:
            if exc.code in (0, 110) and "timed out" in exc.message:
                raise errors.die(exc.message) from exc
            return {"safe": False, "status": exc.message.split("mon_cmd failed - ", 1)[-1].strip()}
        return {"safe": True}

    async def _rules(self, v: dict[str, Any], user: str) -> list[dict[str, str]]:
        self.need_configured(v["node"])
        return [{"name": name} for name in await self.ceph_command(self.ceph_mons.crush_rule_names)]

    # -- services (systemctl start/stop ceph-<type>@<id>) -------------------------------------

    async def _service_action(self, v: dict[str, Any], user: str, action: str) -> str:
        node = v["node"]
        self.need_inited(node)
        service = v.get("service") or "ceph.target"
        kind, _, ident = service.partition(".")

        async def body() -> None:
            daemons = [
                d
                for d in self.backend.daemons()
                if d["node"] == node
                and (kind in ("ceph", "ceph.target") or (d["kind"] == kind and (not ident or d["id"] == ident)))
            ]
            if not daemons:
                raise TaskError(f"unable to find local service {service}")
            for d in daemons:
                if d["kind"] != "osd":
                    raise TaskError(f"lab: only OSD services can be stopped and started, not {d['kind']}.{d['id']}")
                if action in ("stop", "restart"):
                    await in_thread(self.backend.stop_osd, int(d["id"]))
                if action in ("start", "restart"):
                    try:
                        await in_thread(self.backend.start_osd, int(d["id"]))
                    except TaskError as exc:
                        if not isinstance(exc.__cause__, NoAddressInNetwork):
                            raise
                        # ceph-osd@.service has no Type= (simple): `systemctl start|restart` returns once
                        # the process is forked, so PVE's task ends OK although the OSD exits at once;
                        # it stays down, and its log says why.
                        logger.info("%s: %s", d["id"], exc)

        return await self.task(node, "srv" + action, service, user, body, lock=False)

    async def _service_start(self, v: dict[str, Any], user: str) -> str:
        return await self._service_action(v, user, "start")

    async def _service_stop(self, v: dict[str, Any], user: str) -> str:
        return await self._service_action(v, user, "stop")

    async def _service_restart(self, v: dict[str, Any], user: str) -> str:
        return await self._service_action(v, user, "restart")

    # -- OSD flags (PVE/API2/Cluster/Ceph.pm get_flag, update_flag) ------------------------------

    @staticmethod
    def _real_flag_name(flag: str) -> str:
        """PVE::Ceph::Tools::get_real_flag_name: `pause` sets pauserd and pausewr, and is read as pauserd."""
        return {"pause": "pauserd"}.get(flag, flag)

    async def _flag_get(self, v: dict[str, Any], user: str) -> int:
        self.need_configured(self.local_node())
        return 1 if self._real_flag_name(v["flag"]) in await self.ceph_command(self.ceph_osds.flags) else 0

    async def _flag_update(self, v: dict[str, Any], user: str) -> None:
        """Synchronous: `ceph osd set|unset <flag>` (the bulk PUT /cluster/ceph/flags is the task)."""
        self.need_configured(self.local_node())
        value = v["value"] in (True, 1, "1", "true")
        await self.ceph_command(self.ceph_osds.set_flag, v["flag"], value)
        return None
