"""CephHealthGate decisions: inputs, and whether a `ceph status` document meets the requirement. Pure."""

from __future__ import annotations

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
    """(met, summary) for a GET .../ceph/status document."""
    health = status.get("health") or {}
    overall = str(health.get("status") or "unknown")
    met = overall == "HEALTH_OK" if require == "HEALTH_OK" else not bad_pgs(status)
    return met, summarise(status)


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


# The MGR reports PG states to the MONs every mgr_stats_period (Ceph's default 5 s): right after an
# OSD joins or leaves, `ceph status` can still show the clean PGs of before the change. Health counts
# only once it has held for one such period.
SETTLE_SECONDS = 5.0


@dataclass
class Settling:
    """Whether a requirement has held, without a break, for `seconds` (clock values from the caller)."""

    seconds: float = SETTLE_SECONDS
    since: float | None = None

    def held(self, met: bool, now: float) -> bool:
        if not met:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.seconds
