"""VM migration (qemu-server src/PVE/API2/Qemu.pm migrate_vm, src/PVE/QemuMigrate.pm): the checks, and the
`qmigrate` task after which the VM lives on its target node.

Shared storages (RBD above all) need nothing moved: the VM's config changes node. Local disks stay in
fakepve's storage table, which has no nodes, or move to the storage `targetstorage` maps them to.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from fakepve.qemu import drives_of, is_cdrom, split_drive, volume_ref

from lab import errors
from lab.errors import TaskError
from lab.models.cluster import ClusterState
from lab.models.disks import UNUSED, VmDisks, drive_size
from lab.models.fakepve_model import FakeVm, PveModel, running_task_log
from lab.models.volumes import is_shared
from lab.pve_formats import split_list

# PVE seconds a migration takes in the lab (fakepve's own migrate() scenario also takes 20).
MIGRATE_SECS = 20
# Storage types QemuMigrate can move a local disk between nodes (QemuMigrate.pm scan_local_volumes).
MIGRATABLE_LOCAL = ("dir", "btrfs", "zfspool", "lvmthin", "lvm")
# Passthrough devices that tie a VM to its node (qemu-server src/PVE/QemuMigrate/Helpers.pm check_local_resources).
LOCAL_DEVICE = re.compile(r"^(hostpci\d+|usb\d+|serial\d+|parallel\d+|virtiofs\d+)$")


def local_resources(config: dict[str, Any]) -> list[str]:
    """Devices that keep a VM on its node: passthrough PCI/USB, serial or parallel ports, virtiofs."""
    found = []
    for key, value in sorted(config.items()):
        if not LOCAL_DEVICE.match(key):
            continue
        text = str(value)
        if key.startswith("usb") and (text.startswith("spice") or "mapping=" in text):
            continue
        if key.startswith("serial") and text == "socket":
            continue
        found.append(key)
    return found


def storage_problems(vm: FakeVm, node: str, storages: dict[str, dict[str, Any]]) -> list[str]:
    """check_local_storage_availability for one node: storages of the VM's drives that are disabled
    there or whose `nodes` leave it out."""
    bad = set()
    for _key, volume, _props in drives_of(vm.config):
        sid = volume_ref(volume)[0]
        store = storages.get(sid or "")
        if store is None:
            continue
        nodes = split_list(str(store.get("nodes") or ""))
        if store.get("disable") or (nodes and node not in nodes):
            bad.add(sid)
    return sorted(s for s in bad if s)


def local_disks(vm: FakeVm, storages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Volumes on storages that are not shared (check_vm_disks_local), with the attributes PVE adds."""
    out: dict[str, dict[str, Any]] = {}
    drives = {k for k, _v, _p in drives_of(vm.config)}
    for key in sorted(vm.config):
        if not (UNUSED.match(key) or key in drives):
            continue
        volume, props = split_drive(vm.config[key])
        sid = volume_ref(volume)[0]
        store = storages.get(sid or "", {})
        if sid is None or is_shared(store) or props.get("shared") == "1":
            continue
        attr = out.setdefault(volume, {"volid": volume, "referenced_in_config": 1})
        attr["drivename"] = key
        if UNUSED.match(key):
            attr["is_unused"] = 1
        if is_cdrom(volume, props):
            attr["cdrom"] = 1
        vol = storages.get(sid, {}).get("volumes", {}).get(volume.split(":", 1)[1], {})
        attr["size"] = int(vol.get("size") or drive_size(props))
    return list(out.values())


def scan_local_volumes(
    vm: FakeVm,
    storages: dict[str, dict[str, Any]],
    online: bool,
    with_local_disks: bool,
    record: list[str],
) -> str | None:
    """QemuMigrate.pm scan_local_volumes: what is wrong with the local disks, or None. Logs as PVE does."""
    attached = {volume for _k, volume, props in drives_of(vm.config) if not is_cdrom(volume, props)}
    abort = False
    for disk in local_disks(vm, storages):
        volid = disk["volid"]
        if disk.get("cdrom"):
            continue
        kind = "attached" if volid in attached else "unused"
        record.append(f"found local disk '{volid}' ({kind})")
        if kind == "attached" and online and not with_local_disks:
            record.append(
                f"WARN: can't migrate local disk '{volid}': can't live migrate attached local disks "
                "without with-local-disks option"
            )
            abort = True
    if abort:
        return "can't migrate VM - check log"
    for disk in local_disks(vm, storages):
        sid = volume_ref(disk["volid"])[0] or ""
        kind = storages.get(sid, {}).get("type", "dir")
        if not disk.get("cdrom") and kind not in MIGRATABLE_LOCAL:
            return f"can't migrate '{disk['volid']}' - storage type '{kind}' not supported"
    return None


class Migrations:
    """Migrating VMs between the lab's nodes."""

    def __init__(self, pve: PveModel, cluster: ClusterState, disks: VmDisks) -> None:
        self.pve = pve
        self.cluster = cluster
        self.disks = disks

    def allowed_nodes(self, vm: FakeVm) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
        """GET migrate's allowed_nodes and not_allowed_nodes (with their unavailable storages)."""
        allowed: list[str] = []
        not_allowed: dict[str, dict[str, list[str]]] = {}
        for other in sorted(self.pve.nodes):
            if other == vm.node:
                continue
            problems = storage_problems(vm, other, self.pve.storages)
            if problems:
                not_allowed[other] = {"unavailable_storages": problems}
            else:
                allowed.append(other)
        return allowed, not_allowed

    def local_disks(self, vm: FakeVm) -> list[dict[str, Any]]:
        return local_disks(vm, self.pve.storages)

    def storage_map(self, text: str, target: str, user: str) -> dict[str, str]:
        """A storage-pair-list ('store', 'src:dst,...' or '1' for identity), its targets checked on the target."""
        mapping: dict[str, str] = {}
        for item in split_list(text):
            src, sep, dst = item.partition(":")
            mapping[src if sep else "default"] = dst if sep else src
        for key, dst in mapping.items():
            if key == "default" and dst == "1":
                mapping = {"1": "1"}
                break
            self.pve.require(user, "/storage/" + dst, "Datastore.AllocateSpace")
            store = self.pve._check_enabled(dst, target)
            if "images" not in str(store.get("content", "")):
                raise errors.die(f"storage '{dst}' does not support vm images")
        return mapping

    def check_storages(self, vm: FakeVm, source: str, target: str) -> None:
        """Without a storage map, every storage of the VM's drives must be enabled on both nodes."""
        for _key, volume, _props in drives_of(vm.config):
            sid = volume_ref(volume)[0]
            if sid is not None and sid in self.pve.storages:
                self.pve._check_enabled(sid, source)
                self.pve._check_enabled(sid, target)

    async def migrate(
        self,
        vm: FakeVm,
        target: str,
        user: str,
        online: bool,
        with_local_disks: bool = False,
        storagemap: dict[str, str] | None = None,
        log: Iterable[str] = (),
    ) -> str:
        """A `qmigrate` task: QemuMigrate's checks inside the worker, then the VM lives on `target`. Its UPID."""
        source = vm.node
        spec = self.cluster.spec
        ip = spec.node(target).ip if target in spec.node_names else target
        lines = [*log, f"starting migration of VM {vm.vmid} to node '{target}' ({ip})"]
        holder: dict[str, str] = {}

        async def body() -> str:
            start = time.monotonic()
            record = running_task_log(self.pve, holder)
            if not self.pve.nodes.get(target, {}).get("online", True):
                record.append("ERROR: Can't connect to destination address using public key")
                raise TaskError("migration aborted")
            problem = scan_local_volumes(vm, self.pve.storages, online, with_local_disks, record)
            if problem:
                record.append(f"ERROR: Problem found while scanning volumes - {problem}")
                raise TaskError("migration aborted")
            vm.lock = "migrate"
            vm.config["lock"] = "migrate"
            try:
                await self.pve.ceph_io(vm)
                await self._move_local_volumes(vm, storagemap, record)
                await self.pve.pause(MIGRATE_SECS)
                if vm.node != source:  # the VM moved away meanwhile (HA recovery of a failed source)
                    raise TaskError("migration aborted")
                for disk in self.local_disks(vm):  # their copies now live on the target's storage
                    if not disk.get("cdrom"):
                        self.disks.volumes.place(disk["volid"], target)
                vm.node = target
            finally:
                vm.lock = None
                vm.config.pop("lock", None)
            took = time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - start))
            return f"migration finished successfully (duration {took})"

        holder["upid"] = await self.pve.task(source, "qmigrate", vm.vmid, user, body, vm=vm, log=lines)
        return holder["upid"]

    async def _move_local_volumes(self, vm: FakeVm, storagemap: dict[str, str] | None, record: list[str]) -> None:
        """With `targetstorage`, local disks land on the mapped storage of the target (new volume, old freed)."""
        if not storagemap or storagemap.get("1"):
            return
        for disk in self.local_disks(vm):
            key, volid = disk["drivename"], disk["volid"]
            sid = volume_ref(volid)[0] or ""
            dest = storagemap.get(sid) or storagemap.get("default")
            if disk.get("cdrom") or not dest or dest == sid:
                continue
            record.append(f"mapped: {key} from {volid} to storage {dest}")
            await self.disks.copy_volume(vm, key, dest, None, delete=True, record=record)
