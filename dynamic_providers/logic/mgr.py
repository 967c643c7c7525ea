"""CephManager decisions: inputs, identity, reading the mgr list, when removal is refused. Pure.

The first MON's task creates `mgr.<node>` by itself (pve-manager PVE/API2/Ceph/MON.pm: createmon
calls createmgr for the first monitor), so a manager with the declared id on the declared node is
always taken over, `adopt` or not: refusing it would make the standard first-MON layout
impossible to declare.
"""

from __future__ import annotations

from typing import Any

from dynamic_providers.errors import AlreadyExists
from dynamic_providers.logic.spec import REQUIRED, Field, Spec
from dynamic_providers.logic.validators import NODE, SERVICE_ID, matches
from dynamic_providers.values import is_unknown

RUNNING_STATES = ("active", "standby")

SPEC = Spec(
    resource="CephManager",
    fields=(
        Field("node", "str", REQUIRED, "replace", matches(NODE, "node name")),
        Field("mgr_id", "str", None, "replace", matches(SERVICE_ID, "manager id")),
        Field("allow_last_removal", "bool", False),
        Field("adopt", "bool", False),
    ),
    outputs=("state",),
    complete=lambda inputs: {**inputs, "mgr_id": mgr_id_of(inputs)},
)


def mgr_id_of(inputs: dict[str, Any]) -> Any:
    return inputs.get("mgr_id") or inputs.get("node")


def delete_before_replace(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """MGR ids are cluster-wide (auth mgr.<id>): the same id elsewhere needs the old one gone first."""
    new_id = mgr_id_of(news)
    return not is_unknown(new_id) and new_id == mgr_id_of(olds)


def find(mgrs: list[dict[str, Any]], mgr_id: str) -> dict[str, Any] | None:
    return next((mgr for mgr in mgrs if mgr.get("name") == mgr_id), None)


def check_adoptable(entry: dict[str, Any], node: str) -> None:
    host = entry.get("host")
    if host and host != node:
        raise AlreadyExists(
            f"manager '{entry.get('name')}' already exists on node {host}, not {node}; choose "
            "another mgr_id or remove that manager first"
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
