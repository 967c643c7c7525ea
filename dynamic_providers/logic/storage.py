"""RbdStorage decisions: inputs, create and update parameters, reading it back, delete guard. Pure."""

from __future__ import annotations

from typing import Any, TypedDict

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import NoOutputs, Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide, differ
from dynamic_providers.values import as_bool, is_unknown, split_list

CONTENT_TYPES = rules.RBD_CONTENT


@resource_inputs
class StorageInputs:
    storage: str = param(on_change="replace", validate=rules.storage_id)
    pool: str = param(on_change="replace", validate=rules.pool_name)  # re-points the data
    content: tuple[str, ...] = param(default=("images",), validate=rules.rbd_content, as_set=True)
    krbd: bool = param(default=False)
    nodes: tuple[str, ...] | None = param(default=None, validate=rules.node_names, as_set=True)  # None: every node
    allow_delete_with_volumes: bool = param(default=False)
    adopt: bool = param(default=False)


def delete_before_replace(old: StorageInputs, new: StorageInputs) -> bool:
    """Storage ids are unique: the same id on another pool needs the old entry gone first."""
    return not is_unknown(new.storage) and new.storage == old.storage


SPEC = Spec("RbdStorage", StorageInputs, NoOutputs, delete_before_replace=delete_before_replace)


class CreateParams(TypedDict):
    """POST /storage, as PveClient.storage_create takes it."""

    storage: str
    type: str
    pool: str
    content: str
    krbd: bool
    nodes: str | None


class Settings(TypedDict, total=False):
    """PUT /storage/{storage}: what to change, as PveClient.storage_update takes it."""

    content: str
    krbd: bool
    nodes: str
    delete: str


class LiveStorage(TypedDict):
    """A storage as /storage lists it, PVE's defaults made explicit."""

    storage: str | None
    type: str | None
    pool: str
    content: list[str]
    krbd: bool
    nodes: list[str] | None


def create_params(inputs: StorageInputs) -> CreateParams:
    return {
        "storage": inputs.storage,
        "type": "rbd",
        "pool": inputs.pool,
        "content": ",".join(sorted(inputs.content)),
        "krbd": bool(inputs.krbd),
        "nodes": ",".join(sorted(inputs.nodes)) if inputs.nodes else None,
    }


def update_params(live: LiveStorage, wanted: StorageInputs) -> Settings:
    """PUT /storage/{id}: what differs; clearing `nodes` is a `delete=nodes`."""
    params: Settings = {}
    if sorted(live["content"]) != sorted(wanted.content):
        params["content"] = ",".join(sorted(wanted.content))
    if live["krbd"] != wanted.krbd:
        params["krbd"] = bool(wanted.krbd)
    if sorted(live["nodes"] or []) != sorted(wanted.nodes or []):
        if wanted.nodes:
            params["nodes"] = ",".join(sorted(wanted.nodes))
        else:
            params["delete"] = "nodes"
    return params


def find(storages: list[dict[str, Any]], storage: str) -> dict[str, Any] | None:
    return next((s for s in storages if s.get("storage") == storage), None)


def live_view(entry: dict[str, Any]) -> LiveStorage:
    """PVE's defaults made explicit: pool `rbd`, content `images`; lists compared as sets."""
    return {
        "storage": entry.get("storage"),
        "type": entry.get("type"),
        "pool": entry.get("pool") or "rbd",
        "content": sorted(split_list(entry.get("content")) or ["images"]),
        "krbd": as_bool(entry.get("krbd")),
        "nodes": sorted(split_list(entry.get("nodes"))) or None,
    }


# What GET /storage lists for an RBD storage create makes (storage.cfg's keys, and the digest). Any other
# option (monhost, username, namespace, data-pool, disable, ...) is something create never writes: an
# external cluster, another namespace, a disabled storage (pve-storage src/PVE/Storage/RBDPlugin.pm).
CREATED_KEYS = frozenset({"storage", "type", "pool", "content", "krbd", "nodes", "digest", "shared"})


def takeover(entry: dict[str, Any], inputs: StorageInputs) -> Takeover:
    """A storage of our id: taken over when it is an RBD storage on our pool with our options.

    Its type, pool and options create never writes block; content, krbd and nodes, which an update
    changes, need adopt=true.
    """
    live = live_view(entry)
    differences = differ("type", live["type"], "rbd") + differ("pool", live["pool"], inputs.pool)
    for key in sorted(set(entry) - CREATED_KEYS):
        differences.append(Difference(key, entry[key], None))
    differences += differ("content", sorted(live["content"]), sorted(inputs.content), adoptable=True)
    differences += differ("krbd", live["krbd"], bool(inputs.krbd), adoptable=True)
    differences += differ("nodes", live["nodes"], sorted(inputs.nodes) if inputs.nodes else None, adoptable=True)
    return decide(
        f"storage '{inputs.storage}'",
        differences,
        adopt=inputs.adopt,
        fix="Use another storage id, or remove that storage first (pvesm remove; its volumes stay where they are)",
        facts=f"rbd on pool {live['pool']}, content {','.join(live['content'])}",
    )


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
