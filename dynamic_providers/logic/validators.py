"""The building blocks of the rules in rules.py: a few patterns PVE checks, and validator makers. Pure.

A validator returns None when the value is fine, else the reason. The rules themselves, each once, are in
rules.py; resources and the stack-config model take them from there.
"""

from __future__ import annotations

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
        return None if low <= value <= high else f"{value} is outside {number(low)}..{number(high)}"

    return check


def number(value: float) -> str:
    """1000000000.0 -> '1000000000', 0.5 -> '0.5': bounds as a reader writes them."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return check
