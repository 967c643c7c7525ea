"""What hci_tools.resume does with each pending create: import the declared object PVE holds, clear what
PVE does not hold (or what our own create takes over), refuse a conflict naming both sides."""

from __future__ import annotations

from typing import Any

import pytest

from hci_tools.pending_creates import (
    APT_REPOSITORY,
    APT_STANDARD,
    HA_GROUP,
    HA_RESOURCE,
    HA_RULE,
    VM,
    Pending,
    PveFacts,
    delete_done,
    other_pending,
    pending_creates,
    pending_deletes,
    resolve,
)
from hci_tools.resume import import_file

APP1 = {
    "nodeName": "pve1",
    "vmId": 101,
    "name": "app1",
    "memory": {"dedicated": 1024},
    "cpu": {"cores": 1},
    "disks": [{"interface": "scsi0", "datastoreId": "ceph-vm", "size": 8}],
}
APP1_CONFIG = {"name": "app1", "memory": "1024", "cores": 1, "scsi0": "ceph-vm:vm-101-disk-0,size=8G"}


def pending(kind: str, inputs: dict[str, Any], name: str = "r") -> Pending:
    return Pending(f"urn:pulumi:dev::proxmox-hci::{kind}::{name}", kind, inputs)


def test_pending_creates_and_the_other_pending_operations_from_an_export() -> None:
    export = {
        "deployment": {
            "pending_operations": [
                {"type": "creating", "resource": {"urn": "u1", "type": VM, "inputs": APP1}},
                {"type": "deleting", "resource": {"urn": "u2", "type": HA_RULE}},
            ]
        }
    }
    assert pending_creates(export) == [Pending("u1", VM, APP1)]
    assert other_pending(export) == ["deleting u2"]
    assert pending_creates({"deployment": {}}) == []


def test_a_dynamic_resource_is_cleared_for_its_create_to_take_over() -> None:
    item = pending("pulumi-python:dynamic/ceph:Pool", {"pool_name": "vm-pool"})
    assert resolve(item, PveFacts()).action == "clear"


def test_the_declared_vm_is_imported_under_its_current_node() -> None:
    facts = PveFacts(vms={101: ("pve2", APP1_CONFIG)})
    result = resolve(pending(VM, APP1), facts)
    assert (result.action, result.id) == ("import", "pve2/101")


def test_a_vm_pve_does_not_hold_is_cleared() -> None:
    assert resolve(pending(VM, APP1), PveFacts(vms={102: ("pve1", APP1_CONFIG)})).action == "clear"


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({**APP1_CONFIG, "name": "other"}, "name is 'other' there, 'app1' here"),
        ({**APP1_CONFIG, "memory": "2048"}, "memory is 2048 there, 1024 here"),
        ({**APP1_CONFIG, "cores": 4}, "cores is 4 there, 1 here"),
        ({**APP1_CONFIG, "scsi0": "local-lvm:vm-101-disk-0,size=8G"}, "scsi0 storage is 'local-lvm' there"),
        ({k: v for k, v in APP1_CONFIG.items() if k != "scsi0"}, "scsi0 storage is unset there"),
    ],
)
def test_another_vm_under_the_vmid_is_refused_naming_both_sides(config: dict[str, Any], words: str) -> None:
    result = resolve(pending(VM, APP1), PveFacts(vms={101: ("pve1", config)}))
    assert result.action == "refuse" and words in result.reason and "Nothing was changed" in result.reason


def test_ha_resource_rule_and_group() -> None:
    declared = {"resourceId": "vm:101", "state": "started", "maxRestart": 2, "maxRelocate": 2, "comment": "c"}
    live = {"sid": "vm:101", "state": "started", "max_restart": 2, "max_relocate": 2, "comment": "c"}
    assert resolve(pending(HA_RESOURCE, declared), PveFacts(ha_resources={"vm:101": live})).id == "vm:101"
    stopped = PveFacts(ha_resources={"vm:101": {**live, "state": "stopped"}})
    assert resolve(pending(HA_RESOURCE, declared), stopped).action == "refuse"
    assert resolve(pending(HA_RESOURCE, declared), PveFacts()).action == "clear"
    rule = {"rule": "hci-nodes", "type": "node-affinity", "resources": ["vm:101", "vm:102"]}
    live_rule = {"rule": "hci-nodes", "type": "node-affinity", "resources": "vm:102,vm:101"}
    assert resolve(pending(HA_RULE, rule), PveFacts(ha_rules={"hci-nodes": live_rule})).action == "import"
    other_rule = {**live_rule, "resources": "vm:103"}
    assert resolve(pending(HA_RULE, rule), PveFacts(ha_rules={"hci-nodes": other_rule})).action == "refuse"
    group = {"group": "g1", "nodes": {"pve1": 1, "pve2": None}}
    live_group = {"group": "g1", "nodes": "pve2,pve1:1"}
    assert resolve(pending(HA_GROUP, group), PveFacts(ha_groups={"g1": live_group})).id == "g1"


def test_apt_repositories_are_imported_when_configured() -> None:
    apt = {
        "standard-repos": [{"handle": "no-subscription", "status": 1}, {"handle": "test"}],
        "files": [{"path": "/etc/apt/sources.list.d/ceph.sources", "repositories": [{"Enabled": 1}]}],
    }
    facts = PveFacts(apt={"pve1": apt})
    standard = resolve(pending(APT_STANDARD, {"node": "pve1", "handle": "no-subscription"}), facts)
    assert (standard.action, standard.id) == ("import", "pve1,no-subscription")
    assert resolve(pending(APT_STANDARD, {"node": "pve1", "handle": "test"}), facts).action == "clear"
    enabled = {"node": "pve1", "filePath": "/etc/apt/sources.list.d/ceph.sources", "index": 0.0, "enabled": True}
    assert resolve(pending(APT_REPOSITORY, enabled), facts).id == "pve1,/etc/apt/sources.list.d/ceph.sources,0"
    assert resolve(pending(APT_REPOSITORY, {**enabled, "index": 1}), facts).action == "clear"


def test_the_import_file_keeps_each_urns_name_parent_and_protection() -> None:
    facts = PveFacts(vms={101: ("pve1", APP1_CONFIG)})
    vm = Pending(f"urn:pulumi:dev::proxmox-hci::comp${VM}::hci-vm-app1-qemu", VM, APP1, "urn:parent", True)
    results = [resolve(vm, facts), resolve(pending("pulumi-python:dynamic/ceph:Osd", {}), facts)]
    assert import_file(results) == {
        "nameTable": {"parent0": "urn:parent"},
        "resources": [{"type": VM, "name": "hci-vm-app1-qemu", "id": "pve1/101", "parent": "parent0", "protect": True}],
    }
    assert import_file(results[1:]) is None


def test_a_pulumi_proxmoxve_delete_pve_finished_is_done_and_one_it_did_not_is_not() -> None:
    export = {
        "deployment": {
            "pending_operations": [
                {
                    "type": "deleting",
                    "resource": {"urn": "u1", "type": HA_RESOURCE, "inputs": {"resourceId": "vm:101"}},
                },
                {"type": "deleting", "resource": {"urn": "u2", "type": HA_RULE, "inputs": {"rule": "hci-nodes"}}},
                {"type": "deleting", "resource": {"urn": "u3", "type": "pulumi-python:dynamic/ceph:Pool"}},
                {"type": "updating", "resource": {"urn": "u4", "type": VM, "inputs": APP1}},
            ]
        }
    }
    deletes = pending_deletes(export)
    assert [d.urn for d in deletes] == ["u1", "u2"]  # ours resume by themselves; an update reruns
    facts = PveFacts(ha_rules={"hci-nodes": {"rule": "hci-nodes"}})
    assert [delete_done(d, facts) for d in deletes] == [True, False]
    assert delete_done(pending(VM, APP1), PveFacts(vms={101: ("pve1", APP1_CONFIG)})) is False
    assert delete_done(pending(VM, APP1), PveFacts()) is True
    assert (
        delete_done(pending(APT_STANDARD, {"node": "pve1", "handle": "ceph-squid-no-subscription"}), PveFacts())
        is False
    )


def test_a_vm_update_killed_in_its_live_migration_is_refreshed_once_pve_moved_the_vm() -> None:
    from hci_tools.pending_creates import moved_away, pending_vm_updates

    urn = "urn:pulumi:dev::proxmox-hci::proxmoxve:index/vmLegacy:VmLegacy::hci-vm-legacy1-qemu"
    export = {
        "deployment": {
            "resources": [{"urn": urn, "type": VM, "inputs": {**APP1, "vmId": 103}, "outputs": {"nodeName": "pve1"}}],
            "pending_operations": [
                {"type": "updating", "resource": {"urn": urn, "type": VM, "inputs": {**APP1, "nodeName": "pve2"}}},
                {"type": "updating", "resource": {"urn": "gone", "type": VM, "inputs": APP1}},
            ],
        }
    }
    (update,) = pending_vm_updates(export)  # the stored state: the node before the update
    assert (update.urn, update.inputs["nodeName"], update.inputs["vmId"]) == (urn, "pve1", 103)
    assert moved_away(update, PveFacts(vms={103: ("pve2", {})})) == "pve2"
    assert moved_away(update, PveFacts(vms={103: ("pve1", {})})) is None  # not moved: the rerun migrates it
    assert moved_away(update, PveFacts()) is None  # not in PVE: the rerun reports it
