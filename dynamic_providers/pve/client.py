"""The PVE client every provider uses: one short method per REST call, named after the operation.

Most calls go out with the API token. The calls PVE allows to root@pam alone (OSD create and
destroy, wipedisk, the install terminal) go out with a root@pam password ticket; without one
they fail before any request, saying which credential to add. (Those endpoints declare no
`permissions`, which PVE grants to root@pam alone, never to a token: pve-manager
PVE/API2/Ceph/OSD.pm, pve-storage src/PVE/API2/Disks.pm, pve-access-control
src/PVE/RPCEnvironment.pm check_api2_permissions.)

Each method takes the call's parameters by name and type, so a misspelt one is a mypy error; an
optional one left None is not sent (PVE's default applies). PVE's own spelling
(`cluster-network`, `mon-address`, ...) is kept here and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from dynamic_providers.errors import MissingCredential, NotFound, PveApiError, PveUnreachable, TaskFailed
from dynamic_providers.notices import notice
from dynamic_providers.pve.credentials import ROOT_USER, Credentials
from dynamic_providers.pve.retry import PROXY_STATUSES, RetryPolicy, is_lock_timeout
from dynamic_providers.pve.tasks import TaskResult, Upid, wait_task
from dynamic_providers.pve.transport import Auth, Transport

T = TypeVar("T")


class PveClient:
    def __init__(
        self,
        creds: Credentials,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._creds = creds
        self._policy = policy or RetryPolicy()
        self.sleep = sleep  # injectable, so tests and waits share one notion of time
        self.clock = clock
        main: Auth = "token" if creds.api_token is not None else "ticket"
        self._api = Transport(creds, main, policy=self._policy, sleep=sleep)
        # A ticket session as root@pam, only opened when a root-only call needs it.
        self._root: Transport | None = self._api if main == "ticket" and creds.has_root_password else None
        self._nodes: list[dict[str, Any]] | None = None

    # -- plumbing --------------------------------------------------------------------------------

    def call(self, method: str, path: str, **params: Any) -> Any:
        return self._api.request(method, path, params)

    def root_call(self, operation: str, method: str, path: str, **params: Any) -> Any:
        return self.require_root(operation).request(method, path, params)

    def require_root(self, operation: str) -> Transport:
        """The root@pam ticket session, or MissingCredential naming what to add."""
        if self._root is None:
            creds = self._creds
            if not creds.has_root_password:
                have = (
                    f"proxmoxve:username is {creds.username!r}"
                    if creds.username and creds.username != ROOT_USER
                    else "only an API token is configured"
                    if creds.api_token
                    else "no root@pam password is set"
                )
                raise MissingCredential(
                    f"{operation} needs a root@pam password ticket, and {have}. PVE lets only root@pam itself make "
                    "this call: an API token, even root@pam's, gets 403 'Permission check failed (user != "
                    "root@pam)'. Add proxmoxve:username=root@pam and proxmoxve:password (pulumi config set --secret "
                    "proxmoxve:password ...), or PROXMOX_VE_USERNAME=root@pam and PROXMOX_VE_PASSWORD; the API "
                    "token stays in use for every other call."
                )
            self._root = Transport(creds, "ticket", policy=self._policy, sleep=self.sleep)
        return self._root

    # -- tasks -----------------------------------------------------------------------------------

    def task_status(self, upid: Upid) -> dict[str, Any]:
        return dict(self.call("GET", f"/nodes/{upid.node}/tasks/{quote(upid.raw, safe='')}/status") or {})

    def task_log(self, upid: Upid, limit: int = 500, start: int = 0) -> list[str]:
        rows = self.call("GET", f"/nodes/{upid.node}/tasks/{quote(upid.raw, safe='')}/log", start=start, limit=limit)
        ordered = sorted(rows or [], key=lambda row: int(row.get("n", 0)))
        return [str(row.get("t", "")) for row in ordered]

    def task_log_from(self, upid: Upid, start: int, limit: int = 50) -> list[str]:
        """The task log's lines after the first `start` (PVE's own paging: read_task_log start/limit)."""
        return self.task_log(upid, limit=limit, start=start)

    def active_tasks(
        self, node: str, task_type: str, *, vmid: int | None = None, as_root: bool = False
    ) -> list[dict[str, Any]]:
        """The node's running tasks of one type (`source=active`: PVE lists finished ones by default).

        A token sees only its own tasks without Sys.Audit on /nodes/{node}; root@pam sees every task
        (pve-manager PVE/API2/Tasks.pm node_tasks), so root-only resources ask as root.
        """
        path = f"/nodes/{node}/tasks"
        params = {"source": "active", "typefilter": task_type, "vmid": vmid, "limit": 100}
        if as_root:
            rows = self.root_call(f"listing the running tasks of {node}", "GET", path, **params)
        else:
            rows = self.call("GET", path, **params)
        return list(rows or [])

    def wait_task(self, upid: str, timeout: float, what: str) -> TaskResult:
        return wait_task(
            Upid.parse(upid),
            status=self.task_status,
            log_lines=self.task_log,
            timeout=timeout,
            what=what,
            sleep=self.sleep,
            clock=self.clock,
            log_from=self.task_log_from,  # live progress (tasks.LogFollower)
        )

    def run_task(self, start: Callable[[], Any], timeout: float, what: str) -> TaskResult:
        """Start a task and wait for it; start again if it failed only because a lock was busy."""
        delays = self._policy.delays()
        while True:
            upid = start()
            try:
                return self.wait_task(upid, timeout, what)
            except TaskFailed as exc:
                delay = next(delays, None) if is_lock_timeout(exc.exitstatus) else None
                if delay is None:
                    raise
                notice(f"retrying {what} after its task found a lock busy ({exc.exitstatus}) in {delay:.1f} s")
                self.sleep(delay)

    # -- cluster ---------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/nodes") or [])

    def first_online(self, candidates: Sequence[str]) -> str:
        """The first of `candidates` PVE reports online: where cluster-wide calls go."""
        up = self.online(candidates)
        if up:
            return up[0]
        status = self._node_status()
        seen = ", ".join(f"{node}={status.get(node, 'not in the cluster')}" for node in candidates)
        raise NotFound(f"none of api_nodes is online ({seen or 'api_nodes is empty'})")

    def online(self, candidates: Sequence[str]) -> list[str]:
        """Those of `candidates` PVE reports online, in their order."""
        status = self._node_status()
        return [node for node in candidates if status.get(node) == "online"]

    def _node_status(self) -> dict[str, str]:
        if self._nodes is None:
            self._nodes = self.nodes()
        return {str(row.get("node")): str(row.get("status", "unknown")) for row in self._nodes}

    def via_any(self, node: str, call: Callable[[str], T]) -> T:
        """call(node) for a cluster-wide read; if that node is unreachable, through another online one.

        Refresh matters most when a node has failed, and the MON, MGR and OSD lists are the same
        from every node.
        """
        try:
            with self._api.without_unreachable_wait():  # another node answers now: no waiting for this one
                return call(node)
        except (PveUnreachable, PveApiError) as exc:
            if isinstance(exc, PveApiError) and exc.status not in PROXY_STATUSES:
                raise
            others = [str(n.get("node")) for n in self.nodes() if n.get("node") != node]
            if not others:
                raise
            return call(self.first_online(others))

    def cluster_resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        return list(self.call("GET", "/cluster/resources", type=kind) or [])

    # -- ceph: install, init, status ------------------------------------------------------------

    def termproxy(self, node: str, cmd: str, cmd_opts: str) -> dict[str, Any]:
        """Open the node's terminal (pve-manager PVE/API2/Nodes.pm termproxy): `cmd-opts` split on NUL only."""
        return dict(
            self.root_call(
                "installing Ceph through the node's terminal (termproxy)",
                "POST",
                f"/nodes/{node}/termproxy",
                cmd=cmd,
                **{"cmd-opts": cmd_opts},
            )
            or {}
        )

    def root_ticket(self, operation: str) -> tuple[str, str]:
        """(user, ticket) of the root@pam ticket session: the terminal's websocket is authenticated with it."""
        return self.require_root(operation).login_ticket()

    @property
    def endpoint(self) -> str:
        return self._creds.endpoint

    @property
    def verify(self) -> bool | str:
        return self._creds.verify

    def node_version(self, node: str) -> dict[str, Any]:
        """GET /nodes/{node}/version (every user; proxied to the node): its `version` X.Y.Z and `release` X.Y."""
        return dict(self.call("GET", f"/nodes/{node}/version") or {})

    def ceph_releases(self, node: str) -> list[dict[str, Any]]:
        """GET /nodes/{node}/ceph/releases (PVE 9.2.7+): what `pveceph install` offers on that node."""
        return list(self.call("GET", f"/nodes/{node}/ceph/releases") or [])

    def apt_versions(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/nodes/{node}/apt/versions") or [])

    def ceph_cfg_raw(self, node: str) -> str:
        return str(self.call("GET", f"/nodes/{node}/ceph/cfg/raw") or "")

    def ceph_init(
        self,
        node: str,
        *,
        network: str,
        cluster_network: str | None = None,
        size: int | None = None,
        min_size: int | None = None,
        pg_bits: int | None = None,
    ) -> None:
        self.call(
            "POST",
            f"/nodes/{node}/ceph/init",
            network=network,
            **{"cluster-network": cluster_network},
            size=size,
            min_size=min_size,
            pg_bits=pg_bits,
        )

    def ceph_status(self, node: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/nodes/{node}/ceph/status") or {})

    def ceph_config_values(self, node: str, config_keys: str) -> dict[str, dict[str, str]]:
        """{section: {key: value}} from ceph.conf and the MON config DB, keys with hyphens (PVE 8.1+,
        pve-manager PVE/API2/Ceph/Cfg.pm `value`; before 9.1.18 a section brings all its DB keys)."""
        data = self.call("GET", f"/nodes/{node}/ceph/cfg/value", **{"config-keys": config_keys}) or {}
        return {str(section): dict(keys or {}) for section, keys in dict(data).items()}

    def node_time(self, node: str) -> float:
        """The node's clock, seconds since the epoch (PVE/API2/Nodes.pm `time`, needs Sys.Audit there)."""
        return float((self.call("GET", f"/nodes/{node}/time") or {})["time"])

    def cmd_safety(self, node: str, service: str, service_id: str, action: str) -> tuple[bool, str]:
        """Ceph's ok-to-stop / safe-to-destroy / ok-to-rm, as (safe, Ceph's explanation)."""
        data = self.call("GET", f"/nodes/{node}/ceph/cmd-safety", service=service, id=service_id, action=action)
        data = data or {}
        return bool(data.get("safe") in (True, 1, "1")), str(data.get("status") or "")

    def service_stop(self, node: str, service: str) -> str:
        return str(self.call("POST", f"/nodes/{node}/ceph/stop", service=service))

    def service_restart(self, node: str, service: str) -> str:
        """`systemctl restart ceph-<type>@<id>` on the node (PVE/API2/Ceph.pm restart); a task."""
        return str(self.call("POST", f"/nodes/{node}/ceph/restart", service=service))

    def ceph_flag(self, flag: str) -> bool:
        """Whether a cluster-wide OSD flag (noout, ...) is set (PVE/API2/Cluster/Ceph.pm get_flag)."""
        return bool(self.call("GET", f"/cluster/ceph/flags/{flag}") in (True, 1, "1"))

    def set_ceph_flag(self, flag: str, value: bool) -> None:
        """`ceph osd set|unset <flag>`, synchronously (PVE/API2/Cluster/Ceph.pm update_flag)."""
        self.call("PUT", f"/cluster/ceph/flags/{flag}", value=value)

    def network_interfaces(self, node: str) -> list[dict[str, Any]]:
        """The node's /etc/network/interfaces as PVE lists it (PVE/API2/Network.pm index)."""
        return list(self.call("GET", f"/nodes/{node}/network") or [])

    # -- monitors and managers -------------------------------------------------------------------

    def mon_list(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/nodes/{node}/ceph/mon") or [])

    def mon_create(self, node: str, mon_id: str, address: str | None) -> str:
        return str(self.call("POST", f"/nodes/{node}/ceph/mon/{mon_id}", **{"mon-address": address}))

    def mon_destroy(self, node: str, mon_id: str) -> str:
        return str(self.call("DELETE", f"/nodes/{node}/ceph/mon/{mon_id}"))

    def mgr_list(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/nodes/{node}/ceph/mgr") or [])

    def mgr_create(self, node: str, mgr_id: str) -> str:
        return str(self.call("POST", f"/nodes/{node}/ceph/mgr/{mgr_id}"))

    def mgr_destroy(self, node: str, mgr_id: str) -> str:
        return str(self.call("DELETE", f"/nodes/{node}/ceph/mgr/{mgr_id}"))

    # -- OSDs and disks --------------------------------------------------------------------------

    def osd_tree(self, node: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/nodes/{node}/ceph/osd") or {})

    def osd_metadata(self, node: str, osd_id: int) -> dict[str, Any] | None:
        """The OSD's details through its node, or None where PVE says it is not on that node
        ("OSD 'N' does not exists on host 'X'": pve-manager PVE/API2/Ceph/OSD.pm, osddetails)."""
        try:
            return dict(self.call("GET", f"/nodes/{node}/ceph/osd/{osd_id}/metadata") or {})
        except PveApiError as exc:
            if "does not exist" in exc.message:
                return None
            raise

    def osd_in(self, node: str, osd_id: int) -> None:
        self.call("POST", f"/nodes/{node}/ceph/osd/{osd_id}/in")

    def osd_out(self, node: str, osd_id: int) -> None:
        self.call("POST", f"/nodes/{node}/ceph/osd/{osd_id}/out")

    def osd_create(
        self,
        node: str,
        *,
        dev: str,
        db_dev: str | None = None,
        wal_dev: str | None = None,
        encrypted: bool | None = None,
        crush_device_class: str | None = None,
    ) -> str:
        return str(
            self.root_call(
                f"creating an OSD on {node}",
                "POST",
                f"/nodes/{node}/ceph/osd",
                dev=dev,
                db_dev=db_dev,
                wal_dev=wal_dev,
                encrypted=encrypted,
                **{"crush-device-class": crush_device_class},
            )
        )

    def osd_destroy(self, node: str, osd_id: int, cleanup: bool = True) -> str:
        return str(
            self.root_call(
                f"destroying osd.{osd_id} on {node}", "DELETE", f"/nodes/{node}/ceph/osd/{osd_id}", cleanup=cleanup
            )
        )

    def disks_list(self, node: str) -> list[dict[str, Any]]:
        """skipsmart: PVE would run smartctl on every disk for a health value nobody here reads."""
        return list(self.call("GET", f"/nodes/{node}/disks/list", skipsmart=True) or [])

    def wipe_disk(self, node: str, disk: str) -> str:
        return str(self.root_call(f"wiping {disk} on {node}", "PUT", f"/nodes/{node}/disks/wipedisk", disk=disk))

    # -- pools -----------------------------------------------------------------------------------

    def pool_list(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/nodes/{node}/ceph/pool") or [])

    def pool_status(self, node: str, name: str, verbose: bool = False) -> dict[str, Any]:
        return dict(self.call("GET", f"/nodes/{node}/ceph/pool/{name}/status", verbose=verbose) or {})

    def pool_create(
        self,
        node: str,
        *,
        name: str,
        size: int | None = None,
        min_size: int | None = None,
        pg_num: int | None = None,
        pg_autoscale_mode: str | None = None,
        application: str | None = None,
        crush_rule: str | None = None,
        target_size_ratio: float | None = None,
        add_storages: bool | None = None,
    ) -> str:
        return str(
            self.call(
                "POST",
                f"/nodes/{node}/ceph/pool",
                name=name,
                size=size,
                min_size=min_size,
                pg_num=pg_num,
                pg_autoscale_mode=pg_autoscale_mode,
                application=application,
                crush_rule=crush_rule,
                target_size_ratio=target_size_ratio,
                add_storages=add_storages,
            )
        )

    def pool_set(
        self,
        node: str,
        name: str,
        *,
        size: int | None = None,
        min_size: int | None = None,
        pg_num: int | None = None,
        pg_autoscale_mode: str | None = None,
        crush_rule: str | None = None,
        target_size_ratio: float | None = None,
    ) -> str:
        """Only what is given changes (None is not sent)."""
        return str(
            self.call(
                "PUT",
                f"/nodes/{node}/ceph/pool/{name}",
                size=size,
                min_size=min_size,
                pg_num=pg_num,
                pg_autoscale_mode=pg_autoscale_mode,
                crush_rule=crush_rule,
                target_size_ratio=target_size_ratio,
            )
        )

    def pool_destroy(self, node: str, name: str, force: bool = False) -> str:
        return str(self.call("DELETE", f"/nodes/{node}/ceph/pool/{name}", force=force, remove_storages=False))

    # -- storage ---------------------------------------------------------------------------------

    def storage_list(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/storage") or [])

    def storage_create(
        self,
        *,
        storage: str,
        type: str,
        pool: str | None = None,
        content: str | None = None,
        krbd: bool | None = None,
        nodes: str | None = None,
    ) -> None:
        self.call("POST", "/storage", storage=storage, type=type, pool=pool, content=content, krbd=krbd, nodes=nodes)

    def storage_update(
        self,
        storage: str,
        *,
        content: str | None = None,
        krbd: bool | None = None,
        nodes: str | None = None,
        delete: str | None = None,
    ) -> None:
        """Only what is given changes; `delete` names options to unset (PVE's comma list)."""
        self.call("PUT", f"/storage/{storage}", content=content, krbd=krbd, nodes=nodes, delete=delete)

    def storage_delete(self, storage: str) -> None:
        self.call("DELETE", f"/storage/{storage}")

    def storage_content(self, node: str, storage: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/nodes/{node}/storage/{storage}/content") or [])

    # -- VMs -------------------------------------------------------------------------------------

    def vm_config(self, node: str, vmid: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/nodes/{node}/qemu/{vmid}/config") or {})

    def ha_migrate(self, sid: str, node: str) -> None:
        """Ask HA to live-migrate a service (pve-ha-manager src/PVE/API2/HA/Resources.pm migrate); the CRM does it."""
        self.call("POST", f"/cluster/ha/resources/{sid}/migrate", node=node)

    def move_disk(self, node: str, vmid: int, *, disk: str, storage: str, delete: bool | None = None) -> str:
        return str(self.call("POST", f"/nodes/{node}/qemu/{vmid}/move_disk", disk=disk, storage=storage, delete=delete))
