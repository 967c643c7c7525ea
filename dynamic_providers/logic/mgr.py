"""CephManager decisions: inputs, identity, reading the mgr list, when removal is refused. Pure.

The first MON's task creates `mgr.<node>` by itself (pve-manager PVE/API2/Ceph/MON.pm: createmon
calls createmgr for the first monitor), so a manager with the declared id on the declared node is
always taken over, `adopt` or not: refusing it would make the standard first-MON layout
impossible to declare. The same rule finishes an interrupted create (logic/takeover.py).
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
