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


def tasks_of(lab: Any, task_type: str, task_id: str) -> list[dict[str, Any]]:
    return [t for t in lab.tasks() if t["type"] == task_type and t["id"] == task_id]


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


def test_init_again_takes_over_the_same_configuration_and_refuses_another(
    drive: Any, hci_lab: Any, built: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    init = drive(CephInitProvider)
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        assert init.create(api_nodes=NODES, network=hci_lab.public_network).id == built["init"].id
    assert "took over Ceph's configuration" in caplog.text
    with pytest.raises(AlreadyExists, match=rf"network is '{hci_lab.public_network}' there, '10.99.0.0/24' here"):
        init.create(api_nodes=NODES, network="10.99.0.0/24", adopt=True)


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


def test_an_existing_monitor_is_taken_over_when_it_is_ours(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    assert mon.create(node="pve2").id == built["mon-pve2"].id
    address = built["mon-pve2"].outs["address"]
    other = str(ipaddress.ip_address(address) + 100)
    with pytest.raises(
        AlreadyExists, match=rf"mon.pve2 already exists .* address is '{address}' there, '{other}' here"
    ):
        mon.create(node="pve2", address=other, adopt=True)


def test_monitor_removal_below_three_is_refused(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    with pytest.raises(UnsafeToProceed, match="would leave 2 monitor"):
        mon.delete(built["mon-pve3"])
    assert mon.read(built["mon-pve3"]).outs["in_quorum"] is True


def test_an_interrupted_monitor_destroy_and_create_are_waited_for_not_raced(
    drive: Any, hci_lab: Any, built: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """What a killed run leaves: PVE's task still running. The provider waits for it, then decides."""
    mon = drive(CephMonitorProvider)
    node = hci_lab.api().nodes("pve3").ceph
    res = mon.update(built["mon-pve3"], allow_shrink=True)
    node.mon("pve3").delete()  # started, never waited for
    mon.delete(res)
    assert len(tasks_of(hci_lab, "cephdestroymon", "mon.pve3")) == 1  # the provider started no second one
    assert mon.read(res).id == ""
    creates = len(tasks_of(hci_lab, "cephcreatemon", "mon.pve3"))
    node.mon("pve3").post()  # started, never waited for
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        res = mon.create(node="pve3")
    assert "is still running" in caplog.text and "took over mon.pve3" in caplog.text
    assert len(tasks_of(hci_lab, "cephcreatemon", "mon.pve3")) == creates + 1
    assert res.outs["in_quorum"] is True
    built["mon-pve3"] = res


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


def test_exactly_the_declared_managers_remain(drive: Any, hci_lab: Any, built: dict[str, Any]) -> None:
    # As with managers [pve2] while the first MON (pve1) made mgr.pve1: the last declared MGR removes it.
    mgr = drive(CephManagerProvider)
    res = mgr.create(node="pve2", declared_managers=["pve2"])
    mgrs = drive(CephPoolProvider).provider.client().mgr_list("pve1")
    assert [m["name"] for m in mgrs] == ["pve2"] and mgrs[0]["state"] in ("active", "standby")
    assert mgr.read(built["mgr-pve1"]).id == ""  # gone from the cluster
    destroys = [t for t in hci_lab.tasks() if t["type"] == "cephdestroymgr"]
    assert destroys[-1]["node"] == "pve1"  # destroyed on its own host
    built["mgr-pve2"] = res


def test_osd_create_needs_a_root_password(drive: Any, hci_lab: Any) -> None:
    before = hci_lab.request_counts()
    with pytest.raises(MissingCredential, match=r"proxmoxve:username=root@pam and proxmoxve:password"):
        drive(CephOsdProvider, token_only=True).create(node="pve1", device="/dev/sdb")
    assert hci_lab.request_counts() == before  # refused before any request


def test_osds_created_up_and_in(drive: Any, built: dict[str, Any]) -> None:
    osd = drive(CephOsdProvider)
    client = osd.provider.client()
    for node in NODES[:2]:
        sdb = next(d for d in client.disks_list(node) if d["devpath"] == "/dev/sdb")
        # Each form a stack may use: PVE's by_id_link, the wwn- link, another by-id link ending in the serial.
        device = {
            "pve1": sdb["by_id_link"],
            "pve2": f"/dev/disk/by-id/wwn-{sdb['wwn']}",
        }[node]
        res = osd.create(node=node, device=device)
        assert res.outs["devpath"] == "/dev/sdb" and res.id == f"{node}/{int(res.outs['osd_id'])}"
        built[f"osd-{node}"] = res


def test_an_osd_create_still_running_is_waited_for_then_taken_over(
    drive: Any, hci_lab: Any, built: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    osd = drive(CephOsdProvider)
    client = osd.provider.client()
    sdb = next(d for d in client.disks_list("pve3") if d["devpath"] == "/dev/sdb")
    client.osd_create("pve3", dev="/dev/sdb")  # started by a run that was killed
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        # another by-id link of the disk, ending in its serial
        res = osd.create(node="pve3", device=f"/dev/disk/by-id/scsi-SATA_QEMU_HARDDISK_{sdb['serial']}")
    assert "is still running" in caplog.text and f"took over osd.{int(res.outs['osd_id'])}" in caplog.text
    assert [t["node"] for t in tasks_of(hci_lab, "cephcreateosd", "sdb")] == ["pve1", "pve2", "pve3"]
    built["osd-pve3"] = res


def test_the_osd_a_device_holds_is_taken_over_when_it_is_ours(drive: Any, built: dict[str, Any]) -> None:
    osd = drive(CephOsdProvider)
    assert osd.create(node="pve1", device="/dev/sdb").id == built["osd-pve1"].id
    with pytest.raises(AlreadyExists, match="crush_device_class is 'ssd' there, 'nvme' here"):
        osd.create(node="pve1", device="/dev/sdb", adopt=True, crush_device_class="nvme")
    with pytest.raises(AlreadyExists, match="encrypted is False there, True here"):
        osd.create(node="pve1", device="/dev/sdb", adopt=True, encrypted=True)


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


def test_an_existing_pool_is_taken_over_as_it_is_and_adopted_only_on_request(
    drive: Any, hci_lab: Any, built: dict[str, Any]
) -> None:
    pool = drive(CephPoolProvider)
    assert pool.create(api_nodes=NODES, pool_name="vm", size=2, min_size=2).id == "vm"  # exactly ours
    with pytest.raises(AlreadyExists, match=r"target_size_ratio is unset there, 0.2 here.*set adopt=true"):
        pool.create(api_nodes=NODES, pool_name="vm", size=2, min_size=2, target_size_ratio=0.2)
    pool.create(api_nodes=NODES, pool_name="vm", size=2, min_size=2, target_size_ratio=0.2, adopt=True)
    assert (
        float(
            json.loads(hci_lab.ceph("osd", "pool", "get", "vm", "target_size_ratio", "--format", "json"))[
                "target_size_ratio"
            ]
        )
        == 0.2
    )
    built["pool"] = pool.update(built["pool"], target_size_ratio=0.2)


def test_an_interrupted_pool_create_and_delete_are_waited_for_not_raced(
    drive: Any, hci_lab: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pool = drive(CephPoolProvider)
    api = hci_lab.api().nodes("pve1").ceph.pool
    # What the killed run sent: the provider's own create parameters for this pool.
    api.post(name="resumed", size=3, min_size=2, pg_num=32, pg_autoscale_mode="on", application="rbd", add_storages=0)
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        res = pool.create(api_nodes=NODES, pool_name="resumed")
    assert "took over pool 'resumed'" in caplog.text
    assert len(tasks_of(hci_lab, "cephcreatepool", "resumed")) == 1
    api("resumed").delete()  # a delete the killed run started
    pool.delete(res)
    assert len(tasks_of(hci_lab, "cephdestroypool", "resumed")) == 1
    assert '"resumed"' not in hci_lab.ceph("osd", "pool", "ls", "--format", "json")


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


def test_an_existing_storage_is_taken_over_when_it_is_ours_and_refused_on_another_pool(
    drive: Any, hci_lab: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = drive(RbdStorageProvider)
    hci_lab.api().storage.post(storage="made-by-a-killed-run", type="rbd", pool="vm", content="images", krbd=0)
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        res = storage.create(storage="made-by-a-killed-run", pool="vm")
    assert "took over storage 'made-by-a-killed-run'" in caplog.text
    with pytest.raises(AlreadyExists, match="pool is 'vm' there, 'other' here"):
        storage.create(storage="made-by-a-killed-run", pool="other", adopt=True)
    storage.delete(res)


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


def test_a_disk_move_still_running_is_waited_for_not_repeated(
    drive: Any, hci_lab: Any, built: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    move = drive(DiskMoveProvider)
    moves = len(tasks_of(hci_lab, "qmmove", "120"))
    hci_lab.api().nodes("pve2").qemu(120).move_disk.post(disk="scsi0", storage="local-lvm", delete=1)
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        res = move.create(vm_id=120, disk="scsi0", storage="local-lvm")
    assert "is still running" in caplog.text
    assert res.outs["volume"].startswith("local-lvm:")
    assert len(tasks_of(hci_lab, "qmmove", "120")) == moves + 1  # the killed run's move only
    built["move"] = move.update(type(res)(res.id, res.outs), storage="ceph-vm")


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
