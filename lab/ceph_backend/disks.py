"""The sparse files that stand in for the nodes' disks.

BlueStore runs directly on such a file (as in Ceph's vstart.sh), so no loop device, LVM or root
privilege over block devices is needed. Whether a disk is "in use" is read from the file itself,
exactly like PVE reads signatures from a device.

What `ceph-volume lvm create` leaves besides the data - a VG and an `osd-block-<uuid>` LV tagged
`ceph.osd_id=<id>` - is a small file beside the disk (`<disk>.lvm.json`): PVE's disks/list reads the
tag (pve-storage Diskmanage.pm get_ceph_volume_infos) whether or not the OSD still exists, and the
active LV is a device-mapper holder of the disk, which wipedisk refuses (`has_holder`). It goes with
`ceph-volume lvm zap --destroy` only (destroyosd's cleanup runs it; wipedisk does not).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

BLUESTORE_MAGIC = b"bluestore block device"
# PVE's wipedisk zeroes the first 200 MiB; recreating the sparse file zeroes all of it, for free.
_PROBE_BYTES = 1024 * 1024


def ensure(path: Path, size: int) -> Path:
    """Create the disk file as a sparse file of `size` bytes unless it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path, "wb") as fh:
            fh.truncate(size)
    return path


def in_use(path: Path) -> bool:
    """True when the start of the disk holds anything but zeros (a BlueStore label, leftovers of an OSD)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PROBE_BYTES)
    except FileNotFoundError:
        return False
    return bool(head.strip(b"\0"))


def has_bluestore_label(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(BLUESTORE_MAGIC)) == BLUESTORE_MAGIC
    except FileNotFoundError:
        return False


def wipe(path: Path, size: int) -> None:
    """Zero the disk: truncate to nothing and back, which also hands the blocks back to the host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "r+b" if path.exists() else "wb") as fh:
        fh.truncate(0)
        fh.truncate(size)
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class LvTags:
    """The tags of the OSD's LV: `ceph.osd_id` (a string, as lvs prints it) and `ceph.encrypted`."""

    osd_id: str
    encrypted: bool = False


def _lvm_file(path: Path) -> Path:
    return path.with_name(path.name + ".lvm.json")


def write_lv_tags(path: Path, tags: LvTags) -> None:
    _lvm_file(path).write_text(json.dumps({"osd_id": tags.osd_id, "encrypted": tags.encrypted}))


def lv_tags(path: Path) -> LvTags | None:
    try:
        data = json.loads(_lvm_file(path).read_text())
    except FileNotFoundError:
        return None
    return LvTags(str(data["osd_id"]), bool(data.get("encrypted")))


def zap(path: Path, size: int) -> None:
    """`ceph-volume lvm zap --destroy`: the LV and VG go, then the disk is zeroed."""
    _lvm_file(path).unlink(missing_ok=True)
    wipe(path, size)
