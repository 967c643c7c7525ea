"""The dev stack's resource graph on Pulumi mocks: what is declared, with which inputs, in which order."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.loader import load_config
from tests.unit.program.program_harness import (
    APT_REPOSITORY,
    APT_STANDARD,
    FSID,
    GATE,
    HA_GROUP,
    HA_RESOURCE,
    HA_RULE,
    INIT,
    INSTALL,
    MGR,
    MON,
    MOVE,
    OSD,
    POOL,
    STORAGE,
    VM,
    Graph,
    Registered,
    run_program,
)
from tests.unit.program.program_stacks import ENV, LAB_NETWORK, dev_raw, pve8_raw


def build(raw: dict[str, Any]) -> Graph:
    config = load_config(raw, env=ENV)
    return run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)


@pytest.fixture(scope="module")
def pve9() -> Graph:
    return build(dev_raw())


@pytest.fixture(scope="module")
def pve8() -> Graph:
    return build(pve8_raw())


@pytest.fixture(scope="module")
def two_osds_per_node() -> Graph:
    raw = copy.deepcopy(dev_raw())
    for node in raw["nodes"]:
        node["osds"].append({"device": "/dev/sdc"})
    return build(raw)


@pytest.fixture(params=[8, 9], ids=["pve8", "pve9"])
def graph(request: pytest.FixtureRequest, pve8: Graph, pve9: Graph) -> Graph:
    return pve8 if request.param == 8 else pve9


def by_node(resources: list[Registered]) -> dict[str, list[Registered]]:
    out: dict[str, list[Registered]] = {}
    for res in resources:
        out.setdefault(res.inputs["node"], []).append(res)
    return out


# --- what is declared -----------------------------------------------------------------------------

COMMON_COUNTS = {
    APT_STANDARD: 6,  # PVE + Ceph no-subscription on each of 3 nodes
    APT_REPOSITORY: 6,  # ... each switched on
    INSTALL: 3,
    INIT: 1,
    MON: 3,
    MGR: 2,
    OSD: 3,
    GATE: 2,
    POOL: 1,
    STORAGE: 1,
    VM: 3,
    MOVE: 1,
    HA_RESOURCE: 2,
}


@pytest.mark.parametrize(
    ("fixture", "ha_counts"), [("pve9", {HA_RULE: 1, HA_GROUP: 0}), ("pve8", {HA_RULE: 0, HA_GROUP: 1})]
)
def test_resource_counts(request: pytest.FixtureRequest, fixture: str, ha_counts: dict[str, int]) -> None:
    graph: Graph = request.getfixturevalue(fixture)
    expected = COMMON_COUNTS | ha_counts
    assert {typ: graph.count(typ) for typ in expected} == expected
    assert sum(1 for _ in graph.custom()) == sum(expected.values())  # nothing undeclared


def test_components_and_names(graph: Graph) -> None:
    components = {r.type: 0 for r in graph.resources if not r.custom}
    for res in graph.resources:
        if not res.custom:
            components[res.type] += 1
    assert components == {
        "proxmox-hci:index:HciCluster": 1,
        "proxmox-hci:pve:Node": 3,
        "proxmox-hci:ceph:Cluster": 1,
        "proxmox-hci:pve:Vm": 3,
        "proxmox-hci:pve:Ha": 1,
    }
    for res in graph.resources:
        parent = graph.parent_of(res)
        if res.type == "proxmox-hci:index:HciCluster":
            assert parent is None
            continue
        assert parent is not None and not parent.custom, f"{res.name} is not inside a component"
        assert res.name.startswith(f"{parent.name}-"), f"{res.name} is not named after {parent.name}"


def test_a_release_pulumi_proxmoxve_has_no_handle_for_gets_its_source_from_pveceph_install() -> None:
    raw = copy.deepcopy(pve8_raw())
    raw.update(cephVersion="reef", pveRelease="8.3.0")
    graph = build(raw)
    handles = {r.inputs["handle"] for r in graph.of_type(APT_STANDARD)}
    assert handles == {"no-subscription"}  # the PVE repository stays; no ceph-reef-* handle is declared
    installs = graph.of_type(INSTALL)
    assert {(i.inputs["version"], i.inputs["pve_release"], i.inputs.get("allow_experimental")) for i in installs} == {
        ("reef", "8.3.0", None)
    }
    for install in installs:
        own = [r for r in graph.of_type(APT_REPOSITORY) if r.inputs["node"] == install.inputs["node"]]
        assert len(own) == 1 and all(graph.depends(install, r) for r in own)


def test_the_preview_opt_in_reaches_ceph_install() -> None:
    raw = copy.deepcopy(dev_raw())
    raw.update(cephVersion="tentacle", pveRelease="9.1.7", cephAllowExperimental=True)
    installs = build(raw).of_type(INSTALL)
    assert {(i.inputs["version"], i.inputs["allow_experimental"]) for i in installs} == {("tentacle", True)}


def test_the_first_monitors_own_mgr_is_removed_only_when_undeclared(pve9: Graph) -> None:
    assert [m.inputs.get("declared_managers") for m in pve9.of_type(MGR)] == [None, None]  # pve1 is declared
    raw = copy.deepcopy(dev_raw())
    raw.update(monitors=["pve2", "pve3", "pve1"], managers=["pve3", "pve1"])
    mgrs = build(raw).of_type(MGR)
    assert [(m.inputs["node"], m.inputs.get("declared_managers")) for m in mgrs] == [
        ("pve3", None),
        ("pve1", ["pve3", "pve1"]),
    ]


def test_node_repositories_and_ceph_install(graph: Graph) -> None:
    handles = {(r.inputs["node"], r.inputs["handle"]) for r in graph.of_type(APT_STANDARD)}
    nodes = ["pve1", "pve2", "pve3"]
    assert handles == {(n, h) for n in nodes for h in ("no-subscription", "ceph-squid-no-subscription")}
    for repo in graph.of_type(APT_REPOSITORY):
        assert repo.inputs["enabled"] is True
    installs = graph.of_type(INSTALL)
    assert sorted((i.inputs["node"], i.inputs["version"], i.inputs["repository"]) for i in installs) == [
        (n, "squid", "no-subscription") for n in nodes
    ]
    for install in installs:
        own = [r for r in graph.of_type(APT_REPOSITORY) if r.inputs["node"] == install.inputs["node"]]
        others = [r for r in graph.of_type(APT_REPOSITORY) if r.inputs["node"] != install.inputs["node"]]
        assert all(graph.depends(install, r) for r in own)
        assert not any(graph.after(install, r) for r in others)


def test_a_cluster_network_reaches_init_and_the_public_one_again_means_none() -> None:
    separate = build(dev_raw() | {"clusterNetwork": "10.20.0.0/24"})
    assert separate.of_type(INIT)[0].inputs["cluster_network"] == "10.20.0.0/24"
    again = build(dev_raw() | {"clusterNetwork": LAB_NETWORK})
    assert again.of_type(INIT)[0].inputs.get("cluster_network") is None


def test_ceph_inputs(graph: Graph) -> None:
    (init,) = graph.of_type(INIT)
    assert init.inputs["network"] == LAB_NETWORK
    assert init.inputs.get("cluster_network") is None
    assert init.inputs["api_nodes"] == ["pve1", "pve2", "pve3"]
    assert (init.inputs["size"], init.inputs["min_size"]) == (3, 2)
    assert [m.inputs["node"] for m in graph.of_type(MON)] == ["pve1", "pve2", "pve3"]
    assert [m.inputs["node"] for m in graph.of_type(MGR)] == ["pve1", "pve2"]
    assert sorted((o.inputs["node"], o.inputs["device"]) for o in graph.of_type(OSD)) == [
        ("pve1", "/dev/sdb"),
        ("pve2", "/dev/sdb"),
        ("pve3", "/dev/sdb"),
    ]
    assert all(o.inputs["wipe"] is False and o.inputs["allow_data_loss"] is False for o in graph.of_type(OSD))
    (pool,) = graph.of_type(POOL)
    assert {k: pool.inputs[k] for k in ("pool_name", "size", "min_size", "autoscale_mode", "application")} == {
        "pool_name": "vm-pool",
        "size": 3,
        "min_size": 2,
        "autoscale_mode": "on",
        "application": "rbd",
    }
    (storage,) = graph.of_type(STORAGE)
    assert (storage.inputs["storage"], storage.inputs["pool"], storage.inputs["content"]) == (
        "ceph-vm",
        "vm-pool",
        ["images"],
    )
    assert {g.inputs["require"] for g in graph.of_type(GATE)} == {"HEALTH_OK"}


def test_vm_inputs(graph: Graph) -> None:
    vms = {v.inputs["name"]: v for v in graph.of_type(VM)}
    assert {n: (v.inputs["nodeName"], v.inputs["vmId"]) for n, v in vms.items()} == {
        "app1": ("pve1", 101),
        "app2": ("pve2", 102),
        "legacy1": ("pve3", 103),
    }
    assert [d["datastoreId"] for d in vms["app1"].inputs["disks"]] == ["ceph-vm"]
    assert [d["datastoreId"] for d in vms["legacy1"].inputs["disks"]] == ["local-lvm"]
    for vm in vms.values():
        assert vm.inputs["migrate"] is True
        assert vm.inputs["rebootAfterUpdate"] is False
        assert [(d["interface"], d["size"], d["fileFormat"]) for d in vm.inputs["disks"]] == [("scsi0", 8, "raw")]
    (move,) = graph.of_type(MOVE)
    assert (move.inputs["vm_id"], move.inputs["disk"], move.inputs["storage"], move.inputs["delete_source"]) == (
        103,
        "scsi0",
        "ceph-vm",
        True,
    )


def test_ha_inputs_pve9(pve9: Graph) -> None:
    resources = {r.inputs["resourceId"]: r.inputs for r in pve9.of_type(HA_RESOURCE)}
    assert set(resources) == {"vm:101", "vm:102"}
    for inputs in resources.values():
        assert (inputs["state"], inputs["maxRestart"], inputs["maxRelocate"], inputs["type"]) == ("started", 2, 2, "vm")
        assert inputs["comment"].endswith("restarted or relocated by HA on node loss")
        assert "group" not in inputs  # refused by PVE 9
    (rule,) = pve9.of_type(HA_RULE)
    assert rule.inputs["rule"] == "hci-nodes"
    assert rule.inputs["type"] == "node-affinity"
    assert rule.inputs["resources"] == ["vm:101", "vm:102"]
    assert rule.inputs["nodes"] == {"pve1": 1, "pve2": 1, "pve3": 1}
    assert rule.inputs["strict"] is False


def test_ha_inputs_pve8(pve8: Graph) -> None:
    (group,) = pve8.of_type(HA_GROUP)
    assert (group.inputs["group"], group.inputs["nodes"]) == ("hci-nodes", {"pve1": 1, "pve2": 1, "pve3": 1})
    for res in pve8.of_type(HA_RESOURCE):
        assert res.inputs["group"] == "hci-nodes"
        assert "failback" not in res.inputs  # PVE 9 only
        assert (res.inputs["maxRestart"], res.inputs["maxRelocate"]) == (2, 2)


# --- in which order -------------------------------------------------------------------------------


def test_init_waits_for_ceph_on_every_node(graph: Graph) -> None:
    (init,) = graph.of_type(INIT)
    assert all(graph.depends(init, install) for install in graph.of_type(INSTALL))


def test_monitors_strictly_one_after_another(graph: Graph) -> None:
    (init,) = graph.of_type(INIT)
    mons = graph.of_type(MON)
    assert graph.depends(mons[0], init)
    for earlier, later in itertools.pairwise(mons):
        assert graph.depends(later, earlier), f"{later.name} does not wait for {earlier.name}"
        assert not graph.after(earlier, later)


def test_managers_once_two_monitors_keep_a_quorum(graph: Graph) -> None:
    mons, mgrs = graph.of_type(MON), graph.of_type(MGR)
    assert graph.depends(mgrs[0], mons[1])  # no quorum while the second MON joins
    assert not graph.after(mgrs[0], mons[2])  # beside the third MON's join: two of three keep quorum
    assert graph.depends(mgrs[1], mgrs[0])


def test_osds_chained_per_node_and_parallel_across_nodes(two_osds_per_node: Graph) -> None:
    graph = two_osds_per_node
    mons, mgrs = graph.of_type(MON), graph.of_type(MGR)
    per_node = by_node(graph.of_type(OSD))
    assert {node: [o.inputs["device"] for o in osds] for node, osds in per_node.items()} == {
        n: ["/dev/sdb", "/dev/sdc"] for n in ("pve1", "pve2", "pve3")
    }
    for node, (first, second) in per_node.items():
        assert graph.depends(first, mons[1])  # no OSD create while the second MON joins (no quorum then)
        assert not graph.after(first, mons[2])  # beside the third MON: the first two stay a majority
        assert not any(graph.after(first, mgr) for mgr in mgrs)  # beside the MGRs
        assert graph.depends(second, first), f"{node}: second OSD does not wait for the first"
        for other_node, others in per_node.items():
            if other_node != node:
                assert not any(graph.after(first, o) or graph.after(second, o) for o in others)


def test_pools_after_the_daemons_beside_the_osd_gate_storages_after_pools(graph: Graph) -> None:
    osd_gate, ready = graph.named("hci-ceph-gate-osds"), graph.named("hci-ceph-gate-ready")
    osds = graph.of_type(OSD)
    (pool,) = graph.of_type(POOL)
    for waiter in (osd_gate, pool):  # the pool follows the daemons themselves, beside the OSD gate
        assert all(graph.depends(waiter, osd) for osd in osds)
        assert all(graph.depends(waiter, mgr) for mgr in graph.of_type(MGR))
        assert graph.depends(waiter, graph.of_type(MON)[-1])  # and the whole MON set
    assert not graph.after(pool, osd_gate)  # the gate's wait for the PG stats lag is not the pool's
    (storage,) = graph.of_type(STORAGE)
    assert graph.depends(storage, pool)
    # What follows the cluster stands on a fresh HEALTH_OK after every OSD change, and on the pools.
    assert graph.depends(ready, pool) and graph.depends(ready, storage) and graph.depends(ready, osd_gate)


def test_vms_wait_for_ceph_only_where_they_use_it(graph: Graph) -> None:
    ready = graph.named("hci-ceph-gate-ready")
    vms = {v.inputs["name"]: v for v in graph.of_type(VM)}
    assert graph.depends(vms["app1"], ready) and graph.depends(vms["app2"], ready)
    # legacy1 is created on local-lvm: it need not wait for Ceph, only its move does.
    assert not graph.after(vms["legacy1"], ready)
    (move,) = graph.of_type(MOVE)
    assert graph.depends(move, vms["legacy1"]) and graph.depends(move, ready)


def test_no_more_than_four_vm_creates_queue_on_one_storages_lock() -> None:
    """PVE's storage lock gives up after 10 s: on each RBD storage a VM's create waits for the one four
    places before it; VMs on local disks are not queued."""
    raw = copy.deepcopy(dev_raw())
    app1 = raw["vms"][0]
    raw["vms"] += [{**copy.deepcopy(app1), "name": f"bulk{i}", "vmId": 200 + i} for i in range(5)]
    for extra in raw["vms"][-5:]:
        extra.pop("ha", None)
    graph = build(raw)
    vms = {v.inputs["name"]: v for v in graph.of_type(VM)}
    on_ceph = ["app1", "app2", "bulk0", "bulk1", "bulk2", "bulk3", "bulk4"]
    for i, name in enumerate(on_ceph):
        earlier = [other for other in on_ceph[:i] if graph.depends(vms[name], vms[other])]
        assert earlier == ([on_ceph[i - 4]] if i >= 4 else []), name
    assert not any(graph.depends(vms["legacy1"], vms[other]) for other in on_ceph)


def test_ha_after_vms(graph: Graph) -> None:
    vms = {f"vm:{int(v.inputs['vmId'])}": v for v in graph.of_type(VM)}
    resources = graph.of_type(HA_RESOURCE)
    for res in resources:
        assert graph.depends(res, vms[res.inputs["resourceId"]])
    for rule in graph.of_type(HA_RULE):  # PVE refuses rules over resources not yet HA-managed
        assert all(graph.depends(rule, res) for res in resources)
    for group in graph.of_type(HA_GROUP):
        assert all(graph.depends(res, group) for res in resources)


def test_ha_resource_waits_for_the_vms_disk_moves() -> None:
    raw = copy.deepcopy(dev_raw())
    raw["vms"][2]["ha"] = {"state": "started"}
    raw["ha"]["rules"][0]["vms"].append("legacy1")
    graph = build(raw)
    (move,) = graph.of_type(MOVE)
    (legacy_ha,) = [r for r in graph.of_type(HA_RESOURCE) if r.inputs["resourceId"] == "vm:103"]
    assert graph.depends(legacy_ha, move)


# --- protection and outputs -----------------------------------------------------------------------

DATA = {OSD, POOL, STORAGE, VM}


def test_what_holds_data_is_protected(graph: Graph) -> None:
    for res in graph.custom():
        assert res.protect == (res.type in DATA), f"{res.name}: protect={res.protect}"


def test_protection_can_be_lifted_for_labs_and_per_vm() -> None:
    raw = copy.deepcopy(dev_raw()) | {"protect": False}
    raw["vms"][0]["protect"] = True
    graph = build(raw)
    assert [r.name for r in graph.custom() if r.protect] == ["hci-vm-app1-qemu"]


def test_a_replacement_marker_lifts_protection_of_that_osd_and_rearms_the_gate(pve9: Graph) -> None:
    raw = copy.deepcopy(dev_raw())
    raw["nodes"][1]["osds"][0]["replacement"] = "serial-2"
    graph = build(raw)
    node = raw["nodes"][1]["name"]
    unprotected = [r for r in graph.custom() if r.type == OSD and not r.protect]
    assert [(r.inputs["node"], r.inputs["replacement"]) for r in unprotected] == [(node, "serial-2")]
    (gate,) = [r for r in graph.custom() if r.name == "hci-ceph-gate-osds"]
    assert f"{node}:/dev/sdb#serial-2" in gate.inputs["triggers"]["osds"]
    (old_gate,) = [r for r in pve9.custom() if r.name == "hci-ceph-gate-osds"]
    assert f"{node}:/dev/sdb" in old_gate.inputs["triggers"]["osds"]  # unchanged without a marker


def test_component_outputs(pve9: Graph) -> None:
    (ceph,) = [r for r in pve9.resources if r.type == "proxmox-hci:ceph:Cluster"]
    assert ceph.outputs == {
        "fsid": FSID,
        "health": "HEALTH_OK",
        "monQuorum": ["pve1", "pve2", "pve3"],
        "osdCount": 3,
        "pools": ["vm-pool"],
        "storages": ["ceph-vm"],
    }
    (top,) = [r for r in pve9.resources if r.type == "proxmox-hci:index:HciCluster"]
    assert top.outputs["vms"] == {"app1": "pve1", "app2": "pve2", "legacy1": "pve3"}
    (ha,) = [r for r in pve9.resources if r.type == "proxmox-hci:pve:Ha"]
    assert ha.outputs == {"resources": ["vm:101", "vm:102"], "groups": [], "rules": ["hci-nodes"]}


def test_destroy_excluding_protected_removes_only_ha_and_the_move_record(pve9: Graph) -> None:
    """`pulumi destroy --exclude-protected` keeps what is protected and everything it depends on."""
    kept: set[str] = set()
    for res in pve9.custom():
        if res.protect:
            kept |= {res.urn, *pve9.ancestors(res)}
    removed = sorted(r.type for r in pve9.custom() if r.urn not in kept)
    assert removed == sorted([HA_RESOURCE, HA_RESOURCE, HA_RULE, MOVE])
