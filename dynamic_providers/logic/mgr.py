"""CephManager decisions: inputs, identity, reading the mgr list, when removal is refused. Pure.

The first MON's task creates `mgr.<node>` by itself (pve-manager PVE/API2/Ceph/MON.pm: createmon
calls createmgr for the first monitor), so a manager with the declared id on the declared node is
always taken over, `adopt` or not: refusing it would make the standard first-MON layout
impossible to declare. The same rule finishes an interrupted create (logic/takeover.py).

That MGR is PVE's, not the stack's: with `monitors: [pve2, pve3, pve4]` and `managers: [pve3, pve4]`
it lands on pve2, undeclared. So the last declared CephManager carries `declared_managers` (every
declared id) and, once it runs, removes the MGRs not among them (a MGR holds no data): the cluster
ends with exactly the declared MGRs, and a stack that already has such a MGR sees the update in its
preview (the new input) instead of never hearing of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Takeover, decide, differ
from dynamic_providers.values import is_unknown

RUNNING_STATES = ("active", "standby")


@resource_inputs
class MgrInputs:
    node: str = param(on_change="replace", validate=rules.node_name)
    # Stored resolved: the node's name when not given (PVE's default id).
    mgr_id: str | None = param(default=None, on_change="replace", validate=rules.service_id, default_from="node")
    allow_last_removal: bool = param(default=False)
    adopt: bool = param(default=False)  # recorded only: see the module docstring
    # On the last declared MGR: every declared MGR id; the others are removed once this one runs.
    declared_managers: tuple[str, ...] | None = param(default=None, validate=lambda v: _ids(v))


def _ids(value: Any) -> str | None:
    bad = [item for item in value or () if rules.service_id(item) is not None]
    return f"not manager ids: {', '.join(map(repr, bad))}" if bad else None


@dataclass(frozen=True, kw_only=True)
class MgrOutputs:
    state: str | None = None


def mgr_id_of(inputs: MgrInputs) -> str:
    return inputs.mgr_id or inputs.node


def delete_before_replace(old: MgrInputs, new: MgrInputs) -> bool:
    """MGR ids are cluster-wide (auth mgr.<id>): the same id elsewhere needs the old one gone first."""
    new_id = mgr_id_of(new)
    return not is_unknown(new_id) and new_id == mgr_id_of(old)


SPEC = Spec("CephManager", MgrInputs, MgrOutputs, delete_before_replace=delete_before_replace)


def find(mgrs: list[dict[str, Any]], mgr_id: str) -> dict[str, Any] | None:
    return next((mgr for mgr in mgrs if mgr.get("name") == mgr_id), None)


def takeover(entry: dict[str, Any], node: str) -> Takeover:
    """The MGR listed under our id: taken over if it runs on our node (the only thing create decides)."""
    mgr_id = entry.get("name")
    host = entry.get("host") or None
    return decide(
        f"mgr.{mgr_id}",
        differ("node", host, node) if host else [],
        adopt=False,
        fix=f"Choose another mgr_id, or remove that manager first (pveceph mgr destroy {mgr_id})",
        facts=f"on {host or node}",
    )


def undeclared(mgrs: list[dict[str, Any]], declared: tuple[str, ...]) -> list[dict[str, Any]]:
    """The MGRs to remove so that exactly the declared ones are left, provided one declared MGR runs
    (else none: removing the only running MGRs would stop health reports and the autoscaler)."""
    if not any(m.get("name") in declared and m.get("state") in RUNNING_STATES for m in mgrs):
        return []
    return [m for m in mgrs if m.get("name") not in declared]


def removal_refusal(mgrs: list[dict[str, Any]], mgr_id: str, allow_last_removal: bool) -> str | None:
    """PVE has no guard here; without a running MGR the autoscaler and health reporting stop."""
    if allow_last_removal:
        return None
    others = [m for m in mgrs if m.get("name") != mgr_id and m.get("state") in RUNNING_STATES]
    if not others:
        return (
            f"mgr.{mgr_id} is the last running manager: without one, health reports and the PG autoscaler "
            "stop. Add another CephManager first, or set allow_last_removal=true"
        )
    return None
