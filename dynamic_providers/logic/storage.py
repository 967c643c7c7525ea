"""RbdStorage decisions: inputs, create and update parameters, reading it back, delete guard. Pure."""

from __future__ import annotations

from typing import Any

from dynamic_providers.errors import AlreadyExists
from dynamic_providers.logic.spec import REQUIRED, Field, Spec
from dynamic_providers.logic.validators import NODE, POOL_NAME, STORAGE_ID, matches
from dynamic_providers.values import as_bool, is_unknown, split_list

CONTENT_TYPES = ("images", "rootdir")


def _content(value: Any) -> str | None:
    bad = [c for c in value if c not in CONTENT_TYPES]
    if not value:
        return "needs at least one of images, rootdir"
    return f"RBD storage holds only images and rootdir, not {', '.join(bad)}" if bad else None


def _nodes(value: Any) -> str | None:
    bad = [n for n in value if not NODE.match(n)]
    return f"not node names: {', '.join(bad)}" if bad else None


SPEC = Spec(
    resource="RbdStorage",
    fields=(
        Field("storage", "str", REQUIRED, "replace", matches(STORAGE_ID, "storage id")),
        Field("pool", "str", REQUIRED, "replace", matches(POOL_NAME, "pool name")),  # re-points the data
        Field("content", "str_list", ["images"], "update", _content, as_set=True),
        Field("krbd", "bool", False),
        Field("nodes", "str_list", None, "update", _nodes, as_set=True),  # None: every node
        Field("allow_delete_with_volumes", "bool", False),
        Field("adopt", "bool", False),
    ),
)


def delete_before_replace(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Storage ids are unique: the same id on another pool needs the old entry gone first."""
    return not is_unknown(news.get("storage")) and news.get("storage") == olds.get("storage")


def create_params(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "storage": inputs["storage"],
        "type": "rbd",
        "pool": inputs["pool"],
        "content": ",".join(sorted(inputs["content"])),
        "krbd": bool(inputs["krbd"]),
        "nodes": ",".join(sorted(inputs["nodes"])) if inputs.get("nodes") else None,
    }


def update_params(live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """PUT /storage/{id}: what differs; clearing `nodes` is a `delete=nodes`."""
    params: dict[str, Any] = {}
    if sorted(live["content"]) != sorted(wanted["content"]):
        params["content"] = ",".join(sorted(wanted["content"]))
    if live["krbd"] != wanted["krbd"]:
        params["krbd"] = bool(wanted["krbd"])
    if sorted(live["nodes"] or []) != sorted(wanted.get("nodes") or []):
        if wanted.get("nodes"):
            params["nodes"] = ",".join(sorted(wanted["nodes"]))
        else:
            params["delete"] = "nodes"
    return params


def find(storages: list[dict[str, Any]], storage: str) -> dict[str, Any] | None:
    return next((s for s in storages if s.get("storage") == storage), None)


def live_view(entry: dict[str, Any]) -> dict[str, Any]:
    """PVE's defaults made explicit: pool `rbd`, content `images`; lists compared as sets."""
    return {
        "storage": entry.get("storage"),
        "type": entry.get("type"),
        "pool": entry.get("pool") or "rbd",
        "content": sorted(split_list(entry.get("content")) or ["images"]),
        "krbd": as_bool(entry.get("krbd")),
        "nodes": sorted(split_list(entry.get("nodes"))) or None,
    }


def check_adoptable(live: dict[str, Any], inputs: dict[str, Any]) -> None:
    sid = inputs["storage"]
    if live["type"] != "rbd":
        raise AlreadyExists(f"storage '{sid}' already exists with type {live['type']!r}, not rbd")
    if live["pool"] != inputs["pool"]:
        raise AlreadyExists(f"storage '{sid}' already exists on pool {live['pool']!r}, not {inputs['pool']!r}")
    if not inputs.get("adopt"):
        raise AlreadyExists(f"storage '{sid}' already exists; set adopt=true to manage it")


def deletion_refusal(sid: str, volumes: list[dict[str, Any]], allowed: bool) -> str | None:
    """PVE deletes a storage's config regardless of its volumes (pve-storage src/PVE/API2/Storage/Config.pm,
    delete); we do not, by default."""
    if allowed or not volumes:
        return None
    names = [str(v.get("volid")) for v in volumes[:5]]
    more = f" and {len(volumes) - 5} more" if len(volumes) > 5 else ""
    return (
        f"refusing to delete storage '{sid}': it holds {len(volumes)} volume(s) ({', '.join(names)}{more}). "
        "Move or delete them first, or set allow_delete_with_volumes=true (the volumes stay in the pool)"
    )
