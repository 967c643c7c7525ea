"""CephPool decisions: inputs, create and update parameters, reading a pool back, delete guards. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from dynamic_providers.logic import pve_releases, rules
from dynamic_providers.logic.spec import Failure, Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide, differ
from dynamic_providers.values import as_int, is_unknown

INTERNAL_POOLS = rules.INTERNAL_POOLS
# Ceph's own default start. PVE's default of 128 (pve-manager PVE/API2/Ceph/Pool.pm, createpool)
# exhausts a small cluster's PG budget after one pool (ceph src/mon/OSDMonitor.cc, check_pg_num).
AUTOSCALE_START_PG_NUM = 32


@resource_inputs
class PoolInputs:
    api_nodes: tuple[str, ...] = param(validate=rules.api_nodes, routing=True)
    pool_name: str = param(on_change="replace", validate=rules.pool_name)
    size: int = param(default=3, validate=rules.replica_size)
    min_size: int = param(default=2, validate=rules.min_replica_size)
    pg_num: int | None = param(default=None, validate=rules.pg_num, auto=True)
    autoscale_mode: str = param(default="on", validate=rules.autoscale_mode)
    # A pool takes one application: Ceph refuses a second one.
    application: str = param(default="rbd", on_change="replace", validate=rules.application)
    crush_rule: str | None = param(default=None, auto=True)
    target_size_ratio: float | None = param(default=None, validate=rules.target_size_ratio)
    allow_data_loss: bool = param(default=False)
    adopt: bool = param(default=False)


@dataclass(frozen=True, kw_only=True)
class PoolOutputs:
    pool_id: int | None = None


def _rules(inputs: PoolInputs) -> list[Failure]:
    out: list[Failure] = []
    size, min_size, opt_in = inputs.size, inputs.min_size, inputs.allow_data_loss
    if not is_unknown([size, min_size]) and size is not None and min_size is not None:
        reason = rules.min_size_within_size(size, min_size, "size")
        if reason is None and not is_unknown(opt_in):
            reason = rules.single_copy_writes(min_size, bool(opt_in), "allow_data_loss")
        if reason:
            out.append(("min_size", f"CephPool.min_size: {reason}"))
    if not is_unknown([inputs.autoscale_mode, inputs.pg_num]):
        reason = rules.pg_num_under_autoscale(inputs.autoscale_mode, inputs.pg_num, "autoscale_mode")
        if reason:
            out.append(("pg_num", f"CephPool.pg_num {reason}"))
    return out


def delete_before_replace(old: PoolInputs, new: PoolInputs) -> bool:
    """A new application under the same name needs the old pool gone first."""
    return not is_unknown(new.pool_name) and new.pool_name == old.pool_name


SPEC = Spec("CephPool", PoolInputs, PoolOutputs, rules=_rules, delete_before_replace=delete_before_replace)


class CreateParams(TypedDict):
    """POST /nodes/{node}/ceph/pool, as PveClient.pool_create takes it."""

    name: str
    size: int
    min_size: int
    pg_num: int | None
    pg_autoscale_mode: str
    application: str
    crush_rule: str | None
    target_size_ratio: float | None
    add_storages: bool


class Settings(TypedDict, total=False):
    """PUT /nodes/{node}/ceph/pool/{name}: what to change, as PveClient.pool_set takes it."""

    size: int
    min_size: int
    pg_num: int
    pg_autoscale_mode: str
    crush_rule: str
    target_size_ratio: float


class LivePool(TypedDict):
    """A pool as the pool list shows it, in this resource's terms."""

    pool_name: str | None
    pool_id: int | None
    size: int | None
    min_size: int | None
    pg_num: int | None
    autoscale_mode: str | None
    application: str | None
    crush_rule: str | None
    target_size_ratio: float | None
    bytes_used: int


def create_params(inputs: PoolInputs) -> CreateParams:
    """POST /nodes/{node}/ceph/pool. add_storages is always off: storages are RbdStorage resources."""
    return {
        "name": inputs.pool_name,
        "size": inputs.size,
        "min_size": inputs.min_size,
        "pg_num": inputs.pg_num or (AUTOSCALE_START_PG_NUM if inputs.autoscale_mode == "on" else None),
        "pg_autoscale_mode": inputs.autoscale_mode,
        "application": inputs.application,
        "crush_rule": inputs.crush_rule,
        "target_size_ratio": inputs.target_size_ratio,
        "add_storages": False,
    }


def update_params(live: LivePool, wanted: PoolInputs) -> Settings:
    """PUT /nodes/{node}/ceph/pool/{name}: only what differs, size with min_size, no pg_num under autoscale."""
    params: Settings = {}
    if wanted.size is not None and live["size"] != wanted.size:
        params["size"] = wanted.size
    if wanted.min_size is not None and live["min_size"] != wanted.min_size:
        params["min_size"] = wanted.min_size
    if wanted.pg_num is not None and live["pg_num"] != wanted.pg_num and wanted.autoscale_mode != "on":
        params["pg_num"] = wanted.pg_num
    if wanted.autoscale_mode is not None and live["autoscale_mode"] != wanted.autoscale_mode:
        params["pg_autoscale_mode"] = wanted.autoscale_mode
    if wanted.crush_rule is not None and live["crush_rule"] != wanted.crush_rule:
        params["crush_rule"] = wanted.crush_rule
    if wanted.target_size_ratio is not None and live["target_size_ratio"] != wanted.target_size_ratio:
        params["target_size_ratio"] = wanted.target_size_ratio
    if "size" in params or "min_size" in params:  # a new size resets min_size: they travel together
        params["size"], params["min_size"] = wanted.size, wanted.min_size
    return params


def find(pools: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((p for p in pools if p.get("pool_name") == name), None)


def live_view(entry: dict[str, Any]) -> LivePool:
    """A pool list entry in this resource's terms. Ids are strings in the answers of PVE before
    9.1.18 (pve-manager PVE/API2/Ceph/Pool.pm, lspools, coerces them to integers since)."""
    apps = sorted((entry.get("application_metadata") or {}).keys())
    ratio = entry.get("target_size_ratio")
    return {
        "pool_name": entry.get("pool_name"),
        "pool_id": as_int(entry.get("pool")),
        "size": as_int(entry.get("size")),
        "min_size": as_int(entry.get("min_size")),
        "pg_num": as_int(entry.get("pg_num")),
        "autoscale_mode": entry.get("pg_autoscale_mode"),
        "application": apps[0] if len(apps) == 1 else ",".join(apps) or None,
        "crush_rule": entry.get("crush_rule_name"),
        "target_size_ratio": float(ratio) if ratio not in (None, "", 0, 0.0) else None,
        "bytes_used": as_int(entry.get("bytes_used")) or 0,
    }


class Refreshed(TypedDict, total=False):
    """The inputs a refresh takes from the cluster (None where the cluster has nothing)."""

    size: int | None
    min_size: int | None
    pg_num: int | None
    autoscale_mode: str | None
    application: str | None
    crush_rule: str | None
    target_size_ratio: float | None


def refreshed_inputs(old: PoolInputs, live: LivePool) -> Refreshed:
    """The inputs a refresh stores: live values where Ceph keeps them; pg_num only when pinned."""
    out: Refreshed = {
        "size": live["size"],
        "min_size": live["min_size"],
        "autoscale_mode": live["autoscale_mode"],
        "application": live["application"],
        "target_size_ratio": live["target_size_ratio"],
    }
    if old.crush_rule is not None:
        out["crush_rule"] = live["crush_rule"]
    if old.pg_num is not None and live["autoscale_mode"] != "on":
        out["pg_num"] = live["pg_num"]  # under autoscale, pg_num moves by itself and is not drift
    return out


# The rule a pool gets when none is named: Ceph's osd_pool_default_crush_rule picks the cluster's
# first replicated rule, which a new cluster names replicated_rule (ceph src/crush/CrushWrapper.cc,
# add_simple_rule at mkfs; src/mon/OSDMonitor.cc, prepare_new_pool).
DEFAULT_CRUSH_RULE = "replicated_rule"


def takeover(live: LivePool, objects: int, inputs: PoolInputs) -> Takeover:
    """A pool of our name: taken over when it is what create makes (these settings, empty), else refused.

    Its application cannot change (Ceph refuses a second one): another one blocks. Settings an update
    can change, and data in the pool (create makes an empty pool), need adopt=true.
    """
    name = inputs.pool_name
    differences = []
    if live["application"] is not None:
        differences += differ("application", live["application"], inputs.application)
    else:
        differences.append(Difference("application", None, inputs.application, adoptable=True))
    differences += differ("size", live["size"], inputs.size, adoptable=True)
    differences += differ("min_size", live["min_size"], inputs.min_size, adoptable=True)
    differences += differ("autoscale_mode", live["autoscale_mode"], inputs.autoscale_mode, adoptable=True)
    differences += differ("crush_rule", live["crush_rule"], inputs.crush_rule or DEFAULT_CRUSH_RULE, adoptable=True)
    if inputs.pg_num is not None and inputs.autoscale_mode != "on":
        differences += differ("pg_num", live["pg_num"], inputs.pg_num, adoptable=True)
    differences += differ("target_size_ratio", live["target_size_ratio"], inputs.target_size_ratio, adoptable=True)
    if objects > 0 or live["bytes_used"] > 0:
        held = f"{objects} objects, {live['bytes_used']} bytes"
        differences.append(Difference("contents", held, "empty (a create makes an empty pool)", adoptable=True))
    return decide(
        f"pool '{name}'",
        differences,
        adopt=inputs.adopt,
        fix="A pool's application cannot be changed: use another pool name, or remove that pool first",
        facts=f"size {live['size']}/{live['min_size']}, rule {live['crush_rule']}, empty",
    )


def storages_using(storages: list[dict[str, Any]], name: str) -> list[str]:
    """RBD storages whose pool (default `rbd`) or data-pool is this pool."""
    return sorted(
        str(s.get("storage"))
        for s in storages
        if s.get("type") == "rbd" and name in (s.get("pool") or "rbd", s.get("data-pool"))
    )


def objects_of(status: dict[str, Any]) -> int:
    """Objects in the pool per `pool/{name}/status?verbose=1` (0 if not reported); see trusted_objects."""
    stats = status.get("statistics") or {}
    return as_int(stats.get("objects")) or 0


def trusted_objects(
    status: dict[str, Any], version: pve_releases.PveVersion | None, pool_id: int | None, pool_ids: list[int]
) -> int | None:
    """The pool's object count, or None where PVE's answer is another pool's.

    pve-manager PVE/API2/Ceph/Pool.pm getpool loops over `ceph df`'s pools with a condition that lets
    every pool through, so `statistics` is the last pool's (df lists pools by id): on all of 8.x and on
    9.0.0-9.1.11 (pve_releases.pool_status_reports_last_pool). There only the pool with the highest id
    gets its own numbers; for any other the count is unknown, and bytes_used (from the pool list, which
    is per pool on every release) decides alone.
    """
    own_numbers = pool_id is not None and pool_id == max(pool_ids, default=-1)
    if pve_releases.pool_status_reports_last_pool(version) and not own_numbers:
        return None
    return objects_of(status)


def deletion_refusal(
    name: str, live: LivePool, objects: int | None, storages: list[str], allow_data_loss: bool
) -> str | None:
    """Refuse while storages point at the pool or it holds anything (bytes or objects; an empty
    RBD image is objects with no bytes yet). `objects` None: PVE's count cannot be trusted here."""
    if allow_data_loss:
        return None
    reasons = []
    if storages:
        reasons.append(f"RBD storage(s) {', '.join(storages)} point at it")
    if live["bytes_used"] > 0 or (objects or 0) > 0:
        counted = "" if objects is None else f", {objects} objects"
        reasons.append(f"it holds data ({live['bytes_used']} bytes used{counted})")
    if not reasons:
        return None
    return (
        f"refusing to delete pool '{name}': {' and '.join(reasons)}. Remove the storages and their volumes "
        "first, or set allow_data_loss=true"
    )
