"""CephHealthGate decisions: inputs, and whether a `ceph status` document meets the requirement. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.values import as_int

REQUIREMENTS = rules.HEALTH_REQUIREMENTS
# PG state words that mean data is not fully available or not fully replicated.
BAD_PG_STATES = frozenset(
    {
        "degraded",
        "undersized",
        "down",
        "incomplete",
        "stale",
        "unknown",
        "peering",
        "inconsistent",
        "recovery_unfound",
        "backfill_unfound",
        "inactive",
    }
)


@resource_inputs
class GateInputs:
    api_nodes: tuple[str, ...] = param(validate=rules.api_nodes, routing=True)
    require: str = param(default="HEALTH_OK", validate=rules.health_requirement)
    timeout: int = param(default=600, validate=rules.health_timeout)
    triggers: Any = param(default=None)  # any value; a change re-runs the wait


@dataclass(frozen=True, kw_only=True)
class GateOutputs:
    status: str | None = None  # the overall health last seen
    summary: str | None = None


SPEC = Spec("CephHealthGate", GateInputs, GateOutputs)


def pg_states(status: dict[str, Any]) -> list[tuple[str, int]]:
    pgmap = status.get("pgmap") or {}
    return [(str(row.get("state_name")), as_int(row.get("count")) or 0) for row in pgmap.get("pgs_by_state") or []]


def bad_pgs(status: dict[str, Any]) -> list[tuple[str, int]]:
    """PG groups that are not active, or are degraded/undersized (remapped or backfilling alone is fine)."""
    out = []
    for state, count in pg_states(status):
        words = set(state.split("+"))
        if "active" not in words or words & BAD_PG_STATES:
            out.append((state, count))
    return out


def evaluate(status: dict[str, Any], require: str) -> tuple[bool, str]:
    """(met, summary) for a GET .../ceph/status document.

    HEALTH_OK means the rebalance is over too: Ceph reports HEALTH_OK while PGs backfill onto a new
    OSD (misplaced objects raise no health check since Nautilus), so every PG must also be
    active+clean (docs/day2.md). `no_degraded_pgs` waits only until all data is available and
    fully replicated, e.g. for a rebalance of hours.
    """
    health = status.get("health") or {}
    overall = str(health.get("status") or "unknown")
    if require == "HEALTH_OK":
        return overall == "HEALTH_OK" and all_clean(status)[0], summarise(status)
    return not bad_pgs(status), summarise(status)


def summarise(status: dict[str, Any]) -> str:
    health = status.get("health") or {}
    parts = [str(health.get("status") or "unknown")]
    checks = health.get("checks") or {}
    for code in sorted(checks):
        message = ((checks[code] or {}).get("summary") or {}).get("message", "")
        parts.append(f"{code}: {message}".strip().rstrip(":"))
    pgs = pg_states(status)
    if pgs:
        parts.append("pgs: " + ", ".join(f"{count} {state}" for state, count in pgs))
    osdmap = status.get("osdmap") or {}
    if "num_osds" in osdmap:
        parts.append(
            f"osds: {osdmap.get('num_up_osds', 0)} up, {osdmap.get('num_in_osds', 0)} in of {osdmap.get('num_osds', 0)}"
        )
    return "; ".join(parts)


def all_clean(status: dict[str, Any], expected_pools: int = 0) -> tuple[bool, str]:
    """Are all PGs active+clean (scrubbing is fine), with PGs of at least `expected_pools` reported?

    The pool count matters right after a pool is created: until the MGR reports the new pool's
    PGs, the status shows only the old ones, all clean.
    """
    pgs = pg_states(status)
    pools = as_int((status.get("pgmap") or {}).get("num_pools")) or 0
    dirty = [(state, count) for state, count in pgs if not {"active", "clean"} <= set(state.split("+"))]
    seen = ", ".join(f"{count} {state}" for state, count in pgs) or "no PGs reported"
    if pools < expected_pools:
        return False, f"PGs of {pools} of {expected_pools} pools reported ({seen})"
    return not dirty, seen


# How stale `ceph status` PG states can be: daemons send their stats to the MGR every
# mgr_stats_period and the MGR passes a digest to the MONs every mgr_tick_period (Ceph's defaults
# 5 s and 2 s, src/common/options/mgr.yaml.in). Right after an OSD goes up, down, in or out, the
# status can still show the clean PGs of before the change.
CEPH_DEFAULT_PERIODS = {"mgr_stats_period": 5.0, "mgr_tick_period": 2.0}
STATS_PERIOD_KEYS = tuple(CEPH_DEFAULT_PERIODS)
# Where an operator sets them (`ceph config set mgr ...` or ceph.conf [mgr]/[global]), most specific
# first, as PVE's GET ceph/cfg/value names them (underscores as hyphens, pve-manager PVE/API2/Ceph/Cfg.pm).
STATS_PERIOD_SECTIONS = ("mgr", "global")
# Both clocks are whole seconds (`osd_up_since` is OSDMap::last_up_change cut to seconds, PVE's time is
# Perl's time()): one more second makes "at least one lag after the change" hold despite the cuts.
CLOCK_GRAIN = 1.0


def stats_period_query() -> str:
    """The `config-keys` of GET /nodes/{node}/ceph/cfg/value that finds the two periods."""
    return ";".join(f"{section}:{key}" for section in STATS_PERIOD_SECTIONS for key in STATS_PERIOD_KEYS)


def stats_lag(values: dict[str, Any]) -> float:
    """Seconds after an OSD change until `ceph status` shows its PGs, from a cfg/value answer.

    A key set nowhere (or unreadable) counts at Ceph's default.
    """
    lag = 0.0
    for key in STATS_PERIOD_KEYS:
        period = CEPH_DEFAULT_PERIODS[key]
        for section in STATS_PERIOD_SECTIONS:
            raw = str((values.get(section) or {}).get(key.replace("_", "-")))
            try:
                value = float(raw)
            except ValueError:  # not set there ("None"), or not a number
                continue
            if math.isfinite(value) and value >= 0:
                period = value
                break
        lag += period
    return lag


def last_osd_change(status: dict[str, Any]) -> int | None:
    """When an OSD last went up/down or in/out (cluster clock, s since the epoch), or None if unknown."""
    osdmap = status.get("osdmap") or {}
    stamps = [as_int(osdmap.get(key)) for key in ("osd_up_since", "osd_in_since")]
    known = [stamp for stamp in stamps if stamp]
    return max(known) if known else None


@dataclass(frozen=True)
class Freshness:
    """Whether a status document's PG states are new enough to count, per the cluster's own clock.

    `node_offset` is the PVE node's clock minus ours (None when the node's time could not be read:
    then a requirement must hold, without a break, for one lag instead, see Settling).
    """

    lag: float
    node_offset: float | None

    def wait_left(self, status: dict[str, Any], now: float) -> float:
        """Seconds (by our wall clock `now`) until a status read then shows every OSD change; 0 if it does."""
        changed = last_osd_change(status)
        if changed is None or self.node_offset is None:
            return 0.0
        return max(0.0, changed + self.lag + CLOCK_GRAIN - (now + self.node_offset))


@dataclass
class Settling:
    """Whether a requirement has held, without a break, for `seconds` (clock values from the caller).

    The fallback when the cluster's clock is unknown: a requirement that held for one lag was not
    a stale report.
    """

    seconds: float
    since: float | None = None

    def held(self, met: bool, now: float) -> bool:
        if not met:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.seconds
