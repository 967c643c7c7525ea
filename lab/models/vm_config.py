"""The drives of a VM config update (qemu-server src/PVE/API2/Qemu.pm $update_vm_api, which PUT and POST
.../config and PUT .../unlink share).

fakepve stores a drive value as it is sent; PVE does not:
* a new `STORAGE:SIZE` (or `STORAGE:cloudinit`) is allocated by create_disks, so the config gets the new
  `vm-<vmid>-disk-<n>` volume and its `size=`; an existing volume gets its size; the task logs
  "scsi1: successfully created disk '...'";
* a drive whose volume is replaced or deleted leaves its volume as `unusedN` (vmconfig_register_unused_drive),
  or, deleted with `force`, frees it (vmconfig_delete_or_detach_drive, try_deallocate_drive); deleting an
  `unusedN` frees its volume;
* a running VM takes disk changes at once where it can hotplug them (vmconfig_hotplug_pending,
  vmconfig_update_disk: the `disk` hotplug feature, not ide/sata/efidisk/tpmstate); the rest waits in pending.

Everything else in the update stays fakepve's (`_apply_config`). The lab's volumes (lab/models/volumes.py)
make RBD images for RBD storages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakepve.qemu import DRIVE_KEY, FIXED_KIB, NEW_DISK, is_cdrom, split_drive, volume_ref
from fakepve.qemu import join_drive as fakepve_join_drive

from lab import errors
from lab.models.disks import UNUSED
from lab.models.fakepve_model import FakeVm, PveModel
from lab.models.volumes import RbdVolumes
from lab.pve_formats import GIB, MIB, format_size, split_list

# Parameters of the config API that are neither config keys nor fakepve's (extract_param in $update_vm_api).
NOT_CONFIG = ("force", "background_delay", "skip_cloud_init", "import-working-storage")
# pve-common src/PVE/QemuServer.pm parse_hotplug_features: hotplug's default, and '1' is an alias for it.
DEFAULT_HOTPLUG = "network,disk,usb"
# qemu-server src/PVE/QemuServer/Cloudinit.pm CLOUDINIT_DISK_SIZE.
CLOUDINIT_SIZE = 4 * MIB
# Owners of a volume name (PVE::Storage parse_volname's vmid): vm-<id>-, base-<id>-, subvol-<id>-, basevol-<id>-.
OWNER = re.compile(r"^(?:vm|base|subvol|basevol)-(\d+)-")


def join_drive(volume: str, props: Mapping[str, str]) -> str:
    """A drive's config value: the volume, then its options in alphabetical order (fakepve's spelling)."""
    return str(fakepve_join_drive(volume, props))


def is_drive_key(key: str) -> bool:
    """A drive (is_valid_drivename) or an `unusedN`: what a delete detaches or frees."""
    return bool(DRIVE_KEY.match(key) or UNUSED.match(key))


def volume_owner(volid: str) -> int | None:
    """The VM a volume belongs to, by its name (vm_is_volid_owner); a linked clone's is the last part's."""
    sid, volname = volume_ref(volid)
    if sid is None:
        return None
    found = OWNER.match(volname.rsplit("/", 1)[-1])
    return int(found.group(1)) if found else None


def hotpluggable(key: str, hotplug: str | None) -> bool:
    """vmconfig_update_disk / vmconfig_hotplug_pending: a running VM takes a disk change at once if its
    `hotplug` has `disk` and the bus is not ide or sata (nor the efidisk/tpmstate special drives)."""
    features = DEFAULT_HOTPLUG if hotplug in (None, "1") else str(hotplug)
    if features == "0" or "disk" not in split_list(features):
        return False
    return not re.match(r"^(ide|sata|efidisk|tpmstate)\d+$", key)


def removed_from_boot_order(boot: str | None, key: str) -> str | None:
    """The `boot` value without a deleted device (update_vm's bootorder cleanup); None if unchanged."""
    if not boot or not boot.startswith("order="):
        return None
    devices = [d for d in boot[len("order=") :].split(";") if d]
    if key not in devices:
        return None
    return "order=" + ";".join(d for d in devices if d != key)


@dataclass
class DriveChanges:
    """The drive part of an update: new values by key, deleted keys, and whether deletes free volumes."""

    updates: dict[str, str] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    force: bool = False

    def __bool__(self) -> bool:
        return bool(self.updates or self.deletes)


def split_update(values: Mapping[str, Any]) -> tuple[DriveChanges, dict[str, Any]]:
    """(the drive changes, the rest of the update for fakepve): drive keys and deleted drive keys go to the
    first, every other key (and the other deletes) to the second. Setting an `unusedN` is a plain option
    (is_valid_drivename leaves it out)."""
    changes = DriveChanges(force=str(values.get("force", "0")) in ("1", "true"))
    rest: dict[str, Any] = {}
    other_deletes: list[str] = []
    for key, value in values.items():
        if key == "delete":
            for opt in split_list(str(value or "")):
                opt = "ide2" if opt == "cdrom" else opt
                (changes.deletes if is_drive_key(opt) else other_deletes).append(opt)
        elif DRIVE_KEY.match(key):
            changes.updates[key] = str(value)
        elif key not in NOT_CONFIG:
            rest[key] = value
    if other_deletes:
        rest["delete"] = ",".join(other_deletes)
    return changes, rest


class VmConfigDrives:
    """Allocates, attaches, detaches and frees the drives of a VM config update."""

    def __init__(self, pve: PveModel, volumes: RbdVolumes) -> None:
        self.pve = pve
        self.volumes = volumes

    # -- before the change (check_drive_param, check_storage_access, the permission checks) -------------

    def check(self, vm: FakeVm, user: str, changes: DriveChanges) -> None:
        """What PVE checks before it forks the worker: the disk permissions and the storages' access."""
        if changes.deletes:
            self.pve.require(user, f"/vms/{vm.vmid}", "VM.Config.Disk")
        for key, value in sorted(changes.updates.items()):
            volume, props = split_drive(value)
            priv = "VM.Config.CDROM" if is_cdrom(volume, props) else "VM.Config.Disk"
            self.pve.require(user, f"/vms/{vm.vmid}", priv)
            self.pve._qm_check_drive(user, vm.vmid, None, key, value, None)

    # -- the change, under the config lock ------------------------------------------------------------

    async def apply(self, vm: FakeVm, user: str, changes: DriveChanges, record: list[str]) -> None:
        """Deletes first, then the new values, as $updatefn writes them."""
        running = vm.status == "running"
        for key in changes.deletes:
            await self._delete(vm, user, key, changes.force, running, record)
        for key, value in sorted(changes.updates.items()):
            new_value = await self.create_drive(vm, key, value, record)
            if running and not hotpluggable(key, vm.config.get("hotplug")):
                vm.pending[key] = new_value
                continue
            old = vm.config.get(key)
            if old is not None:
                self.register_unused(vm, str(old), new_value)
            vm.config[key] = new_value
            vm.pending.pop(key, None)

    async def create_drive(self, vm: FakeVm, key: str, value: str, record: list[str]) -> str:
        """create_disks for one drive: the config value once its volume is allocated or looked up."""
        volume, props = split_drive(value)
        props = dict(props)
        if not volume or volume in ("none", "cdrom"):
            props.pop("size", None)
            return join_drive(volume, props)
        sid, volname = volume_ref(volume)
        if sid is not None and volname == "cloudinit":
            volid, _fmt = await self.volumes.alloc_async(sid, vm.vmid, props.pop("format", None), CLOUDINIT_SIZE)
            props["media"] = "cdrom"
            created = join_drive(volid, props)
            record.append(f"{key}: successfully created disk '{created}'")
            return created
        found = NEW_DISK.match(volume)
        if found:
            storage = found.group(1)
            if not storage:
                raise errors.die("no storage ID specified (and no default storage)")
            kib = FIXED_KIB.get(key)
            size = kib * 1024 if kib else int(float(found.group(2)) * GIB)
            volid, _fmt = await self.volumes.alloc_async(storage, vm.vmid, props.pop("format", None), size)
            props["size"] = format_size(size)
            created = join_drive(volid, props)
            record.append(f"{key}: successfully created disk '{created}'")
            return created
        if sid is None:  # a path or a passthrough device: PVE takes it as it is
            return join_drive(volume, props)
        await self.volumes.refresh(sid)
        vol = self.volumes.known(sid, volname)
        if vol is None:
            raise errors.die(f"volume {volume} does not exist")
        want = props.pop("format", None)
        if want and want != vol.get("format"):
            raise errors.die(
                f"drive '{key}' - volume '{volume}' - 'format={want}' option different from storage format "
                f"'{vol.get('format')}'"
            )
        if vol.get("size"):
            props["size"] = format_size(int(vol["size"]))
        return join_drive(volume, props)

    # -- unused volumes -------------------------------------------------------------------------------

    def register_unused(self, vm: FakeVm, old_value: str, new_value: str | None = None) -> None:
        """vmconfig_register_unused_drive: the old drive's volume, if the VM owns it and it is not a CD-ROM
        (nor the volume the drive keeps), becomes the first free `unusedN` (add_unused_volume)."""
        volume, props = split_drive(old_value)
        if is_cdrom(volume, props) or volume_owner(volume) != vm.vmid:
            return
        if new_value is not None and split_drive(new_value)[0] == volume:
            return
        if any(UNUSED.match(k) and split_drive(str(v))[0] == volume for k, v in vm.config.items()):
            return
        n = 0
        while f"unused{n}" in vm.config:
            n += 1
        vm.config[f"unused{n}"] = volume

    def in_snapshot(self, vm: FakeVm, volume: str) -> bool:
        """is_volume_in_use: a snapshot's config still refers to the volume."""
        return any(
            split_drive(str(value))[0] == volume
            for snap in vm.snapshots.values()
            for key, value in snap.items()
            if is_drive_key(key)
        )

    async def free_volume(self, vm: FakeVm, user: str, volume: str) -> None:
        """try_deallocate_drive: free the volume if the VM owns it (and no snapshot uses it)."""
        if volume_owner(volume) != vm.vmid:
            return  # not ours: only the config entry goes
        sid = volume_ref(volume)[0]
        if sid is None:
            return
        self.pve.require(user, f"/storage/{sid}", "Datastore.AllocateSpace")
        if self.in_snapshot(vm, volume):
            raise errors.die(f"unable to delete '{volume}' - volume is still in use (snapshot?)")
        await self.volumes.free_async(volume)

    # -- deletes --------------------------------------------------------------------------------------

    async def _delete(self, vm: FakeVm, user: str, key: str, force: bool, running: bool, record: list[str]) -> None:
        protected = str(vm.config.get("protection", "0")) in ("1", "true")
        value = vm.config.get(key)
        pending = vm.pending.get(key)
        if value is None and pending is None:
            record.append(f"cannot delete '{key}' - not set in current configuration!")
            return
        if UNUSED.match(key):
            volume = split_drive(str(value))[0]
            if protected:
                raise errors.die(f"can't remove unused disk '{volume}' - protection mode enabled")
            await self.free_volume(vm, user, volume)
            vm.config.pop(key, None)
            return
        if protected:
            raise errors.die(f"can't remove drive '{key}' - protection mode enabled")
        if pending is not None:  # a pending value's volume is kept as unused (vmconfig_register_unused_drive)
            self.register_unused(vm, str(pending))
            vm.pending.pop(key, None)
            if value is None:
                return
        self._drop_from_boot_order(vm, key, running)
        if running and not hotpluggable(key, vm.config.get("hotplug")):
            vm.pending[key] = None  # add_to_pending_delete: applied at the next start
            return
        volume, props = split_drive(str(value))
        if force:
            if not is_cdrom(volume, props):
                await self.free_volume(vm, user, volume)
        else:
            self.register_unused(vm, str(value))
        vm.config.pop(key, None)

    def _drop_from_boot_order(self, vm: FakeVm, key: str, running: bool) -> None:
        boot = removed_from_boot_order(vm.config.get("boot"), key)
        if boot is None:
            return
        if running:
            vm.pending["boot"] = boot
        else:
            vm.config["boot"] = boot
