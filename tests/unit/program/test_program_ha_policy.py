"""The HA drift policy (docs/ha-policy.md) as the engine receives it: which VM properties are ignored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.drift import ignored_vm_properties
from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.unit.program.program_harness import VM, Graph, Registered, run_program
from tests.unit.program.program_stacks import ENV, dev_raw, pve8_raw


def vms_of(raw: dict[str, Any]) -> dict[str, Registered]:
    config = load_config(raw, env=ENV)
    graph: Graph = run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)
    return {vm.inputs["name"]: vm for vm in graph.of_type(VM)}


@pytest.mark.parametrize("raw", [dev_raw, pve8_raw], ids=["pve9", "pve8"])
def test_ha_vm_follows_ha_and_others_follow_the_config(raw: Any) -> None:
    vms = vms_of(raw())
    # HA-managed: a failover's new node is neither reverted nor a reason to replace.
    assert vms["app1"].ignore_changes == ["nodeName", "disks[0].speed"]
    assert vms["app2"].ignore_changes == ["nodeName", "disks[0].speed"]
    # Not HA-managed: the config's node is authoritative (a change live-migrates); the moved disk's
    # storage is DiskMove's business, so bpg must not plan an offline move back.
    assert vms["legacy1"].ignore_changes == ["disks[0].datastoreId", "disks[0].speed"]
    for vm in vms.values():
        assert vm.inputs["migrate"] is True  # a node change never replaces
        assert vm.inputs["rebootAfterUpdate"] is False  # and nothing is powered off unasked
        assert vm.protect is True


def test_pinned_ha_vm_on_pve9_follows_the_config() -> None:
    raw = copy.deepcopy(dev_raw())
    raw["vms"][0]["ha"]["placement"] = "pin"
    vms = vms_of(raw)
    assert vms["app1"].ignore_changes == ["disks[0].speed"]
    assert vms["app2"].ignore_changes == ["nodeName", "disks[0].speed"]


def test_pin_is_refused_on_pve8() -> None:
    raw = pve8_raw()
    raw["vms"][0]["ha"]["placement"] = "pin"
    with pytest.raises(ConfigError, match=r"vms\[0\]\.ha\.placement: pin needs PVE 9"):
        load_config(raw, env=ENV)


def test_ignored_paths_point_at_the_moved_disk() -> None:
    raw = copy.deepcopy(dev_raw())
    raw["vms"][2]["disks"] = [
        {"interface": "scsi0", "storage": "ceph-vm", "size": 8},
        {"interface": "scsi1", "storage": "local-lvm", "size": 4, "moveTo": "ceph-vm"},
    ]
    raw["vms"][2]["ha"] = {"state": "started"}
    legacy = load_config(raw, env=ENV).vms[2]
    assert ignored_vm_properties(legacy) == ["nodeName", "disks[1].datastoreId", "disks[0].speed", "disks[1].speed"]
