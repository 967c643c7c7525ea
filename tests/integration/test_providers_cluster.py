"""The providers against a lab (real Ceph daemons behind the PVE API): build a cluster, read it back,
change it, detect drift made directly through the API, and every refusal on the way.

The module builds one cluster step by step; tests run in file order and share it.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import time
from typing import Any

import pytest

from dynamic_providers.ceph_init import CephInitProvider
from dynamic_providers.ceph_mgr import CephManagerProvider
from dynamic_providers.ceph_mon import CephMonitorProvider
from dynamic_providers.ceph_osd import CephOsdProvider
from dynamic_providers.ceph_pool import CephPoolProvider
from dynamic_providers.disk_move import DiskMoveProvider
from dynamic_providers.errors import AlreadyExists, MissingCredential, TaskFailed, UnsafeToProceed, WaitTimeout
from dynamic_providers.health_gate import CephHealthGateProvider
from dynamic_providers.rbd_storage import RbdStorageProvider
from tests.integration.conftest import Resource, wire

pytestmark = pytest.mark.lab

NODES = ["pve1", "pve2", "pve3"]


def wait(drive: Any, upid: str) -> None:
    """Wait for a task started directly through the API (outside the providers)."""
    drive(CephPoolProvider).provider.client().wait_task(upid, 120, "a direct API call")


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """Resources created by earlier tests, by name."""
    return {}


def test_init_creates_and_reads_back(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    init = drive(CephInitProvider)
    res = init.create(api_nodes=NODES, network=hci_lab.public_network)
    assert res.id == res.outs["fsid"] and len(res.id) == 36
    read = init.read(res)
    assert read.id == res.id and read.inputs["network"] == hci_lab.public_network
    built["init"] = res


def test_init_again_needs_adopt_and_matching_network(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    init = drive(CephInitProvider)
    with pytest.raises(AlreadyExists, match="adopt=true"):
        init.create(api_nodes=NODES, network=hci_lab.public_network)
    with pytest.raises(AlreadyExists, match="network is"):
        init.create(api_nodes=NODES, network="10.99.0.0/24", adopt=True)
    assert init.create(api_nodes=NODES, network=hci_lab.public_network, adopt=True).id == built["init"].id


def test_init_network_change_is_refused_not_replaced(drive: Any, built: dict[str, Any]) -> None:
    init = drive(CephInitProvider)
    with pytest.raises(AssertionError, match=r"network: .*manual procedure"):
        init.update(built["init"], network="10.99.0.0/24")


def test_monitors_join_quorum_one_by_one(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    for node in NODES:
        res = mon.create(node=node)
        assert res.id == f"{node}/{node}" and res.outs["in_quorum"] is True
        assert ipaddress.ip_address(res.outs["address"]) in ipaddress.ip_network(hci_lab.public_network)
        built[f"mon-{node}"] = res
    quorum = hci_lab.ceph("quorum_status", "--format", "json")
    assert all(f'"{node}"' in quorum for node in NODES)


def test_existing_monitor_needs_adopt(drive: Any, built: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    with pytest.raises(AlreadyExists, match="monitor 'pve2' already exists on pve2; set adopt=true"):
        mon.create(node="pve2")
    assert mon.create(node="pve2", adopt=True).id == built["mon-pve2"].id


def test_monitor_removal_below_three_is_refused(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    with pytest.raises(UnsafeToProceed, match="would leave 2 monitor"):
        mon.delete(built["mon-pve3"])
    assert mon.read(built["mon-pve3"]).outs["in_quorum"] is True


def test_manager_takes_over_the_first_monitors_manager(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    mgr = drive(CephManagerProvider)
    res = mgr.create(node="pve1")  # no adopt: PVE made mgr.pve1 with the first MON
    assert res.id == "pve1/pve1" and res.outs["state"] == "active"
    assert len([t for t in hci_lab.tasks() if t["type"] == "cephcreatemgr"]) == 1  # none created by us
    built["mgr-pve1"] = res


def test_last_manager_removal_is_refused(drive: Any, built: dict[str, Any]) -> None:
    with pytest.raises(UnsafeToProceed, match="last running manager"):
        drive(CephManagerProvider).delete(built["mgr-pve1"])


def test_second_manager_created_then_removed(drive: Any, built: dict[str, Any]) -> None:
    mgr = drive(CephManagerProvider)
    res = mgr.create(node="pve2")
    assert res.outs["state"] == "standby"
    mgr.delete(res)
    assert mgr.read(res).id == ""  # gone


def test_osd_create_needs_a_root_password(drive: Any, hci_lab: Any) -> None:
    before = hci_lab.request_counts()
    with pytest.raises(MissingCredential, match=r"proxmoxve:username=root@pam and proxmoxve:password"):
        drive(CephOsdProvider, token_only=True).create(node="pve1", device="/dev/sdb")
    assert hci_lab.request_counts() == before  # refused before any request


def test_osds_created_up_and_in(drive: Any, built: dict[str, Any]) -> None:
    osd = drive(CephOsdProvider)
    for node in NODES:
        res = osd.create(node=node, device=f"/dev/disk/by-id/lab-{node}-sdb")
        assert res.outs["devpath"] == "/dev/sdb" and res.id == f"{node}/{int(res.outs['osd_id'])}"
        built[f"osd-{node}"] = res


def test_osd_on_a_used_device_needs_adopt(drive: Any, built: dict[str, Any]) -> None:
    osd = drive(CephOsdProvider)
    with pytest.raises(AlreadyExists, match=r"already holds osd\.\d+; set adopt=true"):
        osd.create(node="pve1", device="/dev/sdb")
    res = osd.create(node="pve1", device="/dev/sdb", adopt=True)
    assert res.id == built["osd-pve1"].id
    with pytest.raises(AlreadyExists, match="device class is ssd, not nvme"):
        osd.create(node="pve1", device="/dev/sdb", adopt=True, crush_device_class="nvme")


def test_pool_created_active_clean(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    pool = drive(CephPoolProvider)
    res = pool.create(api_nodes=NODES, pool_name="vm")
    assert res.id == "vm" and res.outs["pool_id"] >= 1
    assert '"vm"' in hci_lab.ceph("osd", "pool", "ls", "--format", "json")
    built["pool"] = res


def cluster_ips(lab: Any) -> dict[int, str]:
    """osd id -> the IP of its cluster address, from `ceph osd dump`."""
    dump = json.loads(lab.ceph("osd", "dump", "--format", "json"))
    return {o["osd"]: o["cluster_addrs"]["addrvec"][0]["addr"].rsplit(":", 1)[0] for o in dump["osds"]}


def restarts(lab: Any) -> list[str]:
    return [t["id"] for t in lab.tasks() if t["type"] == "srvrestart"]


def test_a_cluster_network_change_is_refused_before_anything_changes(
    drive: Any, hci_lab: Any, built: dict[str, Any]
) -> None:
    init = drive(CephInitProvider)
    client = init.provider.client()
    raw = client.ceph_cfg_raw("pve1")
    with pytest.raises(UnsafeToProceed, match=r"node pve1 has no active address in 10\.254\.0\.0/24 \(its interfaces"):
        init.update(built["init"], cluster_network="10.254.0.0/24")
    hci_lab.ceph("osd", "set", "noout")
    try:
        with pytest.raises(UnsafeToProceed, match=r"noout flag is already set.*Nothing was changed\.$"):
            init.update(built["init"], cluster_network=hci_lab.cluster_network)
    finally:
        hci_lab.ceph("osd", "unset", "noout")
    assert client.ceph_cfg_raw("pve1") == raw and restarts(hci_lab) == []


def test_a_hand_edited_cluster_network_shows_in_refresh_and_the_next_update_restarts_the_osds(
    drive: Any, hci_lab: Any, built: dict[str, Any]
) -> None:
    """ceph.conf changed behind Pulumi's back (PVE's own init call), the OSDs not restarted."""
    init = drive(CephInitProvider)
    init.provider.client().ceph_init("pve1", network=hci_lab.public_network, cluster_network=hci_lab.cluster_network)
    cluster = ipaddress.ip_network(hci_lab.cluster_network)
    assert not any(ipaddress.ip_address(ip) in cluster for ip in cluster_ips(hci_lab).values())
    read = init.read(built["init"])
    assert read.inputs["cluster_network"] == hci_lab.cluster_network
    osds = sorted(f"osd.{int(built[f'osd-{node}'].outs['osd_id'])}" for node in NODES)
    assert sorted(read.outs["osds_to_restart"]) == osds
    refreshed = Resource(read.id, wire(read.outs))
    assert init.diff(refreshed).changes  # the inputs match ceph.conf, but the OSDs do not run there yet
    res = init.update(refreshed)
    assert all(ipaddress.ip_address(ip) in cluster for ip in cluster_ips(hci_lab).values())
    # One at a time, host by host (each task ran after the previous one ended).
    tasks = [t for t in hci_lab.tasks() if t["type"] == "srvrestart"]
    assert [t["node"] for t in tasks] == NODES and all(a["end"] <= b["start"] for a, b in itertools.pairwise(tasks))
    assert "noout" not in json.loads(hci_lab.ceph("osd", "dump", "--format", "json"))["flags"]
    assert "osds_to_restart" not in res.outs and "osds_to_restart" not in wire(init.read(res).outs)
    assert not init.diff(res).changes
    built["init"] = res


def test_osd_removal_refused_when_data_has_nowhere_to_go(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    with pytest.raises(UnsafeToProceed, match=r"nowhere to go: pool '\S+' keeps 3 copies"):
        drive(CephOsdProvider).delete(built["osd-pve1"])
    osd_id = int(built["osd-pve1"].outs["osd_id"])
    dump = json.loads(hci_lab.ceph("osd", "dump", "--format", "json"))
    assert [o["in"] for o in dump["osds"] if o["osd"] == osd_id] == [1]  # nothing was changed


def test_osd_removal_needs_root_before_anything_changes(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    with pytest.raises(MissingCredential, match="destroying osd"):
        drive(CephOsdProvider, token_only=True).delete(built["osd-pve1"])


def test_pool_update_in_place(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    pool = drive(CephPoolProvider)
    diff = pool.diff(built["pool"], size=2, min_size=2)
    assert diff.changes and diff.replaces == []
    built["pool"] = pool.update(built["pool"], size=2, min_size=2)
    assert "size 2 " in hci_lab.ceph("osd", "pool", "ls", "detail") or "size 2" in hci_lab.ceph(
        "osd", "pool", "get", "vm", "size"
    )


def test_pool_drift_is_detected_and_reverted(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    wait(drive, hci_lab.api().nodes("pve1").ceph.pool("vm").put(size=3, min_size=2))  # behind Pulumi's back
    pool = drive(CephPoolProvider)
    read = pool.read(built["pool"])
    assert read.inputs["size"] == 3
    refreshed = type(built["pool"])(read.id, read.outs)
    diff = pool.diff(refreshed, size=2, min_size=2)
    assert diff.changes and diff.replaces == []  # the program's size 2 puts it back, in place
    built["pool"] = pool.update(refreshed, size=2, min_size=2)
    assert pool.read(built["pool"]).inputs["size"] == 2


def test_existing_pool_needs_adopt(drive: Any, built: dict[str, Any]) -> None:
    pool = drive(CephPoolProvider)
    with pytest.raises(AlreadyExists, match="silently reconfigure"):
        pool.create(api_nodes=NODES, pool_name="vm", size=2, min_size=2)
    assert pool.create(api_nodes=NODES, pool_name="vm", size=2, min_size=2, adopt=True).id == "vm"


def test_pool_task_error_carries_pves_message_and_leaves_nothing(drive: Any, hci_lab: Any) -> None:
    pool = drive(CephPoolProvider)
    with pytest.raises(TaskFailed) as info:
        pool.create(api_nodes=NODES, pool_name="broken", crush_rule="no-such-rule")
    text = str(info.value)
    assert "cephcreatepool broken" in text and "node pve1" in text and "Could not set: crush_rule" in text
    assert '"broken"' not in hci_lab.ceph("osd", "pool", "ls", "--format", "json")  # the half-made pool is gone


def test_storage_create_update_and_drift(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    storage = drive(RbdStorageProvider)
    res = storage.create(storage="ceph-vm", pool="vm", content=["images"])
    built["storage"] = res
    res = storage.update(res, content=["rootdir", "images"], krbd=True)
    live = hci_lab.api().storage("ceph-vm").get()
    assert set(live["content"].split(",")) == {"images", "rootdir"} and int(live["krbd"]) == 1
    hci_lab.api().storage("ceph-vm").put(content="images")  # drift
    read = storage.read(res)
    assert read.inputs["content"] == ["images"]
    assert storage.diff(type(res)(read.id, read.outs), content=["images", "rootdir"]).changes
    built["storage"] = res


def test_pool_delete_refused_while_a_storage_points_at_it(drive: Any, built: dict[str, Any]) -> None:
    with pytest.raises(UnsafeToProceed, match=r"RBD storage.*ceph-vm point at it"):
        drive(CephPoolProvider).delete(built["pool"])


def test_disk_move_to_rbd_and_back_detected(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    api = hci_lab.api()
    wait(drive, api.nodes("pve2").qemu.post(vmid=120, name="mover", scsi0="local-lvm:1", memory=512))
    move = drive(DiskMoveProvider)
    res = move.create(vm_id=120, disk="scsi0", storage="ceph-vm")
    assert res.outs["node"] == "pve2" and res.outs["volume"].startswith("ceph-vm:")
    assert "vm-120-disk-0" in hci_lab.rbd("ls", "-p", "vm")
    again = move.create(vm_id=120, disk="scsi0", storage="ceph-vm")  # already there: no second move
    assert again.outs["volume"] == res.outs["volume"]
    assert len([t for t in hci_lab.tasks() if t["type"] == "qmmove"]) == 1
    built["move"] = res


def test_disk_move_read_reports_where_the_disk_is_now(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    move = drive(DiskMoveProvider)
    wait(drive, hci_lab.api().nodes("pve2").qemu(120).move_disk.post(disk="scsi0", storage="local-lvm", delete=1))
    read = move.read(built["move"])
    assert read.inputs["storage"] == "local-lvm" and read.outs["volume"].startswith("local-lvm:")
    refreshed = type(built["move"])(read.id, read.outs)
    diff = move.diff(refreshed, storage="ceph-vm")
    assert diff.changes and diff.replaces == []  # moved back in place, not replaced
    built["move"] = move.update(refreshed, storage="ceph-vm")
    assert built["move"].outs["volume"].startswith("ceph-vm:")


def test_storage_delete_refused_with_volumes(drive: Any, built: dict[str, Any]) -> None:
    with pytest.raises(UnsafeToProceed, match=r"holds 1 volume\(s\) \(ceph-vm:vm-120-disk-0\)"):
        drive(RbdStorageProvider).delete(built["storage"])


def test_pool_delete_refused_while_it_holds_data(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    hci_lab.api().storage("ceph-vm").delete()  # the storage entry goes; the image stays in the pool
    # Ceph's pool statistics trail writes by a few seconds (OSD stat reports); let them catch up.
    deadline = time.monotonic() + 30
    while (
        '"vm"'
        not in json.dumps([p["pool_name"] for p in hci_lab.api().nodes("pve1").ceph.pool.get() if p.get("bytes_used")])
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    with pytest.raises(UnsafeToProceed, match=r"it holds data \(\d+ bytes used, \d+ objects\)"):
        drive(CephPoolProvider).delete(built["pool"])


def test_health_gate_waits_and_summarises(drive: Any) -> None:
    gate = drive(CephHealthGateProvider)
    res = gate.create(api_nodes=NODES, require="no_degraded_pgs", timeout=120)
    assert "active+clean" in res.outs["summary"]
    res = gate.update(res, triggers={"osds": 3})
    assert res.outs["status"].startswith("HEALTH_")


def test_health_gate_times_out_with_the_last_summary(drive: Any, hci_lab: Any) -> None:
    hci_lab.ceph("osd", "set", "noout")  # HEALTH_WARN: noout flag(s) set
    try:
        with pytest.raises(WaitTimeout, match=r"HEALTH_OK.*OSDMAP_FLAGS"):
            drive(CephHealthGateProvider).create(api_nodes=NODES, require="HEALTH_OK", timeout=3)
    finally:
        hci_lab.ceph("osd", "unset", "noout")
