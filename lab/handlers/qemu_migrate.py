"""VM migration (qemu-server src/PVE/API2/Qemu.pm migrate_vm_precondition and migrate_vm).

fakepve answers these endpoints generically (a UPID, nothing changes); here the API's checks run, then
the migration model's `qmigrate` task moves the VM, or, for an HA-managed VM, the HA manager is asked to.
"""

from __future__ import annotations

from typing import Any

from lab import errors
from lab.errors import TaskError
from lab.ha.state import HaError
from lab.handlers.base import LabArea, Route
from lab.models.migration import local_resources

ROOT_ONLY_MIGRATE = ("force", "migration_type", "migration_network")
NOT_IN_PVE8_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"


class QemuMigrateApi(LabArea):
    def _routes_qemu_migrate(self) -> list[Route]:
        one = "/nodes/{node}/qemu/{vmid}"
        return [
            ("GET", one + "/migrate", self._qm_migrate_check),
            ("POST", one + "/migrate", self._qm_migrate),
        ]

    async def _qm_migrate_check(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.need_quorum()
        vm = self.find(v["node"], v["vmid"])
        self._check_lock(vm)
        allowed, not_allowed = self.migrations.allowed_nodes(vm)
        answer: dict[str, Any] = {
            "running": int(vm.status == "running"),
            "allowed_nodes": allowed,
            "not_allowed_nodes": not_allowed,
            "local_disks": self.migrations.local_disks(vm),
            "local_resources": local_resources(vm.config),
            "mapped-resources": [],
            "mapped-resource-info": {},
        }
        if self.cluster.spec.pve_version >= 9:
            answer["has-dbus-vmstate"] = 1
            if vm.ha_state is not None:
                answer["dependent-ha-resources"] = []  # resource-affinity is not modelled
        return answer

    async def _qm_migrate(self, v: dict[str, Any], user: str) -> str:
        node, target = v["node"], v["target"]
        if target == node:
            raise errors.param(target="target is local node.")
        self.need_quorum()
        if target not in self.nodes:
            raise errors.die(f"no such cluster node '{target}'")
        if self.cluster.spec.pve_version < 9 and "with-conntrack-state" in v:
            raise errors.param(**{"with-conntrack-state": NOT_IN_PVE8_SCHEMA})
        for opt in ROOT_ONLY_MIGRATE:
            if v.get(opt) and user != "root@pam":
                raise errors.param(**{opt: "Only root may use this option."})
        vm = self.find(node, v["vmid"])
        self._check_lock(vm)
        running = vm.status == "running"
        if running and not v.get("online"):
            raise errors.die("can't migrate running VM without --online")
        storagemap = (
            self.migrations.storage_map(str(v["targetstorage"]), target, user) if v.get("targetstorage") else None
        )
        if storagemap is None or storagemap.get("1"):
            self.migrations.check_storages(vm, node, target)
        notes = ["VM isn't running. Doing offline migration instead."] if v.get("online") and not running else []
        if vm.ha_state is not None:
            return await self._ha_migrate_task(vm, target, user)
        return await self.migrations.migrate(
            vm,
            target,
            user,
            online=running,
            with_local_disks=bool(v.get("with-local-disks")),
            storagemap=storagemap,
            log=notes,
        )

    async def _ha_migrate_task(self, vm: Any, target: str, user: str) -> str:
        """An HA-managed VM: the API only asks the CRM (`ha-manager migrate`) in a task that ends at once."""
        sid = f"vm:{vm.vmid}"

        async def body() -> None:
            try:
                self.ha_manager.queue_motion(sid, target, "migrate")
            except HaError as exc:
                raise TaskError(f"command 'ha-manager migrate {sid} {target}' failed: exit code 255") from exc

        return await self.task(
            vm.node,
            "hamigrate",
            vm.vmid,
            user,
            body,
            lock=False,
            log=[f"Requesting HA migration for VM {vm.vmid} to node {target}"],
        )
