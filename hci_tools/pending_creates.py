"""What to do with each create an interrupted `pulumi up` left pending: import it, clear it, or refuse. Pure.

A run killed while creating leaves a *pending create* in the stack's state, and Pulumi never clears
one by itself (pulumi/pulumi pkg/backend/snapshot.go: "pending CREATE operations ... must require user
intervention"), so `pulumi stack export` lists it even after a later `up` succeeded. Our dynamic
resources need nothing more: cleared, their create runs again and takes over what the interrupted
one made (docs/architecture.md, "Resuming"). A pulumi-proxmoxve resource cannot: its create fails on
the object the killed run made ("VM 101 already exists"). So each one is matched to what PVE holds:

- nothing there: cleared; the next `up` creates it;
- the object the declaration describes (same identity, and the settings a create sets): imported
  under PVE's id (bpg's import id formats: `node/vmid`, `vm:101`, the rule or group name,
  `node,handle`, `node,path,index`), after which `refresh` reads it and `up` converges the rest;
- something else under that identity (another VM with this vmid, ...): refused, naming both sides;
  nothing is changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dynamic_providers.logic.takeover import Difference, differ
from dynamic_providers.values import as_int, split_list

DYNAMIC = "pulumi-python:dynamic"  # pulumi-python:dynamic/<module>:<Name>, or :Resource without a module
VM = "proxmoxve:index/vmLegacy:VmLegacy"
HA_RESOURCE = "proxmoxve:index/haresource:Haresource"
HA_RULE = "proxmoxve:index/harule:Harule"
HA_GROUP = "proxmoxve:index/hagroup:Hagroup"
APT_STANDARD = "proxmoxve:apt/standard/repository:Repository"
APT_REPOSITORY = "proxmoxve:apt/repository:Repository"
APT_REPOSITORY_TYPES = (APT_REPOSITORY,)

Action = Literal["import", "clear", "refuse"]


@dataclass(frozen=True)
class Pending:
    urn: str
    type: str
    inputs: Mapping[str, Any]
    parent: str | None = None  # its parent's URN
    protect: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Resolution:
    pending: Pending
    action: Action
    id: str | None = None  # the import id
    reason: str = ""


@dataclass
class PveFacts:
    """What PVE holds, as far as pending creates need it."""

    vms: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # vmid -> (node, its config)
    ha_resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid -> entry
    ha_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    ha_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    apt: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> GET .../apt/repositories


def pending_creates(export: Mapping[str, Any]) -> list[Pending]:
    """The pending creates of `pulumi stack export`'s document."""
    operations = (export.get("deployment") or {}).get("pending_operations") or []
    return [
        Pending(
            str(op["resource"]["urn"]),
            str(op["resource"]["type"]),
            op["resource"].get("inputs") or {},
            op["resource"].get("parent"),
            bool(op["resource"].get("protect", False)),
        )
        for op in operations
        if op.get("type") == "creating"
    ]


def pending_deletes(export: Mapping[str, Any]) -> list[Pending]:
    """The pending deletes of pulumi-proxmoxve resources (ours resume by themselves: their delete
    finds the object gone and succeeds)."""
    operations = (export.get("deployment") or {}).get("pending_operations") or []
    return [
        Pending(str(op["resource"]["urn"]), str(op["resource"]["type"]), op["resource"].get("inputs") or {})
        for op in operations
        if op.get("type") == "deleting" and not str(op["resource"]["type"]).startswith(DYNAMIC)
    ]


def delete_done(pending: Pending, facts: PveFacts) -> bool:
    """Did the interrupted delete finish in PVE? Then Pulumi's rerun of it would fail: bpg's deletes
    of an HA resource, rule or group refuse one that is gone ("cannot delete service 'vm:101', not
    HA managed!"). Unknown kinds: False (the rerun decides)."""
    inputs = pending.inputs
    if pending.type == HA_RESOURCE:
        return str(inputs.get("resourceId")) not in facts.ha_resources
    if pending.type == HA_RULE:
        return str(inputs.get("rule")) not in facts.ha_rules
    if pending.type == HA_GROUP:
        return str(inputs.get("group")) not in facts.ha_groups
    if pending.type == VM:
        return as_int(inputs.get("vmId")) not in facts.vms
    return False


def pending_vm_updates(export: Mapping[str, Any]) -> list[Pending]:
    """The pending updates of VMs, each with its inputs as the state holds them (its node before the update)."""
    deployment = export.get("deployment") or {}
    stored = {str(r.get("urn")): r for r in deployment.get("resources") or []}
    out = []
    for op in deployment.get("pending_operations") or []:
        urn = str(op["resource"]["urn"])
        if op.get("type") == "updating" and op["resource"]["type"] == VM and urn in stored:
            state = stored[urn]
            out.append(Pending(urn, VM, {**(state.get("inputs") or {}), **(state.get("outputs") or {})}))
    return out


def moved_away(pending: Pending, facts: PveFacts) -> str | None:
    """The node a VM with a pending update runs on now, when it is not the one the state holds: a live
    migration the killed run started and PVE finished. bpg's rerun would look for the VM on the old node
    and fail ("failed to get VM 103 status ... does not exist"); a refresh of it reads the node it is on."""
    vmid = as_int(pending.inputs.get("vmId"))
    found = facts.vms.get(vmid) if vmid is not None else None
    if found is None or found[0] == pending.inputs.get("nodeName"):
        return None
    return found[0]


def other_pending(export: Mapping[str, Any]) -> list[str]:
    """Pending operations that are not creates (Pulumi drops them at the next update)."""
    operations = (export.get("deployment") or {}).get("pending_operations") or []
    return [f"{op.get('type')} {op['resource']['urn']}" for op in operations if op.get("type") != "creating"]


def resolve(pending: Pending, facts: PveFacts) -> Resolution:
    kind = pending.type
    if kind.startswith(DYNAMIC):
        return Resolution(pending, "clear", reason="its create runs again and takes over what was made")
    if kind == VM:
        return _vm(pending, facts)
    if kind == HA_RESOURCE:
        sid = str(pending.inputs.get("resourceId"))
        found = facts.ha_resources.get(sid)
        return _matched(pending, sid, found, _ha_resource_differences(pending.inputs, found) if found else [])
    if kind == HA_RULE:
        name = str(pending.inputs.get("rule"))
        found = facts.ha_rules.get(name)
        return _matched(pending, name, found, _ha_rule_differences(pending.inputs, found) if found else [])
    if kind == HA_GROUP:
        name = str(pending.inputs.get("group"))
        found = facts.ha_groups.get(name)
        return _matched(pending, name, found, _ha_group_differences(pending.inputs, found) if found else [])
    if kind == APT_STANDARD:
        node, handle = str(pending.inputs.get("node")), str(pending.inputs.get("handle"))
        standard = {r.get("handle"): r for r in (facts.apt.get(node) or {}).get("standard-repos") or []}
        configured = (standard.get(handle) or {}).get("status") is not None
        return _matched(pending, f"{node},{handle}", {} if configured else None, [])
    if kind in APT_REPOSITORY_TYPES:
        node, path = str(pending.inputs.get("node")), str(pending.inputs.get("filePath"))
        index = as_int(pending.inputs.get("index"))
        files = {f.get("path"): f for f in (facts.apt.get(node) or {}).get("files") or []}
        repos = (files.get(path) or {}).get("repositories") or []
        there = index is not None and 0 <= index < len(repos)
        return _matched(pending, f"{node},{path},{index}", {} if there else None, [])
    return Resolution(pending, "clear", reason=f"{kind} is not one the program declares; its create runs again")


def _matched(
    pending: Pending, import_id: str, found: Mapping[str, Any] | None, differences: Sequence[Difference]
) -> Resolution:
    if found is None:
        return Resolution(pending, "clear", reason="PVE holds nothing under its id; the next up creates it")
    if differences:
        return Resolution(pending, "refuse", import_id, _refusal(import_id, differences))
    return Resolution(pending, "import", import_id, "PVE holds what it declares")


def _refusal(what: str, differences: Sequence[Difference]) -> str:
    return (
        f"PVE already holds {what}, and it is not what this resource declares: {'; '.join(map(str, differences))}. "
        "Nothing was changed. Remove that object, or change the declaration to another id, then run this again"
    )


def _vm(pending: Pending, facts: PveFacts) -> Resolution:
    inputs = pending.inputs
    vmid = as_int(inputs.get("vmId"))
    if vmid is None or vmid not in facts.vms:
        return Resolution(pending, "clear", reason="PVE has no VM with its vmId; the next up creates it")
    node, config = facts.vms[vmid]
    differences = vm_differences(inputs, config)
    if differences:
        return Resolution(pending, "refuse", f"{node}/{vmid}", _refusal(f"VM {vmid}", differences))
    return Resolution(pending, "import", f"{node}/{vmid}", f"VM {vmid} on {node} is the declared one")


def vm_differences(inputs: Mapping[str, Any], config: Mapping[str, Any]) -> list[Difference]:
    """What bpg's create writes in one qmcreate: the name, memory, cores and each disk's storage."""
    out = differ("name", config.get("name"), inputs.get("name"))
    memory = (inputs.get("memory") or {}).get("dedicated")
    if memory is not None:
        out += differ("memory", as_int(str(config.get("memory", "")).split(",")[0] or None), as_int(memory))
    cores = (inputs.get("cpu") or {}).get("cores")
    if cores is not None:
        out += differ("cores", as_int(config.get("cores")) or 1, as_int(cores))
    for disk in inputs.get("disks") or []:
        key = str(disk.get("interface"))
        volume = str(config.get(key) or "")
        storage = volume.split(":", 1)[0] if ":" in volume else None
        out += differ(f"{key} storage", storage, disk.get("datastoreId"))
    return out


def _ha_resource_differences(inputs: Mapping[str, Any], found: Mapping[str, Any]) -> list[Difference]:
    out = differ("state", found.get("state") or "started", inputs.get("state") or "started")
    out += differ("max_restart", as_int(found.get("max_restart", 1)), as_int(inputs.get("maxRestart", 1)))
    out += differ("max_relocate", as_int(found.get("max_relocate", 1)), as_int(inputs.get("maxRelocate", 1)))
    out += differ("comment", found.get("comment") or None, inputs.get("comment") or None)
    return out + differ("group", found.get("group") or None, inputs.get("group") or None)


def _ha_rule_differences(inputs: Mapping[str, Any], found: Mapping[str, Any]) -> list[Difference]:
    out = differ("type", found.get("type"), inputs.get("type"))
    return out + differ(
        "resources", sorted(split_list(found.get("resources"))), sorted(map(str, inputs.get("resources") or []))
    )


def _ha_group_differences(inputs: Mapping[str, Any], found: Mapping[str, Any]) -> list[Difference]:
    nodes = sorted(part.split(":", 1)[0] for part in split_list(found.get("nodes")))
    return differ("nodes", nodes, sorted(map(str, inputs.get("nodes") or {})))
