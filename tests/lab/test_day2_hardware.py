"""The lab's day-2 hardware, on the wire: a node joins, a disk fails, a new disk goes into its slot.

One small lab for the module (one MON, one OSD per node, a size-3 pool), built through PVE's API;
the tests run in order: add a node and give it an OSD, then fail that node's disk and watch Ceph
mark the OSD down, then out (after the lab's mon_osd_down_out_interval), and recover onto the
others; then swap the disk and destroy the dead OSD the way `pveceph osd destroy --cleanup` does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ResourceException

from lab.client import LabError
from lab.pytest_plugin import Lab, LabFactory
from lab.statefile import read_settings
from tests.lab.terminal_client import install, login
from tests.waiting import wait_for, wait_task

pytestmark = pytest.mark.lab

DOWN_OUT_INTERVAL = 4  # seconds; Ceph's default is 600


@pytest.fixture(scope="module")
def day2(lab_factory: LabFactory) -> Iterator[Lab]:
    lab = lab_factory("--ceph-installed", "--disks", "512G", "--mon-osd-down-out-interval", str(DOWN_OUT_INTERVAL))
    token, root = lab.api(), lab.root_api()
    token.nodes("pve1").ceph.init.post(network=lab.public_network, size=3, min_size=2)
    assert wait_task(token, token.nodes("pve1").ceph.mon("pve1").post())[0] == "OK"
    upids = [root.nodes(node).ceph.osd.post(dev="/dev/sdb") for node in lab.nodes]
    assert [wait_task(root, u, timeout=180)[0] for u in upids] == ["OK"] * 3
    assert wait_task(token, token.nodes("pve1").ceph.pool.post(name="vm-pool", size=3, min_size=2, pg_num=8))[0] == "OK"
    yield lab
    lab_factory.stop(lab)


def ceph_json(lab: Lab, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def osd_of(lab: Lab, node: str, devpath: str) -> int:
    disks = {d["devpath"]: d for d in lab.api().nodes(node).disks.list.get()}
    return int(disks[devpath]["osdid"])


def osd_up(lab: Lab, osd_id: int) -> bool:
    return any(o["osd"] == osd_id and o["up"] == 1 for o in ceph_json(lab, "osd", "dump")["osds"])


def active_clean(lab: Lab) -> bool:
    pgmap = ceph_json(lab, "status")["pgmap"]
    states = {s["state_name"]: s["count"] for s in pgmap.get("pgs_by_state", [])}
    return bool(pgmap["num_pgs"] > 0 and states.get("active+clean") == pgmap["num_pgs"])


def test_add_node_joins_with_its_own_address_and_disks_and_no_ceph(day2: Lab) -> None:
    day2.add_node("pve4", "512G+1T:hdd")
    assert day2.nodes == ["pve1", "pve2", "pve3", "pve4"]  # lab.json follows
    token = day2.api()
    assert sorted(n["node"] for n in token.nodes.get()) == day2.nodes
    disks = {d["devpath"]: d for d in token.nodes("pve4").disks.list.get()}
    assert (disks["/dev/sdb"]["size"], disks["/dev/sdc"]["type"]) == (512 * 1024**3, "hdd")
    assert not disks["/dev/sdb"].get("used")
    with pytest.raises(ResourceException) as info:
        token.nodes("pve4").ceph.osd.get()
    assert (info.value.status_code, str(info.value.content).strip()) == (500, "binary not installed: /usr/bin/ceph-mon")
    # A cluster member, online (HA's CRM reads its node list from the same members).
    members = {e["name"]: e for e in token.cluster.status.get() if e["type"] == "node"}
    assert members["pve4"]["online"] == 1, members
    # Persisted, so a restarted server rebuilds it; a duplicate is refused in words naming it.
    assert read_settings(Path(day2.state_dir)).added_nodes == (("pve4", "512G+1T:hdd"),)
    with pytest.raises(LabError, match="node 'pve4' is already in the lab"):
        day2.add_node("pve4")


def test_the_new_node_gets_ceph_and_an_osd_at_its_own_address(day2: Lab) -> None:
    root = day2.root_api()
    # The wizard's way, through the node's terminal (tests/lab/terminal_client.py): PVE has no other.
    text = install(login(day2), "pve4", "--version", "squid", "--repository", "no-subscription")
    assert "installed Ceph 19.2 Squid successfully!" in text
    assert wait_task(root, root.nodes("pve4").ceph.osd.post(dev="/dev/sdb"), timeout=180)[0] == "OK"
    osd_id = osd_of(day2, "pve4", "/dev/sdb")
    # Its metadata and CRUSH host come with its boot, after the task (ceph-volume only starts it).
    wait_for(f"osd.{osd_id} up", lambda: osd_up(day2, osd_id), timeout=120)
    metadata = ceph_json(day2, "osd", "metadata", str(osd_id))
    ip = day2.public_network.rsplit(".", 1)[0] + ".14"  # .(10+N): the next address after pve3's .13
    assert f"{ip}:" in metadata["front_addr"], metadata["front_addr"]
    hosts = {n["name"] for n in ceph_json(day2, "osd", "tree")["nodes"] if n["type"] == "host"}
    assert "pve4" in hosts
    wait_for("active+clean after pve4's OSD joined", lambda: active_clean(day2), timeout=120)


def test_fail_disk_kills_the_osd_errors_reads_then_ceph_marks_it_out_and_recovers(day2: Lab) -> None:
    osd_id = osd_of(day2, "pve4", "/dev/sdb")
    failed_at = time.monotonic()
    day2.fail_disk("pve4", "/dev/sdb")
    daemons = {d["id"]: d for d in day2.control("GET", "/lab/status")["daemons"] if d["kind"] == "osd"}
    assert not daemons[str(osd_id)]["running"]
    disks = {d["devpath"]: d for d in day2.api().nodes("pve4").disks.list.get()}
    assert disks["/dev/sdb"]["health"] == "FAILED" and disks["/dev/sdb"]["osdid"] == str(osd_id)  # PVE: a string
    with pytest.raises(ResourceException) as info:
        day2.root_api().nodes("pve4").ceph.osd.post(dev="/dev/sdb")
    assert "Input/output error" in str(info.value.content)

    def state() -> tuple[bool, bool]:
        osd = next(o for o in ceph_json(day2, "osd", "dump")["osds"] if o["osd"] == osd_id)
        return bool(osd["up"]), bool(osd["in"])

    wait_for(f"osd.{osd_id} down", lambda: not state()[0], timeout=30)
    assert state() == (False, True)  # down, not yet out: Ceph waits mon_osd_down_out_interval
    wait_for(f"osd.{osd_id} out", lambda: not state()[1], timeout=DOWN_OUT_INTERVAL + 30)
    assert time.monotonic() - failed_at >= DOWN_OUT_INTERVAL
    wait_for("recovery onto pve1..pve3", lambda: active_clean(day2), timeout=120)
    safe = day2.ceph("osd", "safe-to-destroy", str(osd_id), check=False)
    assert "safe to destroy" in safe or safe == "", safe


def test_replace_disk_puts_a_blank_disk_in_the_slot_and_the_dead_osd_goes(day2: Lab) -> None:
    osd_id = osd_of(day2, "pve4", "/dev/sdb")
    day2.replace_disk("pve4", "/dev/sdb", "1T")
    disks = {d["devpath"]: d for d in day2.api().nodes("pve4").disks.list.get()}
    new = disks["/dev/sdb"]
    assert (new["health"], new["size"], new["osdid"], new.get("used")) == ("PASSED", 1024**4, -1, None)
    root = day2.root_api()
    exitstatus, _ = wait_task(root, root.nodes("pve4").ceph.osd(osd_id).delete(cleanup=1))
    assert exitstatus == "OK"
    assert osd_id not in [o["osd"] for o in ceph_json(day2, "osd", "dump")["osds"]]
    assert wait_task(root, root.nodes("pve4").ceph.osd.post(dev="/dev/sdb"), timeout=180)[0] == "OK"
    wait_for("active+clean with the new OSD", lambda: active_clean(day2), timeout=120)
    assert read_settings(Path(day2.state_dir)).replaced_disks == (("pve4", "/dev/sdb", "1T"),)


def test_replace_disk_refuses_while_its_osd_runs(day2: Lab) -> None:
    with pytest.raises(LabError, match=r"osd\.\d+ still runs on /dev/sdb of pve1"):
        day2.replace_disk("pve1", "/dev/sdb")
