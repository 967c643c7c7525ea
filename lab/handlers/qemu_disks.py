"""A VM's disks: move_disk and resize (qemu-server src/PVE/API2/Qemu.pm move_vm_disk and resize_vm).

fakepve answers these endpoints generically (a UPID, nothing changes); here the checks run and the disk
model (lab/models/disks.py) moves or grows the disk in the task.
"""

from __future__ import annotations

from typing import Any

from lab import errors
from lab.errors import PveError, TaskError
from lab.handlers.base import LabArea, Route
from lab.models.fakepve_model import running_task_log


class QemuDisksApi(LabArea):
    def _routes_qemu_disks(self) -> list[Route]:
        one = "/nodes/{node}/qemu/{vmid}"
        return [
            ("POST", one + "/move_disk", self._qm_move_disk),
            ("PUT", one + "/resize", self._qm_resize),
        ]

    async def _qm_move_disk(self, v: dict[str, Any], user: str) -> str:
        storage, target_vmid = v.get("storage"), v.get("target-vmid")
        if storage and target_vmid:
            msg = "either set 'storage' or 'target-vmid', but not both"
            raise errors.param(**{"target-vmid": msg, "storage": msg})
        if target_vmid:
            raise PveError(501, "lab: moving a disk to another VM (target-vmid) is not modelled")
        if not storage:
            msg = "both 'storage' and 'target-vmid' missing, either needs to be set"
            raise errors.param(**{"target-vmid": msg, "storage": msg})
        self.require(user, "/storage/" + storage, "Datastore.AllocateSpace")
        vm = self.find(v["node"], v["vmid"])
        disk, fmt, digest, delete = v["disk"], v.get("format"), v.get("digest"), bool(v.get("delete"))
        self.disks.check_move(vm, disk, storage, fmt, digest, delete)
        holder: dict[str, str] = {}

        async def body() -> None:
            await self.disks.move(vm, disk, storage, fmt, digest, delete, running_task_log(self, holder))

        holder["upid"] = await self.task(vm.node, "qmmove", vm.vmid, user, body, vm=vm)
        return holder["upid"]

    async def _qm_resize(self, v: dict[str, Any], user: str) -> str:
        node, vmid = v["node"], int(v["vmid"])
        if v.get("skiplock") and user != "root@pam":
            raise errors.param(skiplock="Only root may use this option.")
        vm = self.vm(vmid)
        if vm is None or vm.node != node:

            async def missing() -> None:
                raise TaskError(f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")

            return await self.task(node, "resize", vmid, user, missing)

        async def body() -> None:
            await self.disks.resize(vm, v["disk"], str(v["size"]), v.get("digest"), bool(v.get("skiplock")), user)

        return await self.task(node, "resize", vmid, user, body, vm=vm)
