"""The sparse files that stand in for the nodes' disks.

BlueStore runs directly on such a file (as in Ceph's vstart.sh), so no loop device, LVM or root
privilege over block devices is needed. Whether a disk is "in use" is read from the file itself,
exactly like PVE reads signatures from a device: no flag is kept anywhere.
"""

from __future__ import annotations

import os
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
