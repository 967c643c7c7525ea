"""Node maintenance decisions: where a node's VMs go, whether Ceph lets the node stop, what is left. Pure.

The procedure (PVE docs, /work/shared/reference/day2-procedures.md 2 d)): HA guests leave through HA,
the others are live-migrated, then `ceph osd ok-to-stop <the node's OSDs>` and `ceph mon ok-to-stop`,
then noout; afterwards noout is cleared and HA moves its guests back by its rules.

What PVE's API offers for it, and so what the program does instead:
- `ha-manager crm-command node-maintenance enable` is CLI-only (pve-ha-manager src/PVE/CLI/ha_manager.pm;
  no API2 path). The program takes the node out of the HA groups (PVE 8) or node-affinity rules (PVE 9)
  while it is in maintenance, so the CRM moves the services off by its own rules (pve-ha-manager
  src/PVE/HA/Manager.pm next_state_started -> select_service_node), and back (failback) afterwards.
- Ceph's host-scoped `ceph osd set-group noout <host>` has no API: pve-manager PVE/API2/Cluster/Ceph.pm
  offers only the cluster-wide flags (PUT /cluster/ceph/flags/noout). So noout is cluster-wide, and
  the provider says so.
- GET /nodes/{node}/ceph/cmd-safety sends `ids => [$id]`, one id (pve-manager PVE/API2/Ceph.pm
  cmd_safety): each OSD of the node is asked on its own. With failure domain host (what the program's
  pools use) a PG has at most one copy on the node, so each OSD's answer covers the node's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs

NOOUT = "noout"
NOOUT_SCOPE = (
    "noout is set cluster-wide: PVE's API has no host-scoped `ceph osd set-group noout` "
    "(pve-manager PVE/API2/Cluster/Ceph.pm offers only PUT /cluster/ceph/flags/noout), so no OSD of any node "
    "is marked out while it is set"
)


def evacuation_node(node: str, order: Sequence[str], in_maintenance: Collection[str]) -> str | None:
    """Where a VM declared on `node` runs: the node itself, or, while it is in maintenance, the next node
    after it in `order` (the stack's `nodes`, wrapping round) that is not in maintenance; None if none is."""
    if node not in in_maintenance:
        return node
    if node not in order:
        return None
    start = order.index(node)
    for step in range(1, len(order)):
        candidate = order[(start + step) % len(order)]
        if candidate not in in_maintenance:
            return candidate
    return None


def without_nodes(nodes: Mapping[str, int | None], gone: Collection[str]) -> dict[str, int | None]:
    """An HA group's or node-affinity rule's nodes while `gone` are in maintenance (order kept)."""
    return {name: priority for name, priority in nodes.items() if name not in gone}


# -- NodeMaintenance: ok-to-stop, and whether noout was set before -----------------------------------


@resource_inputs
class MaintenanceInputs:
    api_nodes: tuple[str, ...] = param(validate=rules.api_nodes, routing=True)
    node: str = param(on_change="replace", validate=rules.node_name)
    # The node's MON id when it runs one (PVE's MON id is its node's name by default); None: no MON.
    mon_id: str | None = param(default=None, validate=rules.service_id)
    timeout: int = param(default=600, validate=rules.health_timeout)  # the wait for active+clean on leaving


@dataclass(frozen=True, kw_only=True)
class MaintenanceOutputs:
    # Whether noout was set before this maintenance began (then it is left set on leaving). Recorded
    # by this resource, which changes nothing; NodeEvacuated sets the flag later, so a run killed
    # right after setting it cannot lose the fact that the flag is the maintenance's own.
    noout_before: bool | None = None
    checked: str | None = None  # what Ceph was asked and said


SPEC = Spec("NodeMaintenance", MaintenanceInputs, MaintenanceOutputs)


@dataclass(frozen=True)
class Safety:
    """One cmd-safety answer: `ceph <service> ok-to-stop <id>`."""

    service: str  # osd | mon
    service_id: str
    safe: bool
    ceph_says: str = ""

    @property
    def name(self) -> str:
        return f"{self.service}.{self.service_id}"


def node_osds(tree_hosts: Mapping[int, str], node: str) -> list[int]:
    """The OSD ids of `node`, from (osd id -> host) of the CRUSH tree."""
    return sorted(osd_id for osd_id, host in tree_hosts.items() if host == node)


def refusal(node: str, answers: Iterable[Safety]) -> str | None:
    """Why `node` may not go into maintenance, in Ceph's words; None when every answer is safe."""
    unsafe = [a for a in answers if not a.safe]
    if not unsafe:
        return None
    said = "; ".join(f"{a.name}: {a.ceph_says or 'not safe (Ceph gave no reason)'}" for a in unsafe)
    return (
        f"node {node} cannot go into maintenance: Ceph says stopping it is not safe ({said}). Nothing was "
        f"changed. Wait until the cluster is active+clean (ceph -s) and every other node's OSDs and MONs are "
        f"up, or set nodes[].maintenance back to false"
    )


def checked_summary(answers: Iterable[Safety]) -> str:
    names = [a.name for a in answers]
    return f"ok-to-stop: {', '.join(names)}" if names else "ok-to-stop: nothing of Ceph runs there"


def leaving_notice(node: str, noout_before: bool | None) -> str:
    if not noout_before:
        return f"node {node} left maintenance: noout cleared (it was set cluster-wide for the maintenance)"
    return (
        f"node {node} left maintenance: noout was already set when its maintenance began, so it was left set; "
        "clear it (ceph osd unset noout, or Ceph > OSD > Manage Global Flags) once nothing else needs it"
    )


# -- NodeEvacuated: wait until no VM runs on the node, then noout --------------------------------------


@resource_inputs
class EvacuationInputs:
    api_nodes: tuple[str, ...] = param(validate=rules.api_nodes, routing=True)
    node: str = param(on_change="replace", validate=rules.node_name)
    # HA resources in no group and no node-affinity rule: HA moves them to `target` on request
    # (POST /cluster/ha/resources/{sid}/migrate); the others follow their group or rule.
    ha_migrate: tuple[str, ...] = param(default=())
    target: str | None = param(default=None, validate=rules.node_name)
    timeout: int = param(default=600, validate=rules.health_timeout)
    triggers: Any = param(default=None)  # a change re-runs the wait (the VMs that were placed)


@dataclass(frozen=True, kw_only=True)
class EvacuationOutputs:
    summary: str | None = None


EVACUATION_SPEC = Spec("NodeEvacuated", EvacuationInputs, EvacuationOutputs)


def running_on(resources: Iterable[Mapping[str, Any]], node: str) -> list[str]:
    """The guests GET /cluster/resources?type=vm shows running on `node`, as `qemu/101 (app1)`."""
    out = []
    for row in resources:
        if row.get("node") == node and row.get("status") == "running":
            name = f" ({row['name']})" if row.get("name") else ""
            out.append(f"{row.get('id') or row.get('vmid')}{name}")
    return sorted(out)


def evacuation_hint(node: str) -> str:
    return (
        f"the guests still running on {node} are neither in the stack's VMs nor moved by HA: migrate them "
        f"yourself (qm migrate <vmid> <node> --online), or check `ha-manager status` for HA services in error; "
        f"noout stays set and the next pulumi up waits again"
    )
