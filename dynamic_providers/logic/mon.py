"""CephMonitor decisions: inputs, identity, reading the mon list, and when removal is refused. Pure."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, TypedDict

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide, differ
from dynamic_providers.values import as_bool, is_unknown, mon_address_ip

MIN_MONS = 3  # below this a single failure can cost quorum


@resource_inputs
class MonInputs:
    node: str = param(on_change="replace", validate=rules.node_name)
    address: str | None = param(default=None, on_change="replace", validate=rules.ip_address, auto=True)
    # Stored resolved: the node's name when not given (PVE's default id).
    mon_id: str | None = param(default=None, on_change="replace", validate=rules.service_id, default_from="node")
    allow_shrink: bool = param(default=False)
    adopt: bool = param(default=False)  # recorded only: a MON is taken over when it is ours (takeover())


@dataclass(frozen=True, kw_only=True)
class MonOutputs:
    address: str | None = None  # an input too: the address PVE picked when none was given
    in_quorum: bool | None = None


def mon_id_of(inputs: MonInputs) -> str:
    """The monitor's id: the mon_id input, else the node name (PVE's default)."""
    return inputs.mon_id or inputs.node


def delete_before_replace(old: MonInputs, new: MonInputs) -> bool:
    """Only when the id stays the same (e.g. a new address): two MONs cannot share an id.

    Otherwise the new MON is built first and joins quorum before the old one goes, so quorum never
    depends on one MON fewer than declared.
    """
    new_id = mon_id_of(new)
    return not is_unknown(new_id) and new_id == mon_id_of(old)


SPEC = Spec("CephMonitor", MonInputs, MonOutputs, delete_before_replace=delete_before_replace)


class LiveMon(TypedDict):
    """A mon list entry in this resource's terms."""

    node: str | None
    mon_id: str | None
    address: str | None
    in_quorum: bool


def find(mons: list[dict[str, Any]], mon_id: str) -> dict[str, Any] | None:
    return next((mon for mon in mons if mon.get("name") == mon_id), None)


def in_quorum(entry: dict[str, Any] | None) -> bool:
    return entry is not None and as_bool(entry.get("quorum"))


def live_view(entry: dict[str, Any]) -> LiveMon:
    """The mon list entry as this resource's inputs and outputs."""
    return {
        "node": entry.get("host"),
        "mon_id": entry.get("name"),
        "address": mon_address_ip(entry.get("addr")),
        "in_quorum": in_quorum(entry),
    }


def takeover(entry: dict[str, Any], node: str, address: str | None, public_network: str | None) -> Takeover:
    """The MON listed under our id: taken over if it runs on our node at our address, else refused.

    With no address declared, PVE picks the node's one address in the public network (pve-manager
    PVE/API2/Ceph/MON.pm, find_mon_ips, which refuses a node with several), so any address there
    is the one it would pick. Nothing about a MON is adoptable: `adopt` changes nothing here.
    """
    mon_id = str(entry.get("name"))
    live = live_view(entry)
    differences = differ("node", live["node"], node)
    if address is not None:
        differences += differ("address", live["address"], address)
    elif public_network and live["address"] and not _inside(live["address"], public_network):
        differences.append(Difference("address", live["address"], f"an address in {public_network}"))
    return decide(
        f"mon.{mon_id}",
        differences,
        adopt=False,
        fix=f"Remove that monitor first (pveceph mon destroy {mon_id}), or declare it as it is (its node, address)",
        facts=f"on {live['node']} at {live['address']}",
    )


def _inside(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def removal_refusal(
    mons: list[dict[str, Any]], mon_id: str, allow_shrink: bool, safe: bool, ceph_says: str
) -> str | None:
    """Why removing this MON must not happen now, or None. Never the last MON, whatever the opt-in."""
    others = [mon for mon in mons if mon.get("name") != mon_id]
    if not others:
        return f"mon.{mon_id} is the last monitor: a cluster cannot run without one (PVE refuses too)"
    if allow_shrink:
        return None
    if len(others) < MIN_MONS:
        return (
            f"removing mon.{mon_id} would leave {len(others)} monitor(s), fewer than {MIN_MONS}; one more "
            "failure would cost quorum. Add a monitor first, or set allow_shrink=true"
        )
    down = sorted(str(mon.get("name")) for mon in others if not in_quorum(mon))
    if down:
        return (
            f"monitor(s) {', '.join(down)} are out of quorum; removing mon.{mon_id} now could cost quorum. "
            "Bring them back (or remove them) first, or set allow_shrink=true"
        )
    if not safe:
        return (
            f"Ceph says removing mon.{mon_id} is not safe: {ceph_says or 'no reason given'}; "
            "set allow_shrink=true to override"
        )
    return None
