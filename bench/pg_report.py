"""When Ceph itself says a pool's PGs became active+clean, and how late `ceph status` showed it. Pure.

Every PG's stats carry the OSDs' own stamps (ceph src/osd/osd_types.h, pg_stat_t):
`last_became_active` is when it last finished peering. A new pool's PGs hold no data to recover, so
each is clean the moment it is active, and the newest of those stamps over the pool is when it was
active+clean by Ceph's own account (`ceph pg ls-by-pool POOL -f json`, read after the run). Not
`last_change`: flags that come and go later without a new peering (seen in the lab some seconds
after a pool's create) move it on.

`ceph status` shows PG states later: each OSD reports its PG stats to the MGR (osd_mon_report_interval
and mgr_stats_period), and the MGR hands a digest to the MONs every mgr_tick_period; PVE's
GET /nodes/{node}/ceph/status is that MON digest (pve-manager PVE/Ceph/Tools.pm ceph_cluster_status).
It is the only read of PG states PVE offers, so any check through PVE's API of a pool's
active+clean (our CephPool create's) waits that lag out: bench/orchestration.py counts it apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

CLEAN = "active+clean"


def ceph_stamp(text: str) -> float:
    """'2026-12-04T00:42:36.948826+0000' (Ceph's utime_t in JSON) -> seconds since the epoch."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def state_stamp(text: str) -> float:
    """A Pulumi state timestamp, '2026-12-04T00:39:22.149436793Z' (RFC 3339, nanoseconds) -> epoch seconds."""
    whole, _, rest = text.removesuffix("Z").partition(".")
    fraction = float(f"0.{rest}") if rest else 0.0
    return datetime.fromisoformat(whole + "+00:00").timestamp() + fraction


def pg_stats(listing: Any) -> Sequence[Mapping[str, Any]]:
    """The PG rows of `ceph pg ls-by-pool -f json`: a dict with pg_stats since Nautilus, a list before."""
    rows = listing.get("pg_stats", []) if isinstance(listing, Mapping) else listing
    return [row for row in rows or [] if isinstance(row, Mapping)]


def clean_since(listing: Any) -> float | None:
    """When the pool's PGs were all active+clean by Ceph's stamps; None if one is not (or none is listed)."""
    rows = pg_stats(listing)
    if not rows or any(row.get("state") != CLEAN or not row.get("last_became_active") for row in rows):
        return None
    return max(ceph_stamp(str(row["last_became_active"])) for row in rows)
