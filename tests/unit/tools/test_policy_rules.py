"""The HCI policy rules (policy/hci_policy/rules.py) on plain resource views: each rule fails what
breaks it, passes what keeps it, and tells lab stacks from cluster stacks by the stack's tags."""

from __future__ import annotations

from typing import Any

import pytest
from hci_policy import rules
from hci_policy.rules import Resource, Stack

LAB = Stack(tags={rules.KIND_TAG: "lab"})
CLUSTER = Stack(tags={rules.KIND_TAG: "cluster"})
UNTAGGED = Stack()


def res(type_: str, resource_name: str, protect: bool = True, deps: tuple[str, ...] = (), **props: Any) -> Resource:
    urn = f"urn:pulumi:s::p::{type_}::{resource_name}"
    return Resource(type=type_, name=resource_name, urn=urn, props=props, protect=protect, dependencies=deps)


def pool(size: int = 3, min_size: int = 2, **kw: Any) -> Resource:
    return res(rules.POOL, "hci-ceph-pool-vm-pool", pool_name="vm-pool", size=size, min_size=min_size, **kw)


def mons(*nodes: str) -> list[Resource]:
    return [res(rules.MON, f"hci-ceph-mon-{i}", node=node) for i, node in enumerate(nodes)]


def mgrs(*nodes: str) -> list[Resource]:
    return [res(rules.MGR, f"hci-ceph-mgr-{node}", node=node) for node in nodes]


# -- pool replicas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "min_size", "broken"), [(2, 2, ["size 2"]), (3, 1, ["min_size 1"]), (1, 1, ["size 1", "min_size 1"])]
)
def test_small_pools_fail_on_clusters_naming_pool_and_fix(size: int, min_size: int, broken: list[str]) -> None:
    found = rules.pool_replicas(pool(size, min_size), CLUSTER)
    assert len(found) == len(broken)
    for violation, what in zip(found, broken, strict=True):
        assert what in violation.message and "pool vm-pool" in violation.message
        assert "proxmox-hci:pools" in violation.message
        assert violation.urn.endswith("hci-ceph-pool-vm-pool")


def test_small_pools_pass_on_labs_and_size_3_passes_everywhere() -> None:
    assert rules.pool_replicas(pool(1, 1), LAB) == []
    assert rules.pool_replicas(pool(3, 2), CLUSTER) == []
    assert rules.pool_replicas(pool(rules.UNKNOWN, rules.UNKNOWN), CLUSTER) == []


def test_an_untagged_stack_is_held_to_cluster_rules() -> None:
    assert UNTAGGED.kind == "cluster" and Stack(tags={rules.KIND_TAG: "prod"}).kind == "cluster"
    assert rules.pool_replicas(pool(2, 1), UNTAGGED)
    tag = rules.stack_kind_tagged([], UNTAGGED)
    assert len(tag) == 1 and "pulumi stack tag set proxmox-hci:kind" in tag[0].message
    assert rules.stack_kind_tagged([], LAB) == [] and rules.stack_kind_tagged([], CLUSTER) == []
    assert "'prod', not lab or cluster" in rules.stack_kind_tagged([], Stack(tags={rules.KIND_TAG: "prod"}))[0].message


# -- protection and allowDataLoss ------------------------------------------------------------------


@pytest.mark.parametrize("type_", [rules.OSD, rules.POOL, rules.RBD_STORAGE, rules.VM])
def test_unprotected_data_fails_on_clusters_only(type_: str) -> None:
    bare = res(type_, "thing", protect=False)
    found = rules.data_protected(bare, CLUSTER)
    assert len(found) == 1 and "not protected" in found[0].message and "protect" in found[0].message
    assert found[0].urn == bare.urn
    assert rules.data_protected(bare, LAB) == []
    assert rules.data_protected(res(type_, "thing", protect=True), CLUSTER) == []


def test_a_retired_osd_needs_no_protection_and_only_it() -> None:
    assert rules.data_protected(res(rules.OSD, "o", protect=False, retired=True), CLUSTER) == []
    assert rules.data_protected(res(rules.OSD, "o", protect=False, retired=None), CLUSTER)
    assert rules.data_protected(res(rules.POOL, "p", protect=False, retired=True), CLUSTER)


def test_gates_and_monitors_need_no_protection() -> None:
    assert rules.data_protected(res(rules.MON, "m", protect=False), CLUSTER) == []
    assert rules.data_protected(res("pulumi-python:dynamic/ceph:HealthGate", "g", protect=False), CLUSTER) == []


@pytest.mark.parametrize(("type_", "flag"), sorted(rules.DATA_LOSS_FLAGS.items()))
def test_data_loss_flags_fail_on_clusters(type_: str, flag: str) -> None:
    on = res(type_, "r", True, (), **{flag: True})
    found = rules.no_data_loss(on, CLUSTER)
    assert len(found) == 1 and flag in found[0].message and "allowDataLoss false" in found[0].message
    assert rules.no_data_loss(on, LAB) == []
    assert rules.no_data_loss(res(type_, "r", True, (), **{flag: False}), CLUSTER) == []


# -- MONs and MGRs ---------------------------------------------------------------------------------


def test_three_or_five_mons_on_distinct_nodes_pass() -> None:
    assert rules.monitor_quorum(mons("pve1", "pve2", "pve3"), CLUSTER) == []
    assert rules.monitor_quorum(mons("a", "b", "c", "d", "e"), LAB) == []


@pytest.mark.parametrize(
    ("nodes", "says"),
    [
        (("pve1", "pve2"), "fewer than 3"),
        (("pve1",), "fewer than 3"),
        (("pve1", "pve2", "pve3", "pve4"), "an even count"),
        (("pve1", "pve1", "pve2"), "run on node pve1"),
    ],
)
def test_mon_quorum_violations_on_every_kind_of_stack(nodes: tuple[str, ...], says: str) -> None:
    for stack in (LAB, CLUSTER):
        found = rules.monitor_quorum(mons(*nodes), stack)
        assert any(says in v.message and "proxmox-hci:monitors" in v.message for v in found), found


def test_one_mgr_is_advised_against() -> None:
    assert rules.manager_standby(mgrs("pve1", "pve2"), CLUSTER) == []
    found = rules.manager_standby(mgrs("pve1"), LAB)
    assert len(found) == 1 and "standby" in found[0].message and "proxmox-hci:managers" in found[0].message


# -- HA VMs on shared storage ----------------------------------------------------------------------


def vm(vm_id: int, *disks: tuple[str, str]) -> Resource:
    return res(
        rules.VM,
        f"hci-vm-app{vm_id}-qemu",
        name=f"app{vm_id}",
        vmId=vm_id,
        disks=[{"interface": i, "datastoreId": s} for i, s in disks],
    )


def ha(vm_id: int) -> Resource:
    return res(rules.HA_RESOURCE, f"hci-ha-resource-app{vm_id}", resourceId=f"vm:{vm_id}")


CEPH = res(rules.RBD_STORAGE, "hci-ceph-storage-ceph-vm", storage="ceph-vm", pool="vm-pool")


def test_ha_vm_on_ceph_passes_and_on_local_fails_naming_vm_disk_and_fix() -> None:
    assert rules.ha_disks_on_shared_storage([CEPH, vm(101, ("scsi0", "ceph-vm")), ha(101)], CLUSTER) == []
    found = rules.ha_disks_on_shared_storage(
        [CEPH, vm(101, ("scsi0", "ceph-vm"), ("scsi1", "local-lvm")), ha(101)], LAB
    )
    assert len(found) == 1
    assert "VM app101 (vm:101)" in found[0].message and "scsi1 on local-lvm" in found[0].message
    assert "disks[].moveTo" in found[0].message and found[0].urn.endswith("hci-vm-app101-qemu")


def test_a_vm_without_ha_may_stay_local() -> None:
    assert rules.ha_disks_on_shared_storage([CEPH, vm(103, ("scsi0", "local-lvm"))], CLUSTER) == []


def test_a_disk_moved_to_ceph_counts_where_it_goes() -> None:
    machine = vm(101, ("scsi0", "local-lvm"))
    by_id = res(rules.DISK_MOVE, "hci-vm-app101-move-scsi0", vm_id=101, disk="scsi0", storage="ceph-vm")
    assert rules.ha_disks_on_shared_storage([CEPH, machine, by_id, ha(101)], CLUSTER) == []
    # vm_id unknown in preview (an output of the VM): matched by the move's dependency on the VM.
    by_dep = res(rules.DISK_MOVE, "m", deps=(machine.urn,), vm_id=rules.UNKNOWN, disk="scsi0", storage="ceph-vm")
    assert rules.ha_disks_on_shared_storage([CEPH, machine, by_dep, ha(101)], CLUSTER) == []
    to_local = res(rules.DISK_MOVE, "m", vm_id=101, disk="scsi0", storage="local")
    assert rules.ha_disks_on_shared_storage([CEPH, machine, to_local, ha(101)], CLUSTER)


def test_shared_storages_of_the_stack_config_count_as_shared() -> None:
    stack = Stack(
        tags=CLUSTER.tags,
        shared_storages=rules.shared_storages_from_config(
            {"proxmox-hci:sharedStorages": '["nfs-vm"]', "other:sharedStorages": '["x"]'}
        ),
    )
    assert stack.shared_storages == ("nfs-vm",)
    assert rules.ha_disks_on_shared_storage([vm(101, ("scsi0", "nfs-vm")), ha(101)], stack) == []
    assert rules.shared_storages_from_config({}) == ()
    assert rules.shared_storages_from_config({"proxmox-hci:sharedStorages": "not json"}) == ()


def test_numbers_arrive_as_floats_and_are_shown_as_integers() -> None:
    """The engine sends properties as protobuf Structs, where every number is a double."""
    machine = res(
        rules.VM,
        "hci-vm-app1-qemu",
        name="app1",
        vmId=101.0,
        disks=[{"interface": "scsi0", "datastoreId": "local-lvm"}],
    )
    found = rules.ha_disks_on_shared_storage([machine, ha(101)], CLUSTER)
    assert len(found) == 1 and "(vm:101)" in found[0].message
    assert "has size 2:" in rules.pool_replicas(pool(2.0, 2.0), CLUSTER)[0].message  # type: ignore[arg-type]
