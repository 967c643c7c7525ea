"""Every config error names its key path and says how to fix it; one run reports all of them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.unit.program.program_stacks import ENV, dev_raw, pve8_raw

Raw = dict[str, Any]


def problems_of(raw: Raw, env: dict[str, str] = ENV) -> dict[str, str]:
    """key path -> message (the last one, if a path has several)."""
    with pytest.raises(ConfigError) as info:
        load_config(raw, env=env)
    return {p.path: p.message for p in info.value.problems}


def edited(edit: Callable[[Raw], object], base: Callable[[], Raw] = dev_raw) -> Raw:
    raw = copy.deepcopy(base())
    edit(raw)
    return raw


def _drop_osds_of_pve3(raw: Raw) -> None:
    raw["nodes"][2]["osds"] = []


CASES: list[tuple[str, Callable[[Raw], object], str, str]] = [
    # (what, edit of the dev stack, key path, part of the message)
    ("unknown top-level key", lambda r: r.update(poolz=[]), "poolz", "unknown key"),
    (
        "unknown nested key lists the allowed keys",
        lambda r: r["vms"][0]["disks"][0].update(datastore="ceph-vm"),
        "vms[0].disks[0].datastore",
        "unknown key; the keys here are: interface, moveTo, size, storage",
    ),
    (
        "duplicate OSD device on a node",
        lambda r: r["nodes"][0]["osds"].append({"device": "/dev/sdb"}),
        "nodes[0].osds[1].device",
        "device /dev/sdb is listed twice on node pve1",
    ),
    (
        "DB device that is another OSD's data device",
        lambda r: r["nodes"][0]["osds"].extend([{"device": "/dev/sdc", "dbDevice": "/dev/sdb"}]),
        "nodes[0].osds[1].dbDevice",
        "/dev/sdb is the data device of an OSD on node pve1",
    ),
    (
        "monitor on a node that does not exist",
        lambda r: r["monitors"].__setitem__(2, "pve9"),
        "monitors[2]",
        "node 'pve9' does not exist; the nodes are pve1, pve2, pve3",
    ),
    (
        "VM on a node that does not exist",
        lambda r: r["vms"][0].update(node="pve7"),
        "vms[0].node",
        "node 'pve7' does not exist",
    ),
    (
        "HA rule over a node that does not exist",
        lambda r: r["ha"]["rules"][0]["nodes"].update(pve9=1),
        "ha.rules[0].nodes.pve9",
        "node 'pve9' does not exist",
    ),
    (
        "min_size above size",
        lambda r: r["pools"][0].update(minSize=3, size=2),
        "pools[0].minSize",
        "3 is larger than size 2; set it to at most 2",
    ),
    (
        "size above the number of OSD hosts",
        _drop_osds_of_pve3,
        "pools[0].size",
        "3 replicas need 3 hosts with OSDs (failure domain host), but only 2 node(s) have OSDs",
    ),
    (
        "the init default size is checked the same way",
        _drop_osds_of_pve3,
        "defaultPoolSize",
        "only 2 node(s) have OSDs",
    ),
    (
        "fewer than three monitors",
        lambda r: r.update(monitors=["pve1", "pve2"]),
        "monitors",
        "2 monitor(s) cannot keep quorum through the loss of a node; list at least 3",
    ),
    (
        "the same monitor twice",
        lambda r: r.update(monitors=["pve1", "pve2", "pve3", "pve1"]),
        "monitors[3]",
        "node pve1 is listed twice",
    ),
    (
        "HA on a VM whose disk stays on local storage",
        lambda r: r["vms"][2].update(
            disks=[{"interface": "scsi0", "storage": "local-lvm", "size": 8}], ha={"state": "started"}
        ),
        "vms[2].ha",
        "VM legacy1 has disks on non-shared storage (local-lvm), so HA cannot restart it on another node",
    ),
    (
        "HA groups on a PVE 9 stack",
        lambda r: r["ha"].update(groups=[{"name": "g1", "nodes": {"pve1": 1}}]),
        "ha.groups",
        "HA groups do not exist on PVE 9 (migrated to rules); use ha.rules",
    ),
    (
        "a VM naming an HA group on PVE 9",
        lambda r: r["vms"][0]["ha"].update(group="hci-nodes"),
        "vms[0].ha.group",
        "HA groups do not exist on PVE 9",
    ),
    (
        "disk move to a storage that is not defined",
        lambda r: r["vms"][2]["disks"][0].update(moveTo="ceph-ssd"),
        "vms[2].disks[0].moveTo",
        "storage 'ceph-ssd' is not defined; define it as pools[].storage or list an existing one",
    ),
    (
        "disk move to the storage it is on",
        lambda r: r["vms"][2]["disks"][0].update(moveTo="local-lvm"),
        "vms[2].disks[0].moveTo",
        "is the disk's storage already (local-lvm)",
    ),
    (
        "disk created on a storage that is not defined",
        lambda r: r["vms"][0]["disks"][0].update(storage="nfs"),
        "vms[0].disks[0].storage",
        "storage 'nfs' is not defined",
    ),
    ("duplicate vmId", lambda r: r["vms"][1].update(vmId=101), "vms[1].vmId", "vmId 101 is used by an earlier"),
    ("PVE version", lambda r: r.update(pveVersion=7), "pveVersion", "Input should be 8 or 9"),
    (
        "public network not a CIDR",
        lambda r: r.update(publicNetwork="10.1.1.1/24"),
        "publicNetwork",
        "'10.1.1.1/24' has host bits set; the network is 10.1.1.0/24",
    ),
    (
        "cluster network overlapping the public one",
        lambda r: r.update(clusterNetwork="127.77.3.128/25"),
        "clusterNetwork",
        "127.77.3.128/25 overlaps publicNetwork 127.77.3.0/24; the networks must be separate",
    ),
    (
        "cluster network with host bits",
        lambda r: r.update(clusterNetwork="10.20.0.1/24"),
        "clusterNetwork",
        "'10.20.0.1/24' has host bits set; the network is 10.20.0.0/24",
    ),
    (
        "a node's cluster address outside the cluster network",
        lambda r: (r.update(clusterNetwork="10.20.0.0/24"), r["nodes"][1].update(clusterAddress="10.21.0.12")),
        "nodes[1].clusterAddress",
        "10.21.0.12 is outside clusterNetwork 10.20.0.0/24",
    ),
    (
        "a node's cluster address without a cluster network",
        lambda r: r["nodes"][0].update(clusterAddress="10.20.0.11"),
        "nodes[0].clusterAddress",
        "is set but clusterNetwork is not",
    ),
    (
        "a node's cluster address that is no IP",
        lambda r: (r.update(clusterNetwork="10.20.0.0/24"), r["nodes"][0].update(clusterAddress="pve1-ceph")),
        "nodes[0].clusterAddress",
        "'pve1-ceph' is not an IP address",
    ),
    (
        "a node's MON address outside the public network",
        lambda r: r["nodes"][2].update(address="10.20.0.13"),
        "nodes[2].address",
        "10.20.0.13 is outside publicNetwork 127.77.3.0/24",
    ),
    (
        "Ceph release PVE 9 does not offer",
        lambda r: r.update(cephVersion="quincy"),
        "cephVersion",
        "PVE 9 offers Ceph squid, tentacle, not quincy",
    ),
    (
        "Ceph release the declared PVE release does not offer",
        lambda r: r.update(pveRelease="9.1.4", cephVersion="tentacle"),
        "cephVersion",
        "cephVersion 'tentacle': the cluster (pveRelease) runs PVE 9.1.4, where pveceph install on PVE 9.1.4 offers "
        "squid; set cephVersion to one of those",
    ),
    (
        "technology preview without the opt-in",
        lambda r: r.update(pveRelease="9.1.7", cephVersion="tentacle"),
        "cephVersion",
        "is a technology preview on PVE 9.1.7: set cephAllowExperimental: true",
    ),
    (
        "preview release from the enterprise repository",
        lambda r: r.update(
            pveRelease="9.1.7", cephVersion="tentacle", cephAllowExperimental=True, repository="enterprise"
        ),
        "repository",
        "set repository to 'test' or 'no-subscription'",
    ),
    (
        "pveRelease of another major than pveVersion",
        lambda r: r.update(pveRelease="8.4.1"),
        "pveRelease",
        "8.4.1 is a PVE 8 release, but pveVersion is 9",
    ),
    ("pveRelease not X.Y.Z", lambda r: r.update(pveRelease="9.2"), "pveRelease", "is not a PVE release X.Y.Z"),
    (
        "started VM that HA keeps stopped",
        lambda r: r["vms"][0]["ha"].update(state="stopped"),
        "vms[0].started",
        "HA would stop the VM again",
    ),
    (
        "HA rule over a VM without ha",
        lambda r: r["ha"]["rules"][0]["vms"].append("legacy1"),
        "ha.rules[0].vms",
        "VM 'legacy1' has no ha settings",
    ),
    (
        "HA rule over a VM that does not exist",
        lambda r: r["ha"]["rules"][0]["vms"].append("ghost"),
        "ha.rules[0].vms",
        "VM 'ghost' is not defined under vms",
    ),
    (
        "missing required key",
        lambda r: r.pop("monitors"),
        "monitors",
        "is required but not set",
    ),
]


@pytest.mark.parametrize(("what", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_config_error_names_key_and_fix(what: str, edit: Callable[[Raw], object], path: str, message: str) -> None:
    problems = problems_of(edited(edit))
    assert path in problems, f"{what}: no problem at {path}; got {problems}"
    assert message in problems[path]


PVE8_CASES: list[tuple[str, Callable[[Raw], object], str, str]] = [
    (
        "HA rules on a PVE 8 stack",
        lambda r: r["ha"].update(rules=[{"name": "r1", "vms": ["app1"], "nodes": {"pve1": 1}}]),
        "ha.rules",
        "HA rules need PVE 9; on PVE 8 use ha.groups",
    ),
    (
        "failback on PVE 8",
        lambda r: r["vms"][0]["ha"].update(failback=False),
        "vms[0].ha.failback",
        "needs PVE 9",
    ),
    (
        "pinned HA placement on PVE 8",
        lambda r: r["vms"][0]["ha"].update(placement="pin"),
        "vms[0].ha.placement",
        "pin needs PVE 9",
    ),
    (
        "a VM naming an HA group that is not defined",
        lambda r: r["vms"][0]["ha"].update(group="other"),
        "vms[0].ha.group",
        "HA group 'other' is not defined under ha.groups",
    ),
]


@pytest.mark.parametrize(
    "edit",
    [
        {"cephVersion": "reef"},  # the wizard's default on 8.3, with aptRepositories on (pveceph writes its source)
        {"cephVersion": "quincy", "pveRelease": "8.3.0"},
        {"cephVersion": "reef", "pveRelease": "8.4.21", "repository": "enterprise"},
    ],
    ids=["reef", "quincy-8.3.0", "reef-8.4.21-enterprise"],
)
def test_every_release_pve8_offers_is_accepted(edit: Raw) -> None:
    config = load_config(edited(lambda r: r.update(edit), base=pve8_raw), env=ENV)
    assert config.ceph_version == edit["cephVersion"] and config.apt_repositories


def test_preview_release_with_the_opt_in_and_an_unset_pve_release_are_accepted() -> None:
    raw = edited(lambda r: r.update(pveRelease="9.1.7", cephVersion="tentacle", cephAllowExperimental=True))
    assert load_config(raw, env=ENV).ceph_allow_experimental
    assert load_config(edited(lambda r: r.update(pveRelease="")), env=ENV).pve_release is None


@pytest.mark.parametrize(("what", "edit", "path", "message"), PVE8_CASES, ids=[c[0] for c in PVE8_CASES])
def test_pve8_config_error(what: str, edit: Callable[[Raw], object], path: str, message: str) -> None:
    problems = problems_of(edited(edit, base=pve8_raw))
    assert path in problems, f"{what}: no problem at {path}; got {problems}"
    assert message in problems[path]


def test_unset_network_variable_says_how_to_set_it() -> None:
    problems = problems_of(dev_raw(), env={})
    assert set(problems) == {"publicNetwork"}  # not a second "is required" for the same key
    assert "PROXMOX_HCI_PUBLIC_NETWORK, which is not set" in problems["publicNetwork"]
    assert "pulumi config set publicNetwork" in problems["publicNetwork"]


def test_every_problem_is_reported_in_one_error() -> None:
    def many(raw: Raw) -> None:
        raw["monitors"] = ["pve1", "pve9"]
        raw["pools"][0].update(size=2, minSize=3)
        raw["vms"][2]["disks"][0]["moveTo"] = "nowhere"
        raw["ha"]["groups"] = [{"name": "g1", "nodes": {"pve1": 1}}]

    with pytest.raises(ConfigError) as info:
        load_config(edited(many), env=ENV)
    paths = [p.path for p in info.value.problems]
    assert {"monitors[1]", "monitors", "pools[0].minSize", "vms[2].disks[0].moveTo", "ha.groups"} <= set(paths)
    text = str(info.value)
    assert text.startswith(f"invalid stack config for proxmox-hci ({len(paths)} problems;")
    assert all(f"  - {p}" in text for p in info.value.problems)


def test_structural_errors_are_all_listed_before_cross_checks() -> None:
    def typos(raw: Raw) -> None:
        raw["pools"][0]["minsize"] = 2
        raw["vms"][0]["memory"] = "lots"

    problems = problems_of(edited(typos))
    assert set(problems) == {"pools[0].minsize", "vms[0].memory"}
    assert "got 'lots'" in problems["vms[0].memory"]


def test_a_typo_in_a_key_name_does_not_hide_the_other_problems() -> None:
    def typo_and_rule(raw: Raw) -> None:
        raw["pools"][0]["minsize"] = 2
        raw["monitors"] = ["pve1", "pve2"]

    problems = problems_of(edited(typo_and_rule))
    assert set(problems) == {"pools[0].minsize", "monitors"}
