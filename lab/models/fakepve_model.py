"""The part of fakepve's Model the lab's models use: the owner of the VMs, nodes, storages and tasks.

fakepve 0.5.0 keeps that state on the server object itself (`FakePve` is a `Model`): `vms` (FakeVm
objects), `nodes`, `storages` (storage.cfg plus each storage's `volumes`), `tasks`/`tasklog`, and the
scenario switches (`quorate`, `ceph`, ...). The lab keeps fakepve as its base, so that state stays
there; the lab's models are handed the server as a `PveModel` and use only what is named here. fakepve
is untyped, so this is also what mypy checks their use against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from fakepve import FakeVm

__all__ = ["FakeVm", "PveModel", "running_task_log"]


class PveModel(Protocol):
    vms: list[FakeVm]
    # node -> {"online": bool}
    nodes: dict[str, dict[str, Any]]
    # storage id -> storage.cfg options, plus fakepve's own keys (volumes, active, ...)
    storages: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    tasklog: list[dict[str, Any]]
    # fakepve's Ceph scenario: health, slow, down
    ceph: dict[str, Any]
    # PVE seconds before the HA manager acts on a request
    ha_delay: float
    # pmxcfs quorum (fakepve's lose_quorum scenario clears it)
    quorate: bool
    # the PVE release /version reports
    version: str
    # 'user@realm!tokenid' -> secret
    apitokens: dict[str, str]
    # fakepve's injected failures and network conditions
    failures: dict[Any, Any]
    network: dict[str, Any]

    async def task(
        self,
        node: str,
        ttype: str,
        tid: Any,
        user: str,
        body: Callable[[], Awaitable[Any]],
        vm: FakeVm | None = None,
        lock: bool = True,
        log: Iterable[str] = (),
    ) -> str:
        """Start a task; its UPID. The body raises TaskError to fail."""
        ...

    async def pause(self, secs: float) -> None:
        """Sleep `secs` PVE seconds (scaled)."""
        ...

    async def ceph_io(self, vm: FakeVm, keys: Any = None) -> None:
        """fakepve's Ceph scenarios (down, slow) applied to an operation on the VM's disks."""
        ...

    async def _powerdown(self, vm: FakeVm, p: dict[str, Any]) -> Any:
        """fakepve's body of a shutdown/stop task."""
        ...

    def vm(self, vmid: int) -> Any:
        """The FakeVm with this id, or None."""
        ...

    def find(self, node: str, vmid: Any) -> FakeVm:
        """The VM on that node, or PVE's 500 for a missing config file."""
        ...

    def require(self, user: str, path: str, priv: str) -> None: ...

    def allowed(self, user: str, path: str, priv: str) -> bool:
        """Does user (or token) hold priv on path (fakepve's ACLs; root@pam holds everything)."""
        ...

    async def answer(self, request: Any, match: Any, params: Any, user: str | None, call: Any = None) -> Any:
        """A request checked against the schema (parameters, permissions), then call(match, values)."""
        ...

    def need_quorum(self) -> None: ...

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """A node goes offline (its requests get 595) or, with offline=False, comes back."""
        ...

    def regain_quorum(self) -> None: ...

    def ceph_recover(self) -> None:
        """Undo fakepve's ceph_down and ceph_slow scenarios."""
        ...

    def _check_lock(self, vm: FakeVm, allow: tuple[str, ...] = ()) -> None: ...

    async def acquire(self, vm: FakeVm, holder: str, wait: float | None = None) -> None:
        """Take the VM's config lock (TaskError after lock_wait PVE seconds)."""
        ...

    def release(self, vm: FakeVm, holder: str) -> None: ...

    def _config_priv(self, key: str) -> str:
        """The privilege a config key needs ('root' for root@pam only)."""
        ...

    def _qm_check_drive(
        self, user: str, vmid: int, pool: str | None, key: str, value: str, default: str | None
    ) -> None:
        """check_storage_access for one drive value: the storage exists, may be allocated on, takes images."""
        ...

    async def _apply_config(self, vm: FakeVm, user: str, values: dict[str, Any]) -> None:
        """fakepve's VM config update (pending for a running VM, digest, lock, permissions)."""
        ...

    def resolve(self, request: Any, prefix: str) -> Any:
        """The schema match of a request path (template, path parameters, methods), or None."""
        ...

    def _verify(self, request: Any, values: Any, drop: Any = ()) -> dict[str, Any]:
        """The values checked against the method's schema (PVE's 400 on errors)."""
        ...

    def _vm(self, request: Any, priv: str | None = None) -> FakeVm:
        """The VM of the request's path (PVE's errors for a bad vmid or a missing VM)."""
        ...

    def _check_enabled(self, name: str, node: str) -> dict[str, Any]:
        """storage_check_enabled: the storage exists, is enabled, and is configured for the node."""
        ...


def running_task_log(pve: PveModel, holder: dict[str, str]) -> list[str]:
    """The log of the task whose body is running. At time_scale 0 fakepve runs a body before task()
    returns its UPID; the task's record is then the newest one (it is added just before the body runs)."""
    upid = holder.get("upid")
    log_lines: list[str] = pve.tasks[upid]["log"] if upid else pve.tasklog[-1]["log"]
    return log_lines
