"""PVE's value formats the lab reads and writes: sizes, lists, Ceph version strings and the list parameters of
requests. Pure functions.

Each follows the Perl function it names, so the lab parses and prints values as PVE does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

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


def _perl_true(value: Any) -> bool:
    """Perl's truth of a request value: undef, '' and '0' are false (an empty list is a true reference)."""
    return value is not None and (isinstance(value, list) or str(value) not in ("", "0"))


def property_schema(schema: Mapping[str, Any], key: str, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """pve-common src/PVE/JSONSchema.pm get_object_property_schema: the schema of one request parameter,
    through `allOf` parts and the `oneOf` branch its `type-property` selects. A numbered parameter (net0)
    is found under its pattern (net[n]), as the schema fakepve ships spells them."""
    props = schema.get("properties")
    if props is not None:
        if key in props:
            found: Mapping[str, Any] = props[key]
            return found
        base = key.rstrip("0123456789")
        return props.get(base + "[n]") if base != key else None
    for part in schema.get("allOf") or ():
        found_part = property_schema(part, key, values)
        if found_part is not None:
            return found_part
    if schema.get("allOf"):
        return None
    type_property = schema.get("type-property")
    if type_property is not None and key == type_property:
        type_schema: Mapping[str, Any] | None = schema.get("type-property-schema")
        return type_schema
    kind = values.get(type_property) if type_property is not None else None
    for branch in schema.get("oneOf") or ():
        if kind is not None and branch.get("instance-type") != kind:
            continue
        found_branch = property_schema(branch, key, values)
        if found_branch is not None:
            return found_branch
    return None


def normalize_legacy_param_formats(values: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """pve-common src/PVE/RESTHandler.pm $normalize_legacy_param_formats, run by `handle` before every
    method's validation: a list sent for a `*-list` string (proxmoxer sends `nodes=a&nodes=b`, which
    pve-http-server reads as an array) is joined with commas, and a single value for an array parameter
    becomes a one-item array. Only the top level: form data cannot nest."""
    out = dict(values)
    if not schema:
        return out
    for key, value in values.items():
        prop = property_schema(schema, key, values)
        if prop is None or not _perl_true(value):
            continue
        kind, fmt = prop.get("type") or "", str(prop.get("format") or "")
        if isinstance(value, list) and kind == "string" and fmt.endswith("-list"):
            out[key] = ",".join(str(item) for item in value)
        elif not isinstance(value, list) and kind == "array":
            out[key] = [value]
    return out
