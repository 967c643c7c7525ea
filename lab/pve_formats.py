"""PVE's value formats the lab reads and writes: sizes, lists and Ceph version strings. Pure functions.

Each follows the Perl function it names, so the lab parses and prints values as PVE does.
"""

from __future__ import annotations

import re
import time

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
SIZE_UNITS = {"K": KIB, "M": MIB, "G": GIB, "T": TIB}

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$")
# qemu-server src/PVE/API2/Qemu.pm resize_vm: an absolute size, or `+` and a size to add.
_RESIZE = re.compile(r"^(\+)?(\d+(?:\.\d+)?)([KMGT])?$")
_LIST_SEPARATORS = re.compile(r"[\s,;]+")


def parse_size(text: str) -> int | None:
    """pve-common src/PVE/JSONSchema.pm parse_size: '32G', '512M', '1.5T', '4096' (bytes); None if not a size."""
    match = _SIZE.match(text)
    if not match:
        return None
    unit = match.group(2)
    return int(float(match.group(1)) * (SIZE_UNITS[unit[0]] if unit else 1))


def format_size(size: int) -> str:
    """pve-common src/PVE/JSONSchema.pm format_size: bytes in the largest unit that divides them ('2G', '2560M')."""
    for unit in "TGMK":
        if size and size % SIZE_UNITS[unit] == 0:
            return f"{size // SIZE_UNITS[unit]}{unit}"
    return str(size)


def resized(current: int, text: str) -> int | None:
    """The new size of a `qm resize` request ('+1G' grows by 1 GiB, '4G' sets it); None if not a resize size."""
    match = _RESIZE.match(text)
    if not match:
        return None
    size = float(match.group(2)) * (SIZE_UNITS[match.group(3)] if match.group(3) else 1)
    return int(size + (current if match.group(1) else 0))


def split_list(text: str) -> list[str]:
    """pve-common src/PVE/Tools.pm split_list: commas, semicolons and white space separate items."""
    return [item for item in _LIST_SEPARATORS.split(text) if item]


def ceph_version_short(full: str) -> str:
    """`ceph version 16.2.15 (...) pacific (stable)` -> `16.2.15` (pve-manager PVE/Ceph/Tools.pm parse_ceph_version)."""
    parts = full.split()
    return parts[2] if len(parts) > 2 else full


def perl_ctime(ts: float) -> str:
    """Perl's scalar localtime(), e.g. 'Wed Nov 26 23:13:05 2025' (how pve-ha-manager prints timestamps)."""
    return time.asctime(time.localtime(ts))
