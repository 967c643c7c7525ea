"""CephPool decisions: inputs, create and update parameters, reading a pool back, delete guards. Pure."""

from __future__ import annotations

from typing import Any

from dynamic_providers.errors import AlreadyExists
from dynamic_providers.logic.spec import REQUIRED, Failure, Field, Spec
from dynamic_providers.logic.validators import POOL_NAME, between, matches, node_list, one_of
from dynamic_providers.values import as_int, is_unknown

INTERNAL_POOLS = (".mgr", "device_health_metrics")
# The inputs a PUT can change; size and min_size always travel together (size resets min_size).
SETTABLE = ("size", "min_size", "pg_num", "autoscale_mode", "crush_rule", "target_size_ratio")
PVE_NAMES = {"autoscale_mode": "pg_autoscale_mode"}
# Ceph's own default start. PVE's default of 128 (pve-manager PVE/API2/Ceph/Pool.pm, createpool)
# exhausts a small cluster's PG budget after one pool (ceph src/mon/OSDMonitor.cc, check_pg_num).
AUTOSCALE_START_PG_NUM = 32


def _pool_name(value: Any) -> str | None:
    if value in INTERNAL_POOLS or str(value).startswith("."):
        return f"{value!r} is a Ceph-internal pool name"
    return matches(POOL_NAME, "pool name (no ':', '/' or whitespace)")(value)


def _rules(inputs: dict[str, Any]) -> list[Failure]:
    out: list[Failure] = []
    size, min_size = inputs.get("size"), inputs.get("min_size")
    if not is_unknown([size, min_size]) and size is not None and min_size is not None:
        if min_size > size:
            out.append(("min_size", f"CephPool.min_size ({min_size}) is larger than size ({size})"))
        elif min_size < 2 and not is_unknown(inputs.get("allow_data_loss")) and not inputs.get("allow_data_loss"):
            out.append(
                (
                    "min_size",
                    "CephPool.min_size 1 lets a pool accept writes with a single copy, which Proxmox "
                    "warns loses data; set allow_data_loss=true to accept that",
                )
            )
    mode, pg_num = inputs.get("autoscale_mode"), inputs.get("pg_num")
    if mode == "on" and pg_num is not None and not is_unknown(pg_num):
        out.append(
            (
                "pg_num",
                "CephPool.pg_num is managed by the autoscaler while autoscale_mode is 'on'; leave it "
                "unset, or set autoscale_mode to 'off' or 'warn'",
            )
        )
    return out


SPEC = Spec(
    resource="CephPool",
    fields=(
        Field("api_nodes", "str_list", REQUIRED, "update", node_list),
        Field("pool_name", "str", REQUIRED, "replace", _pool_name),
        # Size 1 is refused by Ceph unless forced, and PVE never forces it.
        Field("size", "int", 3, "update", between(2, 7)),
        Field("min_size", "int", 2, "update", between(1, 7)),
        Field("pg_num", "int", None, "update", between(1, 32768), auto=True),
        Field("autoscale_mode", "str", "on", "update", one_of("on", "off", "warn")),
        Field("application", "str", "rbd", "replace", one_of("rbd", "cephfs", "rgw")),  # a second app is refused
        Field("crush_rule", "str", None, "update", auto=True),
        Field("target_size_ratio", "float", None, "update", between(0, 1e6)),
        Field("allow_data_loss", "bool", False),
        Field("adopt", "bool", False),
    ),
    outputs=("pool_id",),
    rules=_rules,
)


def delete_before_replace(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """A new application under the same name needs the old pool gone first."""
    return not is_unknown(news.get("pool_name")) and news.get("pool_name") == olds.get("pool_name")


def create_params(inputs: dict[str, Any]) -> dict[str, Any]:
    """POST /nodes/{node}/ceph/pool. add_storages is always off: storages are RbdStorage resources."""
    return {
        "name": inputs["pool_name"],
        "size": inputs["size"],
        "min_size": inputs["min_size"],
        "pg_num": inputs.get("pg_num") or (AUTOSCALE_START_PG_NUM if inputs["autoscale_mode"] == "on" else None),
        "pg_autoscale_mode": inputs["autoscale_mode"],
        "application": inputs["application"],
        "crush_rule": inputs.get("crush_rule"),
        "target_size_ratio": inputs.get("target_size_ratio"),
        "add_storages": False,
    }


def update_params(live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """PUT /nodes/{node}/ceph/pool/{name}: only what differs, size with min_size, no pg_num under autoscale."""
    params: dict[str, Any] = {}
    for key in SETTABLE:
        value = wanted.get(key)
        if value is None or live.get(key) == value:
            continue
        if key == "pg_num" and wanted.get("autoscale_mode") == "on":
            continue
        params[PVE_NAMES.get(key, key)] = value
    if "size" in params or "min_size" in params:
        params["size"], params["min_size"] = wanted["size"], wanted["min_size"]
    return params


def find(pools: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((p for p in pools if p.get("pool_name") == name), None)


def live_view(entry: dict[str, Any]) -> dict[str, Any]:
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


def refreshed_inputs(old: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The inputs a refresh stores: live values where Ceph keeps them; pg_num only when pinned."""
    out = dict(old)
    for key in ("size", "min_size", "autoscale_mode", "application", "target_size_ratio"):
        out[key] = live[key]
    if old.get("crush_rule") is not None:
        out["crush_rule"] = live["crush_rule"]
    if old.get("pg_num") is not None and live["autoscale_mode"] != "on":
        out["pg_num"] = live["pg_num"]  # under autoscale, pg_num moves by itself and is not drift
    return out


def check_adoptable(live: dict[str, Any], inputs: dict[str, Any]) -> None:
    """Adoption requires what cannot change in place to match; the rest is converged by an update."""
    name = inputs["pool_name"]
    if live["application"] not in (None, inputs["application"]):
        raise AlreadyExists(
            f"pool '{name}' exists with application {live['application']!r}, not "
            f"{inputs['application']!r}; a pool's application cannot be changed"
        )
    if not inputs.get("adopt"):
        raise AlreadyExists(
            f"pool '{name}' already exists; set adopt=true to manage it (PVE would otherwise "
            "silently reconfigure it with a second create)"
        )


def storages_using(storages: list[dict[str, Any]], name: str) -> list[str]:
    """RBD storages whose pool (default `rbd`) or data-pool is this pool."""
    return sorted(
        str(s.get("storage"))
        for s in storages
        if s.get("type") == "rbd" and name in (s.get("pool") or "rbd", s.get("data-pool"))
    )


def objects_of(status: dict[str, Any]) -> int:
    """Objects in the pool per `pool/{name}/status?verbose=1` (0 if not reported).

    PVE 8.3-9.1.11 may report another pool's statistics here (fixed in 9.1.12): that can only
    make a delete refuse wrongly, never let one through wrongly.
    """
    stats = status.get("statistics") or {}
    return as_int(stats.get("objects")) or 0


def deletion_refusal(
    name: str, live: dict[str, Any], objects: int, storages: list[str], allow_data_loss: bool
) -> str | None:
    """Refuse while storages point at the pool or it holds anything (bytes or objects; an empty
    RBD image is objects with no bytes yet)."""
    if allow_data_loss:
        return None
    reasons = []
    if storages:
        reasons.append(f"RBD storage(s) {', '.join(storages)} point at it")
    if live["bytes_used"] > 0 or objects > 0:
        reasons.append(f"it holds data ({live['bytes_used']} bytes used, {objects} objects)")
    if not reasons:
        return None
    return (
        f"refusing to delete pool '{name}': {' and '.join(reasons)}. Remove the storages and their volumes "
        "first, or set allow_data_loss=true"
    )
