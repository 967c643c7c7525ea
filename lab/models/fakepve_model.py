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

    def need_quorum(self) -> None: ...

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """A node goes offline (its requests get 595) or, with offline=False, comes back."""
        ...

    def regain_quorum(self) -> None: ...

    def ceph_recover(self) -> None:
        """Undo fakepve's ceph_down and ceph_slow scenarios."""
        ...

    def _check_lock(self, vm: FakeVm, allow: tuple[str, ...] = ()) -> None: ...

    def _check_enabled(self, name: str, node: str) -> dict[str, Any]:
        """storage_check_enabled: the storage exists, is enabled, and is configured for the node."""
        ...


def running_task_log(pve: PveModel, holder: dict[str, str]) -> list[str]:
    """The log of the task whose body is running. At time_scale 0 fakepve runs a body before task()
    returns its UPID; the task's record is then the newest one (it is added just before the body runs)."""
    upid = holder.get("upid")
    log_lines: list[str] = pve.tasks[upid]["log"] if upid else pve.tasklog[-1]["log"]
    return log_lines
