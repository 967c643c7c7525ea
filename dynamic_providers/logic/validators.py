"""Validators for the formats PVE checks, so mistakes surface in preview, naming the property. Pure.

Each returns None when the value is fine, else the reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], str | None]

NODE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")  # pve-node
SERVICE_ID = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")  # MON/MGR ids
STORAGE_ID = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.IGNORECASE)  # pve-storage-id
POOL_NAME = re.compile(r"^[^:/\s]+$")
DEVICE = re.compile(r"^/dev/[a-zA-Z0-9/_.:+-]+$")
DEVICE_CLASS = re.compile(r"^[a-zA-Z0-9_-]+$")


def matches(pattern: re.Pattern[str], what: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if pattern.match(str(value)) else f"{value!r} is not a valid {what}"

    return check


def between(low: float, high: float) -> Validator:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"{value} is outside {low:g}..{high:g}"

    return check


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return check


def cidr(value: Any) -> str | None:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"{value!r} is not a CIDR network (e.g. 10.10.10.0/24)"
    return None if "/" in str(value) else f"{value!r} has no prefix length (e.g. 10.10.10.0/24)"


def ip_address(value: Any) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def node_list(value: Any) -> str | None:
    if not value:
        return "needs at least one node name"
    bad = [node for node in value if not NODE.match(node)]
    return f"not node names: {', '.join(map(repr, bad))}" if bad else None


def normalise_cidr(value: str) -> str:
    """10.10.10.5/24 -> 10.10.10.0/24, so equal networks compare equal."""
    return str(ipaddress.ip_network(value, strict=False))
