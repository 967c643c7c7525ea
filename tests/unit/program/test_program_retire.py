"""Retiring a node (nodes[].retire): the config rules refused up front, and the resource graph on mocks."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from components.ceph_cluster import manual_retire_steps
from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.unit.program.program_harness import GATE, MGR, MON, OSD, Graph, run_program
from tests.unit.program.program_stacks import ENV, dev_raw

Raw = dict[str, Any]


def four_nodes() -> Raw:
    """The dev stack after pve4 joined with an OSD and the third MGR (tests/e2e/test_day2.py)."""
    raw = copy.deepcopy(dev_raw())
    raw["nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}, {"device": "/dev/sdc"}]})
    raw["managers"].append("pve4")
    return raw


def retiring(raw: Raw, node: str = "pve4") -> Raw:
    raw = copy.deepcopy(raw)
    next(n for n in raw["nodes"] if n["name"] == node)["retire"] = True
    raw["managers"] = [m for m in raw["managers"] if m != node]
    raw["monitors"] = [m for m in raw["monitors"] if m != node]
    return raw


def problems_of(raw: Raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw, env=ENV)
    return {p.path: p.message for p in info.value.problems}


# --- refused up front ------------------------------------------------------------------------------


def test_a_retiring_node_left_in_monitors_or_managers_is_refused_naming_the_fix() -> None:
    raw = four_nodes()
    raw["nodes"][3]["retire"] = True  # still a manager
    assert problems_of(raw) == {
        "managers[2]": "node pve4 is retiring (nodes[3].retire); remove it from managers in the same change "
        "(its MGR is destroyed once its OSDs are drained)"
    }
    five = retiring(four_nodes())
    five["nodes"].append({"name": "pve5"})
    five["monitors"] = ["pve1", "pve2", "pve3", "pve4", "pve5"]
    said = problems_of(five)["monitors[3]"]
    assert said.startswith("node pve4 is retiring (nodes[3].retire); remove it from monitors")


def test_the_mon_and_mgr_lists_without_the_node_are_held_to_the_usual_rules() -> None:
    # pve3 retiring, left out of monitors: 2 MONs; the existing rule refuses (list at least 3).
    raw = retiring(four_nodes(), "pve3")
    raw["vms"][2]["node"] = "pve4"
    raw["ha"]["rules"][0]["nodes"] = {"pve1": 1, "pve2": 1, "pve4": 1}
    assert problems_of(raw) == {
        "monitors": "2 monitor(s) cannot keep quorum through the loss of a node; list at least 3 nodes"
    }
    # Four MONs without the retiring node: even, refused by odd_monitor_count.
    raw = retiring(four_nodes())
    raw["nodes"].append({"name": "pve5", "osds": [{"device": "/dev/sdb"}]})
    raw["monitors"] = ["pve1", "pve2", "pve3", "pve5"]
    assert "keep the count odd" in problems_of(raw)["monitors"]
    # No MGR left.
    raw = retiring(four_nodes())
    raw["nodes"][3]["retire"] = True
    raw["managers"] = []
    assert "no manager" in problems_of(raw)["managers"]


def test_guests_and_ha_naming_the_node_are_refused() -> None:
    raw = retiring(four_nodes())
    raw["vms"][2]["node"] = "pve4"
    raw["ha"]["rules"][0]["nodes"]["pve4"] = 2
    raw["pools"][0]["storage"]["nodes"] = ["pve1", "pve2", "pve3", "pve4"]
    found = problems_of(raw)
    assert found == {
        "vms[2].node": "node pve4 is retiring (nodes[3].retire) but VM legacy1 is on it; set node to another node "
        "first (the VM migrates), or remove the VM",
        "ha.rules[0].nodes.pve4": "node pve4 is retiring (nodes[3].retire); drop it from this HA rule",
        "pools[0].storage.nodes": "node pve4 is retiring (nodes[3].retire); drop it from this storage's nodes",
    }


def test_pve8_ha_groups_naming_the_node_are_refused() -> None:
    raw = retiring(four_nodes())
    raw["pveVersion"] = 8
    rule = raw["ha"].pop("rules")[0]
    raw["ha"]["groups"] = [{"name": rule["name"], "nodes": {**rule["nodes"], "pve4": 1}}]
    for vm in raw["vms"][:2]:
        vm["ha"]["group"] = rule["name"]
    assert problems_of(raw) == {
        "ha.groups[0].nodes.pve4": "node pve4 is retiring (nodes[3].retire); drop it from this HA group"
    }


def test_too_few_osd_hosts_left_for_a_pools_size_is_refused_at_the_retire_key() -> None:
    raw = retiring(copy.deepcopy(dev_raw()), "pve3")  # 3 OSD hosts, size 3
    raw["nodes"].append({"name": "pve4"})  # a third MON, no OSDs: only the host count is wrong
    raw["monitors"].append("pve4")
    raw["vms"][2]["node"] = "pve1"
    raw["ha"]["rules"][0]["nodes"] = {"pve1": 1, "pve2": 1}
    assert problems_of(raw) == {
        "nodes[2].retire": "retiring pve3 would leave 2 host(s) with OSDs (pve1, pve2), fewer than pools[0].size 3 "
        "(one copy per host): add OSDs on another node first, or lower pools[0].size"
    }


def test_a_retire_that_leaves_enough_is_accepted() -> None:
    config = load_config(retiring(four_nodes()), env=ENV)
    assert config.retiring_nodes == ["pve4"]
    assert config.staying_osd_hosts == ["pve1", "pve2", "pve3"]


# --- the graph ---------------------------------------------------------------------------------------


def build(raw: Raw) -> Graph:
    config = load_config(raw, env=ENV)
    return run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)


@pytest.fixture(scope="module")
def retire_graph() -> Graph:
    return build(retiring(four_nodes()))


def test_the_retiring_nodes_osds_are_kept_marked_retired_and_unprotected(retire_graph: Graph) -> None:
    osds = {(r.inputs["node"], r.inputs["device"]): r for r in retire_graph.of_type(OSD)}
    assert len(osds) == 5
    for (node, _device), osd in osds.items():
        retired = node == "pve4"
        assert osd.protect is not retired, osd.name
        assert osd.inputs.get("retired") is (True if retired else None), osd.name
    # One after another, as the node's creates were.
    first, second = osds[("pve4", "/dev/sdb")], osds[("pve4", "/dev/sdc")]
    assert retire_graph.depends(second, first)


def test_its_mon_and_mgr_are_gone_and_the_gate_rearms_after_the_drains(retire_graph: Graph) -> None:
    assert all(r.inputs["node"] != "pve4" for r in [*retire_graph.of_type(MON), *retire_graph.of_type(MGR)])
    (gate,) = [r for r in retire_graph.of_type(GATE) if r.name == "hci-ceph-gate-osds"]
    assert {"pve4:/dev/sdb!retired", "pve4:/dev/sdc!retired", "pve1:/dev/sdb"} <= set(gate.inputs["triggers"]["osds"])
    for osd in retire_graph.of_type(OSD):
        assert retire_graph.after(gate, osd)


def test_without_the_marker_nothing_changes() -> None:
    graph = build(four_nodes())
    assert all(r.protect and r.inputs.get("retired") is None for r in graph.of_type(OSD))
    (gate,) = [r for r in graph.of_type(GATE) if r.name == "hci-ceph-gate-osds"]
    assert not any("!retired" in t for t in gate.inputs["triggers"]["osds"])


def test_the_manual_steps_name_the_crush_host_and_pvecm_delnode() -> None:
    steps = manual_retire_steps("pve4")
    assert "`ceph osd crush remove pve4`" in steps and "`pvecm delnode pve4`" in steps
    assert "weight 0" in steps and "remove pve4 from nodes" in steps


def test_a_node_without_osds_retires_with_nothing_to_drain() -> None:
    raw = retiring(four_nodes())
    raw["nodes"][3]["osds"] = []
    graph = build(raw)
    assert sorted(r.inputs["node"] for r in graph.of_type(OSD)) == ["pve1", "pve2", "pve3"]  # nodes in parallel
    assert all(r.inputs["node"] != "pve4" for r in graph.of_type(MGR))


def test_the_manual_steps_are_warned_once_when_every_osd_of_the_node_is_retired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    build(retiring(four_nodes()))
    assert warned == [manual_retire_steps("pve4")]
    warned.clear()
    build(four_nodes())
    assert warned == []
