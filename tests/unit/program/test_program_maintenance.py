"""nodes[i].maintenance: the config rules, the placement, and the graph the engine receives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.hci_cluster import HciCluster, HciClusterArgs
from dynamic_providers.logic.maintenance import evacuation_node, without_nodes
from dynamic_providers.node_maintenance import NodeEvacuated, NodeMaintenance
from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.unit.program.program_harness import HA_GROUP, HA_RULE, VM, Graph, dynamic_type, run_program
from tests.unit.program.program_stacks import ENV, dev_raw, pve8_raw

MAINTENANCE = dynamic_type(NodeMaintenance)
EVACUATED = dynamic_type(NodeEvacuated)


def graph_of(raw: dict[str, Any]) -> Graph:
    config = load_config(raw, env=ENV)
    return run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)


def in_maintenance(raw: dict[str, Any], *nodes: str) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for node in raw["nodes"]:
        if node["name"] in nodes:
            node["maintenance"] = True
    return raw


def test_evacuation_node_is_the_next_node_not_in_maintenance() -> None:
    order = ["pve1", "pve2", "pve3"]
    assert evacuation_node("pve1", order, []) == "pve1"
    assert evacuation_node("pve1", order, ["pve1"]) == "pve2"
    assert evacuation_node("pve3", order, ["pve3"]) == "pve1"  # wraps round
    assert evacuation_node("pve1", order, ["pve1", "pve2"]) == "pve3"
    assert evacuation_node("pve1", order, order) is None
    assert without_nodes({"pve1": 2, "pve2": None, "pve3": 1}, ["pve1"]) == {"pve2": None, "pve3": 1}


def test_no_maintenance_no_maintenance_resources() -> None:
    graph = graph_of(dev_raw())
    assert graph.count(MAINTENANCE) == 0 and graph.count(EVACUATED) == 0


def test_maintenance_moves_plain_vms_drops_the_node_from_rules_and_waits_after_everything() -> None:
    raw = dev_raw()
    raw["vms"][2]["node"] = "pve1"  # legacy1, not HA-managed, beside app1 (HA)
    graph = graph_of(in_maintenance(raw, "pve1"))
    (maint,) = graph.of_type(MAINTENANCE)
    assert maint.inputs["node"] == "pve1" and maint.inputs["mon_id"] == "pve1"
    assert graph.depends(maint, graph.named("hci-ceph-gate-ready"))
    vms = {vm.inputs["name"]: vm for vm in graph.of_type(VM)}
    assert vms["legacy1"].inputs["nodeName"] == "pve2"  # a live migration (migrate=True)
    assert vms["legacy1"].inputs["migrate"] is True
    assert graph.depends(vms["legacy1"], maint)  # ok-to-stop and noout first
    assert vms["app1"].inputs["nodeName"] == "pve2"  # ignored anyway: HA owns it (drift.py)
    assert "nodeName" in vms["app1"].ignore_changes
    assert vms["app2"].inputs["nodeName"] == "pve2" and not graph.depends(vms["app2"], maint)
    (rule,) = graph.of_type(HA_RULE)
    assert rule.inputs["nodes"] == {"pve2": 1, "pve3": 1}
    assert graph.depends(rule, maint)
    (wait,) = graph.of_type(EVACUATED)
    assert wait.inputs["node"] == "pve1" and wait.inputs["target"] == "pve2"
    assert wait.inputs["ha_migrate"] == []  # both HA VMs are in the rule: it moves them
    for res in [maint, rule, *vms.values()]:
        assert graph.depends(wait, res), res.urn


def test_a_node_without_a_mon_is_asked_for_its_osds_only() -> None:
    raw = dev_raw()
    raw["nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}]})
    (maint,) = graph_of(in_maintenance(raw, "pve4")).of_type(MAINTENANCE)
    assert maint.inputs.get("mon_id") is None


def test_pve8_groups_lose_the_node_and_ha_vms_without_group_are_migrated_through_ha() -> None:
    raw = pve8_raw()
    del raw["vms"][1]["ha"]["group"]  # app2: HA-managed, in no group
    raw["vms"][1]["node"] = "pve1"
    graph = graph_of(in_maintenance(raw, "pve1"))
    (group,) = graph.of_type(HA_GROUP)
    assert group.inputs["nodes"] == {"pve2": 1, "pve3": 1}
    (wait,) = graph.of_type(EVACUATED)
    assert wait.inputs["ha_migrate"] == ["vm:102"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda raw: in_maintenance(raw, "pve1", "pve2"),
            r"nodes\[1\]\.maintenance: node pve1 is in maintenance already; put one node at a time",
        ),
        (
            lambda raw: in_maintenance(
                {**raw, "ha": {"rules": [{**raw["ha"]["rules"][0], "nodes": {"pve1": 1}}]}}, "pve1"
            ),
            r"nodes\[0\]\.maintenance: HA rule hci-nodes \(ha\.rules\[0\]\) has no node besides pve1",
        ),
    ],
    ids=["two-nodes", "rule-left-empty"],
)
def test_maintenance_config_rules(edit: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(edit(dev_raw()), env=ENV)


def test_pve8_group_left_empty_is_refused() -> None:
    raw = pve8_raw()
    raw["ha"]["groups"][0]["nodes"] = {"pve1": 1}
    with pytest.raises(ConfigError, match=r"HA group hci-nodes \(ha\.groups\[0\]\) has no node besides pve1"):
        load_config(in_maintenance(raw, "pve1"), env=ENV)


def test_a_single_node_cluster_has_nowhere_to_go() -> None:
    from hci_config import checks
    from hci_config.model import HciConfig

    cfg = HciConfig.model_validate(
        {
            "publicNetwork": "10.0.0.0/24",
            "monitors": ["pve1"],
            "managers": ["pve1"],
            "nodes": [{"name": "pve1", "maintenance": True}],
        }
    )
    messages = [p.message for p in checks.maintenance(cfg)]
    assert messages == [
        "no other node for pve1's VMs to move to (none that is not in maintenance or retiring); "
        "add a node, or set this back to false"
    ]


def test_ha_vms_without_failback_are_migrated_through_ha() -> None:
    raw = dev_raw()
    raw["vms"][0]["ha"]["failback"] = False  # app1: the CRM would keep it where it runs
    (wait,) = graph_of(in_maintenance(raw, "pve1")).of_type(EVACUATED)
    assert wait.inputs["ha_migrate"] == ["vm:101"]


def test_vms_are_not_placed_on_a_retiring_node() -> None:
    raw = dev_raw()
    raw["nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}]})
    raw["nodes"].insert(1, raw["nodes"].pop())  # pve1, pve4, pve2, pve3
    raw["nodes"][1]["retire"] = True
    raw["vms"][2]["node"] = "pve1"
    graph = graph_of(in_maintenance(raw, "pve1"))
    vms = {vm.inputs["name"]: vm for vm in graph.of_type(VM)}
    assert vms["legacy1"].inputs["nodeName"] == "pve2"  # not pve4, next in order but retiring
    (wait,) = graph.of_type(EVACUATED)
    assert wait.inputs["target"] == "pve2"
