"""A VM's disks: moving one to another storage and growing one (qemu-server src/PVE/API2/Qemu.pm
move_vm_disk and resize_vm), on fakepve's VMs and the lab's volume table.

A move allocates a volume of the same size on the target storage (an RBD image there), points the
drive at it and frees the source or keeps it as `unusedN`; migrating with `targetstorage` moves local
disks the same way. A resize grows the RBD image or fakepve's volume and rewrites the drive's `size=`.
"""

from __future__ import annotations

import re
from typing import Any

from fakepve.qemu import is_cdrom, join_drive, split_drive, volume_ref
from fakepve.storage import spec_of

from lab import errors
from lab.errors import PveError, TaskError
from lab.models.fakepve_model import FakeVm, PveModel
from lab.models.volumes import RbdVolumes
from lab.pve_formats import GIB, format_size, parse_size, resized

# PVE seconds a disk copy takes in the lab, per GiB (at least 2).
COPY_SECS_PER_GIB = 1
UNUSED = re.compile(r"^unused(\d+)$")
MODIFIED = "detected modified configuration - file changed by other user? Try again."


def drive_size(props: dict[str, str]) -> int:
    """The drive's `size=` in bytes (0 without one)."""
    return parse_size(props.get("size", "0")) or 0


def free_unused_key(config: dict[str, Any]) -> str:
    """The first `unusedN` the config does not have."""
    used = {int(m.group(1)) for m in (UNUSED.match(k) for k in config) if m}
    n = 0
    while n in used:
        n += 1
    return f"unused{n}"


class VmDisks:
    """Move and resize VM disks; raises PveError (API checks) or TaskError (inside the worker), in PVE's words."""

    def __init__(self, pve: PveModel, volumes: RbdVolumes) -> None:
        self.pve = pve
        self.volumes = volumes

    # -- move -------------------------------------------------------------------------------------------

    def check_move(
        self, vm: FakeVm, disk: str, storage: str, fmt: str | None, digest: str | None, delete: bool
    ) -> tuple[str, dict[str, str]]:
        """move_vm_disk's $load_and_check_move: (old volume id, drive options)."""
        self.pve._check_lock(vm)
        if digest and digest != vm.digest():
            raise errors.die(MODIFIED)
        if not vm.config.get(disk):
            raise errors.die(f"disk '{disk}' does not exist")
        volume, props = split_drive(vm.config[disk])
        if not volume or volume == "none":
            raise errors.die(f"disk '{disk}' has no associated volume")
        if is_cdrom(volume, props):
            raise errors.die("you can't move a cdrom")
        old_sid, volname = volume_ref(volume)
        old_fmt = (self.volumes.known(old_sid, volname) or {}).get("format")
        if old_sid == storage and (not fmt or not old_fmt or old_fmt == fmt):
            raise errors.die("you can't move to the same storage with same format")
        store = self.pve._check_enabled(storage, vm.node)  # exists, enabled, and configured for this node
        if "images" not in str(store.get("content", "")):
            raise errors.param(storage=f"storage '{storage}' does not support vm images")
        snapshotted = any(volume in str(snap.get(disk, "")) for snap in vm.snapshots.values())
        if snapshotted and delete:
            raise errors.die("you can't move a disk with snapshots and delete the source")
        return volume, props

    async def move(
        self, vm: FakeVm, disk: str, storage: str, fmt: str | None, digest: str | None, delete: bool, record: list[str]
    ) -> None:
        """The qmmove worker: the checks again, under the config lock, then the copy."""
        try:
            self.check_move(vm, disk, storage, fmt, digest, delete)
        except PveError as exc:
            raise TaskError(exc.message) from exc
        await self.copy_volume(vm, disk, storage, fmt, delete, record)

    def target_format(self, storage: str, wanted: str | None, source: str | None) -> str:
        """resolve_dst_disk_format: the asked (or source) format if the storage takes it, else its default."""
        store = self.pve.storages[storage]
        spec = spec_of(store) or {}
        supported = spec.get("formats") or ["raw"]
        for fmt in (wanted, source):
            if fmt and fmt in supported:
                return fmt
        return str(store.get("format") or spec.get("format") or "raw")

    async def copy_volume(
        self, vm: FakeVm, key: str, storage: str, fmt: str | None, delete: bool, record: list[str]
    ) -> None:
        """clone_disk + config update: a new volume of the same size on `storage` replaces the old one."""
        old_volid, props = split_drive(vm.config[key])
        old_sid, old_name = volume_ref(old_volid)
        old = self.volumes.known(old_sid, old_name) or {}
        size = int(old.get("size") or drive_size(props))
        record.append(f"copying volume '{old_volid}' from current storage '{old_sid}' to target storage '{storage}'")
        await self.pve.ceph_io(vm)
        new_fmt = self.target_format(storage, fmt, old.get("format"))
        try:
            new_volid, _ = await self.volumes.alloc_async(storage, vm.vmid, new_fmt, size)
        except (PveError, TaskError) as exc:
            raise TaskError(f"storage migration failed: {getattr(exc, 'message', None) or exc}") from exc
        await self.pve.pause(max(2, COPY_SECS_PER_GIB * size / GIB))
        if not UNUSED.match(key):
            new_props = dict(props, size=format_size(size)) if size else dict(props)
            new_props.pop("format", None)
            vm.config[key] = join_drive(new_volid, new_props)
        else:
            vm.config[key] = new_volid
        if delete:
            record.append(f"removing source volume '{old_volid}' after successful copy")
            try:
                await self.volumes.free_async(old_volid)
            except TaskError as exc:  # qemu-server API2/Qemu.pm move_disk: `warn $@ if $@`, the move stands
                record.append(str(exc))
        else:
            unused = free_unused_key(vm.config)
            vm.config[unused] = old_volid
            record.append(f"adding source volume '{old_volid}' as '{unused}' to config")

    # -- resize -----------------------------------------------------------------------------------------

    async def resize(
        self, vm: FakeVm, disk: str, size_text: str, digest: str | None, skiplock: bool, user: str
    ) -> None:
        """The resize worker (resize_vm's $updatefn): grow the volume, then the drive's `size=`."""
        if digest and digest != vm.digest():
            raise TaskError("checksum mismatch (file change by other user?)")
        if not skiplock and vm.lock:
            raise TaskError(f"VM is locked ({vm.lock})")
        if not vm.config.get(disk):
            raise TaskError(f"disk '{disk}' does not exist")
        volume, props = split_drive(vm.config[disk])
        if not volume or volume == "none":
            raise TaskError(f"disk '{disk}' has no associated volume")
        if is_cdrom(volume, props):
            raise TaskError("you can't resize a cdrom")
        sid, volname = volume_ref(volume)
        try:
            self.pve.require(user, f"/storage/{sid}", "Datastore.AllocateSpace")
        except PveError as exc:
            raise TaskError(exc.message) from exc
        size = await self.volume_size(sid, volname, props)
        new_size = resized(size, size_text)
        assert new_size is not None  # the schema's pattern
        if new_size < size:
            raise TaskError("shrinking disks is not supported")
        if new_size == size:
            return
        await self.pve.ceph_io(vm, [disk])
        if sid is not None and self.volumes.is_rbd(sid):
            await self.volumes.resize_image(sid, volname, new_size)
        vol = self.volumes.known(sid, volname)
        if vol is not None:
            vol["size"] = new_size
        vm.config[disk] = join_drive(volume, dict(props, size=format_size(new_size)))

    async def volume_size(self, sid: str | None, volname: str, props: dict[str, str]) -> int:
        """volume_size_info: `rbd info` for an RBD image, fakepve's table (or the drive's size=) otherwise."""
        if sid is not None and self.volumes.is_rbd(sid):
            return await self.volumes.image_size(sid, volname)
        vol = self.volumes.known(sid, volname) or {}
        return int(vol.get("size") or drive_size(props))
