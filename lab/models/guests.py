"""The guest operations the HA manager drives (lab/ha/manager.py `GuestOps`), on fakepve's VMs and tasks.

What pve-ha-manager's LRM and resource agent do on a real node (src/PVE/HA/Resources/PVEVM.pm start,
shutdown, migrate; src/PVE/HA/Env/PVE2.pm steal_service): each action is a task run as root@pam on the
guest's node, and the manager waits for its exit status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from lab.errors import TaskError
from lab.ha.state import REMOVABLE_LOCKS
from lab.models.fakepve_model import FakeVm, PveModel
from lab.models.migration import Migrations

# Real seconds between looks at a running task's status.
TASK_POLL = 0.02


class LabGuests:
    """`GuestOps` over fakepve's Model: its VMs, containers and nodes, its tasks and its clock."""

    def __init__(self, pve: PveModel, migrations: Migrations) -> None:
        self.pve = pve
        self.migrations = migrations

    # -- what there is ---------------------------------------------------------------------------------

    def vms(self) -> list[FakeVm]:
        return list(self.pve.vms)

    def vm(self, vmid: int) -> FakeVm | None:
        return self.pve.vm(vmid)

    def guest_types(self) -> dict[int, str]:
        types = {ct.vmid: "lxc" for ct in getattr(self.pve, "cts", [])}
        types.update((vm.vmid, "qemu") for vm in self.pve.vms)
        return types

    def nodes(self) -> list[str]:
        return list(self.pve.nodes)

    def online_nodes(self) -> list[str]:
        return [n for n, s in sorted(self.pve.nodes.items()) if s.get("online", True)]

    def is_online(self, node: str) -> bool:
        return bool(self.pve.nodes.get(node, {}).get("online", True))

    def quorate(self) -> bool:
        return bool(self.pve.quorate)

    # -- the LRM's actions -----------------------------------------------------------------------------

    async def start(self, vm: FakeVm) -> str:
        return await self._run(vm, "qmstart", self._start_body(vm))

    async def stop(self, vm: FakeVm) -> str:
        async def body() -> None:
            await self.pve._powerdown(vm, {"forceStop": "1"})

        return await self._run(vm, "qmshutdown", body)

    async def migrate(self, vm: FakeVm, target: str) -> str:
        # pve-ha-manager src/PVE/HA/Resources/PVEVM.pm migrate calls migrate_vm with `force => 1` and
        # `with-local-disks => 1` (since 2020): an HA migration takes the VM's local disks along.
        online = vm.status == "running"
        upid = await self.migrations.migrate(vm, target, "root@pam", online=online, with_local_disks=True)
        return await self._wait(upid)

    def steal(self, vm: FakeVm, node: str) -> None:
        vm.node, vm.status, vm.qmpstatus, vm.started_at = node, "stopped", "stopped", None
        if vm.lock in REMOVABLE_LOCKS:
            vm.lock = None
            vm.config.pop("lock", None)

    def _start_body(self, vm: FakeVm) -> Callable[[], Awaitable[None]]:
        async def body() -> None:  # fakepve's qmstart body, without the HA detour
            if vm.status == "running":
                return
            if vm.lock and vm.lock != "suspended":
                raise TaskError(f"VM is locked ({vm.lock})")
            await self.pve.ceph_io(vm)
            await self.pve.pause(vm.start_secs)
            if vm.start_error:
                raise TaskError(vm.start_error)
            vm.apply_pending()
            vm.status = vm.qmpstatus = "running"
            vm.started_at = time.time()

        return body

    async def _run(self, vm: FakeVm, kind: str, body: Callable[[], Awaitable[None]]) -> str:
        """A task the LRM runs for a service (as root@pam, on the guest's node); its exit status."""
        return await self._wait(await self.pve.task(vm.node, kind, vm.vmid, "root@pam", body, vm=vm))

    async def _wait(self, upid: str) -> str:
        while self.pve.tasks[upid]["status"] != "stopped":
            await asyncio.sleep(TASK_POLL)
        return str(self.pve.tasks[upid]["exitstatus"])

    # -- the clock -------------------------------------------------------------------------------------

    async def wait_round(self) -> None:
        await self.pve.pause(self.pve.ha_delay)

    def now(self) -> float:
        return time.time()
