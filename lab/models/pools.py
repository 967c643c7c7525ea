"""Ceph pools as PVE manages them: its defaults, set_pool's rules, and the RBD storages a pool has
(pve-manager PVE/API2/Ceph/Pool.pm, PVE/Ceph/Tools.pm create_pool and set_pool).

Ceph holds the pools themselves; what is PVE's is which variables a create or update sets, in which order,
and the storage.cfg entries (fakepve's storage table) that point at a pool.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from lab import errors
from lab.ceph_backend.pools import PoolCommands
from lab.ceph_backend.rados_client import RadosError
from lab.errors import TaskError
from lab.pve_formats import parse_size

TARGET_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT])?$")
# createpool's defaults (Pool.pm: size 3, min_size 2, pg_num 128, pg_autoscale_mode warn).
CREATE_DEFAULTS: dict[str, Any] = {"size": 3, "min_size": 2, "pg_num": 128, "pg_autoscale_mode": "warn"}
SETTABLE = ("size", "min_size", "pg_num", "pg_num_min", "crush_rule", "pg_autoscale_mode", "target_size_ratio")
# set_pool applies size first: setting size resets min_size in Ceph (tracker 44862).
SET_ORDER = (
    "size",
    "min_size",
    "pg_num",
    "pg_num_min",
    "crush_rule",
    "pg_autoscale_mode",
    "target_size_bytes",
    "target_size_ratio",
)


def target_size_bytes(text: str) -> int:
    """The schema's pattern, then pve-common's parse_size (Pool.pm turns target_size into target_size_bytes)."""
    size = parse_size(text) if TARGET_SIZE.match(text) else None
    if size is None:
        raise errors.param(target_size=f"invalid format - value '{text}' does not match the regex")
    return size


def pool_settings(v: dict[str, Any], defaults: bool) -> dict[str, Any]:
    """The `osd pool set` variables a create or update asks for, PVE's defaults filled in for a create."""
    wanted: dict[str, Any] = dict(CREATE_DEFAULTS) if defaults else {}
    for key in SETTABLE:
        if v.get(key) is not None:
            wanted[key] = v[key]
    if v.get("target_size") is not None:
        wanted["target_size_bytes"] = target_size_bytes(str(v["target_size"]))
    return wanted


async def set_pool(pools: PoolCommands, name: str, wanted: dict[str, Any], application: str | None) -> None:
    """set_pool: compare with `osd pool get all`, set what differs, size first; inside a worker task."""
    try:
        current = await asyncio.to_thread(pools.values, name)
    except RadosError as exc:
        if "unrecognized pool" in exc.message or exc.code == 2:
            raise errors.unrecognized_pool("osd pool get", name) from exc
        raise TaskError(exc.message) from exc
    failed: list[str] = []
    for key in SET_ORDER:
        if key not in wanted:
            continue
        value = wanted[key]
        if str(current.get(key)) == str(value):
            continue
        try:
            await asyncio.to_thread(pools.set, name, key, str(value))
        except RadosError:
            failed.append(key)
    if application:
        try:
            await asyncio.to_thread(pools.enable_application, name, application)
        except RadosError:
            failed.append("application")
    if failed:
        raise errors.could_not_set(failed)


def storages_of_pool(storages: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The RBD storages on a pool (Pool.pm $get_storages): its `pool`, or its `data-pool`."""
    return sorted(
        sid
        for sid, s in storages.items()
        if s.get("type") == "rbd" and name in (s.get("pool", "rbd"), s.get("data-pool"))
    )


def add_pool_storage(storages: dict[str, dict[str, Any]], name: str) -> None:
    """createpool's add_storages: an RBD storage named after the pool (Pool.pm $add_storage)."""
    if name in storages:
        raise TaskError(
            f"adding PVE storage for ceph pool '{name}' failed: create storage failed: "
            f"storage ID '{name}' already defined"
        )
    storages[name] = {
        "type": "rbd",
        "pool": name,
        "content": "rootdir,images",
        "krbd": 0,
        "active": 1,
        "shared": 1,
        "files": set(),
    }


def remove_pool_storages(storages: dict[str, dict[str, Any]], sids: list[str]) -> None:
    """destroypool's remove_storages: the pool's storages go, except those of external clusters (monhost)."""
    for sid in sids:
        if not storages[sid].get("monhost"):
            storages.pop(sid, None)
