"""OSD removal as a drain, replacement as drain + create, resuming an interrupted drain, an OSD's
leftover LVs, and shrinking the MONs. Two disks per node, so an OSD's data has somewhere to go.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dynamic_providers import ceph_osd
from dynamic_providers.ceph_mon import CephMonitorProvider
from dynamic_providers.ceph_osd import CephOsdProvider
from dynamic_providers.ceph_pool import CephPoolProvider
from dynamic_providers.errors import UnsafeToProceed, WaitTimeout

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Any:
    lab = lab_factory("--ceph-installed", "--disks", "512G+512G")
    yield lab
    lab_factory.stop(lab)


@pytest.fixture(scope="module")
def cluster(bootstrap: Any, drive: Any, hci_lab: Any) -> dict[str, Any]:
    """MONs on all nodes; OSDs on pve1 sdb+sdc, pve2 sdb, pve3 sdb; a size-3 pool holding some data."""
    built: dict[str, Any] = bootstrap()
    osd = drive(CephOsdProvider)
    for node, dev in (("pve1", "sdb"), ("pve1", "sdc"), ("pve2", "sdb"), ("pve3", "sdb")):
        built[f"osd-{node}-{dev}"] = osd.create(node=node, device=f"/dev/{dev}")
    built["pool"] = drive(CephPoolProvider).create(api_nodes=hci_lab.nodes, pool_name="vm")
    hci_lab.rbd("create", "vm/data", "--size", "256M")
    hci_lab.rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-total", "48M", "vm/data", timeout=120)
    return built


def osd_ids(lab: Any) -> dict[int, dict[str, Any]]:
    return {o["osd"]: o for o in json.loads(lab.ceph("osd", "dump", "--format", "json"))["osds"]}


def disk(drive: Any, node: str, devpath: str) -> dict[str, Any]:
    rows = drive(CephOsdProvider).provider.client().disks_list(node)
    return next(row for row in rows if row["devpath"] == devpath)


def test_replacing_an_osd_drains_the_old_one_then_creates(drive: Any, hci_lab: Any, cluster: dict[str, Any]) -> None:
    osd = drive(CephOsdProvider)
    old = cluster["osd-pve1-sdc"]
    diff = osd.diff(old, encrypted=True)
    assert diff.replaces == ["encrypted"] and diff.delete_before_replace is True  # same disk: old one first
    old_id = int(old.outs["osd_id"])
    osd.delete(old)  # what the engine runs first for a delete-before-replace
    assert old_id not in osd_ids(hci_lab)
    assert not disk(drive, "pve1", "/dev/sdc").get("used")  # destroyed with cleanup: the disk is free
    new = osd.create(**{**osd.inputs_of(old), "encrypted": True})
    assert osd.read(new).id == new.id
    cluster["osd-pve1-sdc"] = new


def test_interrupted_drain_resumes_from_live_state(
    drive: Any, hci_lab: Any, cluster: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    osd = drive(CephOsdProvider)
    res = cluster["osd-pve1-sdc"]
    osd_id = int(res.outs["osd_id"])
    hci_lab.ceph("osd", "set", "nobackfill")  # data cannot move: the drain has to wait
    hci_lab.ceph("osd", "set", "norecover")
    try:
        monkeypatch.setattr(ceph_osd, "DRAIN_TIMEOUT", 3.0)
        with pytest.raises(WaitTimeout, match=r"phase 'drain' \(marked osd\.\d+ out with \d+ PGs"):
            osd.delete(res)
        assert osd_ids(hci_lab)[osd_id]["in"] == 0  # left out, still draining
    finally:
        hci_lab.ceph("osd", "unset", "nobackfill")
        hci_lab.ceph("osd", "unset", "norecover")
    monkeypatch.setattr(ceph_osd, "DRAIN_TIMEOUT", 600.0)
    osd.delete(res)  # a new run picks up where the cluster is
    assert osd_id not in osd_ids(hci_lab)


def test_an_osds_leftover_lvs_are_named_with_the_command_that_clears_them(
    drive: Any, hci_lab: Any, cluster: dict[str, Any]
) -> None:
    osd = drive(CephOsdProvider)
    res = osd.create(node="pve1", device="/dev/sdc")
    osd_id = int(res.outs["osd_id"])
    root = hci_lab.root_api()
    client = osd.provider.client()
    root.nodes("pve1").ceph.osd(osd_id).out.post()
    client.wait_task(root.nodes("pve1").ceph.stop.post(service=f"osd.{osd_id}"), 120, "stopping")
    client.wait_task(root.nodes("pve1").ceph.osd(osd_id).delete(cleanup=0), 300, "destroying without cleanup")
    left = disk(drive, "pve1", "/dev/sdc")
    assert (left.get("used"), left["osdid"]) == ("LVM", str(osd_id))  # the LV tag stays, the OSD is gone
    by_id = left["by_id_link"]
    for opts in ({}, {"wipe": True}, {"adopt": True}):  # neither wiping (PVE refuses: holder) nor adopting helps
        with pytest.raises(UnsafeToProceed) as info:
            osd.create(node="pve1", device=by_id, **opts)
        assert str(info.value).startswith(f"/dev/sdc on pve1 still carries the LVs of osd.{osd_id}, which the OSD")
        assert "On pve1, run `ceph-volume lvm zap --destroy /dev/sdc`" in str(info.value)
    assert not [t for t in hci_lab.tasks() if t["type"] == "wipedisk"]  # refused before any change
    hci_lab.zap("pve1", "/dev/sdc")  # what the message says to run on the node
    res = osd.create(node="pve1", device=by_id)  # any by-id link: OSD create is sent the devpath
    assert res.outs["devpath"] == "/dev/sdc" and osd_ids(hci_lab)[int(res.outs["osd_id"])]["up"] == 1


def test_monitors_shrink_only_with_the_opt_in_and_never_to_zero(drive: Any, cluster: dict[str, Any]) -> None:
    mon = drive(CephMonitorProvider)
    with pytest.raises(UnsafeToProceed, match="fewer than 3"):
        mon.delete(cluster["mon-pve3"])
    mon.delete(mon.update(cluster["mon-pve3"], allow_shrink=True))
    mon.delete(mon.update(cluster["mon-pve2"], allow_shrink=True))
    with pytest.raises(UnsafeToProceed, match="last monitor"):
        mon.delete(mon.update(cluster["mon-pve1"], allow_shrink=True))
    assert mon.read(cluster["mon-pve1"]).outs["in_quorum"] is True
