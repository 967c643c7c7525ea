"""The HCI policy rules as pure functions over plain resource views: no pulumi_policy import, so
they are unit-tested in the project's virtualenv and wired into a PolicyPack by `pack.py`.

What a stack is comes from its tags (`pulumi stack tag set proxmox-hci:kind lab|cluster`). A stack
without the tag is held to the cluster rules: forgetting a tag must never loosen a guard rail.

Resource types and property names are the program's (docs/architecture.md): the dynamic
resources' inputs are snake_case as their classes declare them, the bridged proxmoxve resources'
are Pulumi's camelCase names (`vmId`, `datastoreId`, `resourceId`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KIND_TAG = "proxmox-hci:kind"
PVE_TAG = "proxmox-hci:pve"
LAB = "lab"
CLUSTER = "cluster"
KINDS = (LAB, CLUSTER)

OSD = "pulumi-python:dynamic/ceph:Osd"
POOL = "pulumi-python:dynamic/ceph:Pool"
MON = "pulumi-python:dynamic/ceph:Monitor"
MGR = "pulumi-python:dynamic/ceph:Manager"
RBD_STORAGE = "pulumi-python:dynamic/storage:Rbd"
DISK_MOVE = "pulumi-python:dynamic/vm:DiskMove"
VM = "proxmoxve:index/vmLegacy:VmLegacy"
HA_RESOURCE = "proxmoxve:index/haresource:Haresource"

# What holds data, so must be protected on a cluster: deleting it deletes the data.
DATA_BEARING = {OSD: "OSD", POOL: "pool", RBD_STORAGE: "RBD storage", VM: "VM"}
# The input that lets a provider destroy data, per resource type (all set from allowDataLoss).
DATA_LOSS_FLAGS = {
    OSD: "allow_data_loss",
    POOL: "allow_data_loss",
    RBD_STORAGE: "allow_delete_with_volumes",
    MON: "allow_shrink",
    MGR: "allow_last_removal",
}


class _Unknown:
    """A value Pulumi cannot know during preview; a rule that meets one does not judge."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    dependencies: tuple[str, ...] = ()  # URNs

    def label(self) -> str:
        return f"{DATA_BEARING.get(self.type, self.type.rsplit(':', 1)[-1])} {self.name}"


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str = ""


@dataclass(frozen=True)
class Stack:
    """What the rules know of the stack besides its resources."""

    tags: Mapping[str, str] = field(default_factory=dict)
    shared_storages: tuple[str, ...] = ()  # the stack's sharedStorages key

    @property
    def kind(self) -> str:
        return self.tags.get(KIND_TAG, CLUSTER) if self.tags.get(KIND_TAG) in KINDS else CLUSTER

    @property
    def is_lab(self) -> bool:
        return self.kind == LAB


def known(value: Any) -> bool:
    return value is not UNKNOWN and value is not None


def _int(value: Any) -> int | None:
    """An integer property, or None when it is unknown, absent or not a number."""
    try:
        return int(value) if known(value) else None
    except (TypeError, ValueError):
        return None


# -- resource rules: one resource at a time ----------------------------------------------------------


def pool_replicas(resource: Resource, stack: Stack) -> list[Violation]:
    """Pool size >= 3 and min_size >= 2 on every stack that is not a lab."""
    if resource.type != POOL or stack.is_lab:
        return []
    size, min_size = _int(resource.props.get("size")), _int(resource.props.get("min_size"))
    pool = resource.props.get("pool_name", resource.name)
    out = []
    if size is not None and size < 3:
        out.append(
            Violation(
                f"pool {pool} ({resource.name}) has size {size}: on a {stack.kind} stack one failed host must not "
                f"leave a single copy of the data. Set size: 3 for this pool under proxmox-hci:pools "
                f"in the stack's Pulumi.<stack>.yaml.",
                resource.urn,
            )
        )
    if min_size is not None and min_size < 2:
        out.append(
            Violation(
                f"pool {pool} ({resource.name}) has min_size {min_size}: Ceph would accept writes with one copy "
                f"and lose them with the next failure. Set minSize: 2 for this pool under proxmox-hci:pools.",
                resource.urn,
            )
        )
    return out


def data_protected(resource: Resource, stack: Stack) -> list[Violation]:
    """OSDs, pools, RBD storages and VMs carry Pulumi's protect flag on every stack that is not a lab."""
    if resource.type not in DATA_BEARING or stack.is_lab or resource.protect:
        return []
    if resource.type == OSD and resource.props.get("retired") is True:
        return []  # its node is retiring (nodes[].retire): drained before destroyed, then a record only
    fix = (
        "Set proxmox-hci:protect to true and drop this VM's vms[].protect: false"
        if resource.type == VM
        else "Set proxmox-hci:protect to true (`pulumi config set protect true`)"
    )
    return [
        Violation(
            f"{resource.label()} holds data but is not protected: on a {stack.kind} stack a `pulumi destroy` or "
            f"a removed config entry would delete it outright. {fix}.",
            resource.urn,
        )
    ]


def no_data_loss(resource: Resource, stack: Stack) -> list[Violation]:
    """allowDataLoss (each provider's flag that lets it destroy data) is never on outside a lab."""
    flag = DATA_LOSS_FLAGS.get(resource.type)
    if flag is None or stack.is_lab or resource.props.get(flag) is not True:
        return []
    return [
        Violation(
            f"{resource.label()} has {flag} on (proxmox-hci:allowDataLoss), which lets the provider delete OSDs, "
            f"pools and storages that hold data: never on a {stack.kind} stack. Set it off: "
            f"`pulumi config set allowDataLoss false`.",
            resource.urn,
        )
    ]


RESOURCE_RULES = (pool_replicas, data_protected, no_data_loss)


# -- stack rules: the whole planned stack ------------------------------------------------------------


def of_type(resources: Iterable[Resource], type_: str) -> list[Resource]:
    return [r for r in resources if r.type == type_]


def monitor_quorum(resources: list[Resource], stack: Stack) -> list[Violation]:
    """An odd number of MONs, at least 3, each on its own node."""
    mons = sorted(of_type(resources, MON), key=lambda r: r.name)
    if not mons:
        return []
    out = []
    nodes = [r.props.get("node") for r in mons]
    for node, count in Counter(n for n in nodes if known(n)).items():
        if count > 1:
            names = ", ".join(r.name for r in mons if r.props.get("node") == node)
            out.append(
                Violation(
                    f"{count} MONs ({names}) run on node {node}: losing that node loses {count} votes of the "
                    f"quorum at once. Put each MON on its own node (proxmox-hci:monitors lists distinct nodes).",
                    next(r.urn for r in mons if r.props.get("node") == node),
                )
            )
    count = len(mons)
    if count < 3:
        out.append(
            Violation(
                f"{count} MON(s) ({', '.join(r.name for r in mons)}): fewer than 3 cannot keep a quorum through "
                f"the loss of a node. List 3 nodes (or 5) under proxmox-hci:monitors."
            )
        )
    elif count % 2 == 0:
        out.append(
            Violation(
                f"{count} MONs ({', '.join(r.name for r in mons)}): an even count tolerates no more failures than "
                f"{count - 1} and can split into two equal halves. List {count - 1} or {count + 1} nodes under "
                f"proxmox-hci:monitors."
            )
        )
    return out


def manager_standby(resources: list[Resource], stack: Stack) -> list[Violation]:
    """At least 2 MGRs: one active, one standby to take over."""
    mgrs = of_type(resources, MGR)
    if not mgrs or len(mgrs) >= 2:
        return []
    return [
        Violation(
            f"only one MGR ({mgrs[0].name}): without a standby, the dashboards, the balancer and the PG "
            f"autoscaler stop when its node does. List a second node under proxmox-hci:managers.",
            mgrs[0].urn,
        )
    ]


def ha_disks_on_shared_storage(resources: list[Resource], stack: Stack) -> list[Violation]:
    """An HA-managed VM's disks end on shared storage (an RBD storage of the stack, or sharedStorages),
    or HA cannot restart it on another node. A disk created on local storage and moved by a
    DiskMove counts where it is moved to."""
    shared = {str(r.props.get("storage")) for r in of_type(resources, RBD_STORAGE) if known(r.props.get("storage"))}
    shared.update(stack.shared_storages)
    vms = of_type(resources, VM)
    by_id = {vm_id: vm for vm in vms if (vm_id := _int(vm.props.get("vmId"))) is not None}
    moves = of_type(resources, DISK_MOVE)
    out = []
    for ha in of_type(resources, HA_RESOURCE):
        sid = ha.props.get("resourceId")
        if not known(sid) or not str(sid).startswith("vm:"):
            continue
        vm = by_id.get(_int(str(sid).removeprefix("vm:")) or -1)
        if vm is None:
            continue
        final: dict[str, Any] = {}
        for disk in vm.props.get("disks") or []:
            if isinstance(disk, Mapping) and known(disk.get("interface")):
                final[str(disk["interface"])] = disk.get("datastoreId")
        for move in moves:
            move_vm = _int(move.props.get("vm_id"))
            ours = move_vm == _int(vm.props.get("vmId")) or (move_vm is None and vm.urn in move.dependencies)
            if ours and known(move.props.get("disk")) and str(move.props["disk"]) in final:
                final[str(move.props["disk"])] = move.props.get("storage")
        local = sorted(f"{iface} on {store}" for iface, store in final.items() if known(store) and store not in shared)
        if local:
            vm_name, vm_id = vm.props.get("name", vm.name), _int(vm.props.get("vmId"))
            out.append(
                Violation(
                    f"VM {vm_name} (vm:{vm_id}) is HA-managed ({ha.name}) but "
                    f"has disks on storage other nodes cannot reach ({', '.join(local)}), so HA cannot restart it "
                    f"elsewhere. Put them on a Ceph storage (disks[].storage or disks[].moveTo: a pools[].storage), "
                    f"list a shared storage under proxmox-hci:sharedStorages, or drop the VM's ha.",
                    vm.urn,
                )
            )
    return out


def stack_kind_tagged(resources: list[Resource], stack: Stack) -> list[Violation]:
    """Say what the stack is, so the right rules apply."""
    value = stack.tags.get(KIND_TAG)
    if value in KINDS:
        return []
    said = f"is {value!r}, not lab or cluster" if value else "is not set"
    return [
        Violation(
            f"the stack tag {KIND_TAG} {said}, so the stack is held to the cluster rules. Tag it: "
            f"`pulumi stack tag set {KIND_TAG} cluster` (or lab, for a lab from `python -m hci_tools.lab_stack`)."
        )
    ]


STACK_RULES = (monitor_quorum, manager_standby, ha_disks_on_shared_storage, stack_kind_tagged)


def shared_storages_from_config(config: Mapping[str, Any], project: str = "proxmox-hci") -> tuple[str, ...]:
    """The stack's sharedStorages key from the engine's config bag (values are JSON text)."""
    raw = config.get(f"{project}:sharedStorages")
    if raw is None:
        return ()
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
