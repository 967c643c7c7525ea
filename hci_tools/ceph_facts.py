"""What a day-2 drill reads off a lab's real Ceph to say whether data survived: PG states, unfound
objects, bytes moved, and an RBD image's checksum. Shared by tests/e2e (which assert on them) and
bench/day2.py (which prints them), so both judge "nothing lost" by the same rule.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

# PG states that mean data is (or may be) lost: never acceptable, not even while recovering. Not here:
# `stale` (the acting primary went down and no OSD has reported the PG since: for a moment after every
# OSD failure, until the PG re-peers) and `unknown` (the MGR has no stats for it yet: after a MGR
# failover, or a new pool); both are transient, and each drill still ends on all PGs active+clean.
LOST_STATES = frozenset({"down", "incomplete", "recovery_unfound", "backfill_unfound"})


class CephLab(Protocol):
    def ceph(self, *args: str, check: bool = True, timeout: float = 60) -> str: ...

    def rbd(self, *args: str, timeout: float = 60) -> str: ...


class DataLost(AssertionError):
    """Ceph reports PGs in a state where data may be gone, or objects it cannot find."""


def ceph_json(lab: CephLab, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def pg_states(lab: CephLab) -> set[str]:
    """The PG states `ceph pg stat` reports now; DataLost if any of them may have lost data."""
    states = {s["name"] for s in ceph_json(lab, "pg", "stat")["pg_summary"]["num_pg_by_state"]}
    words = {word for state in states for word in state.split("+")}
    if words & LOST_STATES:
        raise DataLost(f"PGs lost or unknown: {sorted(states)}")
    return states


def unfound_objects(lab: CephLab) -> int:
    """Objects Ceph knows of but cannot find on any OSD (`ceph pg dump`'s pg_stats_sum)."""
    dump = ceph_json(lab, "pg", "dump")
    return int(dump["pg_map"]["pg_stats_sum"]["stat_sum"].get("num_objects_unfound", 0))


def pool_stats(lab: CephLab) -> dict[str, dict[str, Any]]:
    """Pool name -> its `ceph df` stats."""
    return {p["name"]: p["stats"] for p in ceph_json(lab, "df")["pools"]}


def pool_objects(lab: CephLab, pool: str) -> int:
    """The pool's object count as `ceph df` reports it."""
    return int(pool_stats(lab)[pool]["objects"])


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def image_digest(lab: CephLab, image: str, scratch: Path) -> str:
    """The sha256 of an RBD image's contents, exported through librbd to `scratch`."""
    scratch.unlink(missing_ok=True)
    lab.rbd("export", "--no-progress", image, str(scratch), timeout=300)
    try:
        return file_digest(scratch)
    finally:
        scratch.unlink(missing_ok=True)
