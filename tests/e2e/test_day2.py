"""Day 2 on the dev stack, end to end with the real engine: a node joins, then a disk fails and is
replaced, then the node is retired and removed, with checksummed RBD data written first and read back
intact after each step, no PG lost.

One lab and one stack for the module (the dev stack, as tests/e2e/test_dev_stack.py builds it; the
lab marks a down OSD out after 10 s instead of Ceph's 600). The tests run in order. The figures
(rebalance after add-node, recovery after the failure, the replacement) are printed, not asserted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hci_tools.ceph_facts import ceph_json, file_digest, image_digest, pg_states
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

DOWN_OUT_INTERVAL = 10  # seconds (Ceph's default: 600)
IMAGE = "vm-pool/vm-900-disk-0"


@dataclass
class Day2:
    lab: Lab
    project: PulumiProject
    data: Path
    figures: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def day2(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day2]:
    lab = lab_factory("--pve-version", "9", "--mon-osd-down-out-interval", str(DOWN_OUT_INTERVAL))
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    root = tmp_path_factory.mktemp("day2")
    project = PulumiProject.create(root, "dev", config, engine_bin(), lab_environment(lab.info.state_dir))
    project.up()
    data = root / "data.bin"
    data.write_bytes(os.urandom(32 * 2**20))
    lab.rbd("import", "--no-progress", str(data), IMAGE)
    state = Day2(lab=lab, project=project, data=data)
    yield state
    print("\nday-2 figures:\n" + "\n".join(f"  {k}: {v}" for k, v in state.figures.items()))
    lab_factory.stop(lab)


def data_intact(state: Day2, name: str) -> None:
    assert image_digest(state.lab, IMAGE, state.data.with_name(name)) == file_digest(state.data)


def planned(project: PulumiProject) -> dict[str, set[str]]:
    """type::name -> the preview's operations on it (a replacement has several), `same` left out."""
    out: dict[str, set[str]] = {}
    for step in project.preview_json().get("steps", []):
        if step["op"] == "same":
            continue
        urn = step["urn"]
        out.setdefault(f"{urn.split('::')[-2].rsplit('$', 1)[-1]}::{urn.split('::')[-1]}", set()).add(step["op"])
    return out


def osd_on(lab: Lab, node: str, dev: str) -> dict[str, Any]:
    daemons = lab.control("GET", "/lab/status")["daemons"]
    (osd,) = [d for d in daemons if d["kind"] == "osd" and d["node"] == node and d["disk"] == dev]
    return dict(osd)


# -- 1. a node joins ---------------------------------------------------------------------------------


def add_pve4(config: dict[str, Any]) -> None:
    config["proxmox-hci:nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}]})
    config["proxmox-hci:managers"].append("pve4")  # a third MGR, so that retiring pve4 removes one


def test_a_new_node_previews_exactly_its_install_and_osd(day2: Day2) -> None:
    day2.lab.add_node("pve4", "512G")
    day2.project.edit_config(add_pve4)
    plan = planned(day2.project)
    updates = {k for k, ops in plan.items() if ops != {"create"}}
    assert updates == {"pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-osds"}, plan  # the wait, re-armed
    assert plan["pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-osds"] == {"update"}
    created = {k for k, ops in plan.items() if ops == {"create"}}
    assert all("pve4" in k for k in created), created
    assert {
        "pulumi-python:dynamic/ceph:Install::hci-node-pve4-ceph-install",
        "pulumi-python:dynamic/ceph:Osd::hci-ceph-osd-pve4-sdb",
    } <= created, created


def test_even_mon_count_is_refused_at_preview(day2: Day2) -> None:
    original = day2.project.read_config()
    try:
        day2.project.edit_config(lambda c: c["proxmox-hci:monitors"].append("pve4"))
        out = day2.project.preview(check=False)
        assert out.returncode != 0
        assert "monitors: 4 MONs tolerate no more failures than 3" in out.stdout + out.stderr
    finally:
        day2.project.write_config(original)


def test_up_adds_the_node_and_waits_for_active_clean_after_the_rebalance(day2: Day2) -> None:
    lab = day2.lab
    start = time.monotonic()
    day2.project.up()
    took = time.monotonic() - start
    status = ceph_json(lab, "status")
    assert status["health"]["status"] == "HEALTH_OK", status["health"]
    assert (status["osdmap"]["num_osds"], status["osdmap"]["num_up_osds"]) == (4, 4)
    assert pg_states(lab) == {"active+clean"}
    new = next(o for o in ceph_json(lab, "osd", "df")["nodes"] if o["id"] == int(osd_on(lab, "pve4", "/dev/sdb")["id"]))
    assert new["pgs"] > 0  # data moved onto it
    data_intact(day2, "after-add.bin")
    day2.figures["add-node: pulumi up to HEALTH_OK"] = f"{took:.1f} s"
    day2.figures["add-node: data on the new OSD"] = f"{new['kb_used_data'] / 1024:.1f} MiB in {new['pgs']} PGs"


# -- 2. a disk fails ----------------------------------------------------------------------------------


def test_a_failed_disk_is_marked_down_then_out_and_ceph_recovers_losing_nothing(day2: Day2) -> None:
    lab = day2.lab
    victim = int(osd_on(lab, "pve2", "/dev/sdb")["id"])
    start = time.monotonic()
    lab.fail_disk("pve2", "/dev/sdb")

    def osd_state() -> tuple[int, int]:
        osd = next(o for o in ceph_json(lab, "osd", "dump")["osds"] if o["osd"] == victim)
        return osd["up"], osd["in"]

    wait_for(f"osd.{victim} down", lambda: osd_state()[0] == 0, timeout=60)
    down = time.monotonic() - start
    wait_for(f"osd.{victim} out", lambda: osd_state() == (0, 0), timeout=DOWN_OUT_INTERVAL + 60)
    out = time.monotonic() - start
    wait_for("recovery to active+clean", lambda: pg_states(lab) == {"active+clean"}, timeout=300, interval=1)
    recovered = time.monotonic() - start
    data_intact(day2, "after-failure.bin")
    day2.figures["fail-disk: down / out / active+clean"] = f"{down:.1f} s / {out:.1f} s / {recovered:.1f} s"


def test_preview_after_the_failure_plans_nothing(day2: Day2) -> None:
    day2.project.preview("--expect-no-changes")


# -- 3. the disk is replaced ---------------------------------------------------------------------------


def mark_replaced(config: dict[str, Any]) -> None:
    pve2 = next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve2")
    pve2["osds"][0]["replacement"] = "lab-pve2-sdb-2"


def test_replacing_the_disk_replaces_that_osd_only_and_waits_for_health(day2: Day2) -> None:
    lab = day2.lab
    dead = osd_on(lab, "pve2", "/dev/sdb")
    lab.replace_disk("pve2", "/dev/sdb")
    day2.project.edit_config(mark_replaced)
    plan = planned(day2.project)
    osd = "pulumi-python:dynamic/ceph:Osd::hci-ceph-osd-pve2-sdb"
    assert plan[osd] == {"replace"}, plan
    assert set(plan) == {osd, "pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-osds"}, plan
    start = time.monotonic()
    day2.project.up()
    took = time.monotonic() - start
    new = lab.control("GET", "/lab/status")["daemons"]
    (fresh,) = [d for d in new if d["kind"] == "osd" and d["node"] == "pve2" and d["disk"] == "/dev/sdb"]
    assert fresh["uuid"] != dead["uuid"] and fresh["running"]
    tasks = lab.tasks()
    destroyed = [t for t in tasks if t["type"] == "cephdestroyosd" and t["id"] == f"osd.{dead['id']}"]
    assert [t["exitstatus"] for t in destroyed] == ["OK"]
    # Same slot: the dead OSD went first (delete before replace), then the new one was created.
    created = [t for t in tasks if t["type"] == "cephcreateosd" and t["node"] == "pve2"]
    assert created[-1]["exitstatus"] == "OK" and created[-1]["start"] >= destroyed[0]["end"]
    status = ceph_json(lab, "status")
    assert status["health"]["status"] == "HEALTH_OK", status["health"]
    assert (status["osdmap"]["num_osds"], status["osdmap"]["num_up_osds"], status["osdmap"]["num_in_osds"]) == (4, 4, 4)
    assert pg_states(lab) == {"active+clean"}
    data_intact(day2, "after-replacement.bin")
    day2.project.preview("--expect-no-changes")
    day2.figures["replace-disk: pulumi up (destroy, create, HEALTH_OK)"] = f"{took:.1f} s"


# -- 4. the node retires, then leaves the stack ---------------------------------------------------------


def retire_pve4(config: dict[str, Any]) -> None:
    pve4 = next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve4")
    pve4["retire"] = True
    config["proxmox-hci:managers"].remove("pve4")  # the config check asks for it in the same change


def warnings_in(events: str, words: str) -> int:
    """How many warnings among a run's engine events (`pulumi up --json`: one JSON event a line) contain `words`."""
    lines = [json.loads(line) for line in events.splitlines() if line.startswith("{")]
    diagnostics = [e["diagnosticEvent"] for e in lines if "diagnosticEvent" in e]
    return sum(1 for d in diagnostics if d.get("severity") == "warning" and words in d.get("message", ""))


def test_retiring_the_node_drains_its_osd_then_removes_its_mgr_losing_nothing(day2: Day2) -> None:
    lab = day2.lab
    osd_id = int(osd_on(lab, "pve4", "/dev/sdb")["id"])
    held = next(o for o in ceph_json(lab, "osd", "df")["nodes"] if o["id"] == osd_id)
    assert held["pgs"] > 0  # the drain has data to move
    day2.project.edit_config(retire_pve4)
    plan = planned(day2.project)
    assert plan == {
        "pulumi-python:dynamic/ceph:Osd::hci-ceph-osd-pve4-sdb": {"update"},  # retired: drained in place
        "pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-osds": {"update"},
        "pulumi-python:dynamic/ceph:Manager::hci-ceph-mgr-pve4": {"delete"},
    }, plan
    start = time.monotonic()
    events = day2.project.up("--json").stdout
    took = time.monotonic() - start
    tasks = lab.tasks()
    (destroyed,) = [t for t in tasks if t["type"] == "cephdestroyosd" and t["id"] == f"osd.{osd_id}"]
    (mgr_gone,) = [t for t in tasks if t["type"] == "cephdestroymgr" and t["id"] == "mgr.pve4"]
    assert destroyed["exitstatus"] == mgr_gone["exitstatus"] == "OK"
    assert mgr_gone["start"] >= destroyed["end"]  # the delete ran after the drain (Pulumi's deletes come last)
    mgrs = ceph_json(lab, "mgr", "dump")
    assert "pve4" not in [mgrs["active_name"], *(m["name"] for m in mgrs["standbys"])], mgrs
    status = ceph_json(lab, "status")
    assert status["health"]["status"] == "HEALTH_OK", status["health"]
    assert (status["osdmap"]["num_osds"], status["osdmap"]["num_up_osds"], status["osdmap"]["num_in_osds"]) == (3, 3, 3)
    assert pg_states(lab) == {"active+clean"}
    lost = status["pgmap"].get("unfound_objects", 0)
    assert lost == 0 and status["pgmap"].get("degraded_objects", 0) == 0
    data_intact(day2, "after-retire.bin")
    # The manual steps, once: the empty host bucket and the PVE cluster membership.
    assert warnings_in(events, "`ceph osd crush remove pve4`") == 1
    assert warnings_in(events, "`pvecm delnode pve4`") == 1
    (host,) = [b for b in ceph_json(lab, "osd", "tree")["nodes"] if b["type"] == "host" and b["name"] == "pve4"]
    assert not host.get("children")  # the empty bucket the manual steps name
    day2.project.preview("--expect-no-changes")
    day2.figures["retire-node: pulumi up (drain, destroy, MGR, HEALTH_OK)"] = f"{took:.1f} s"
    day2.figures["retire-node: drained"] = f"{held['kb_used_data'] / 1024:.1f} MiB in {held['pgs']} PGs"
    day2.figures["retire-node: objects lost"] = str(lost)


def test_removing_the_retired_node_from_the_stack_deletes_only_its_own_resources(day2: Day2) -> None:
    day2.project.edit_config(
        lambda c: c.update({"proxmox-hci:nodes": [n for n in c["proxmox-hci:nodes"] if n["name"] != "pve4"]})
    )
    plan = planned(day2.project)
    gate = "pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-osds"
    assert plan.pop(gate) == {"update"}  # the OSD list changed: the health wait, re-armed
    assert plan and all(ops == {"delete"} and "pve4" in key for key, ops in plan.items()), plan
    assert "pulumi-python:dynamic/ceph:Osd::hci-ceph-osd-pve4-sdb" in plan  # unprotected, retired: a no-op
    assert "pulumi-python:dynamic/ceph:Install::hci-node-pve4-ceph-install" in plan
    start = time.monotonic()
    day2.project.up()
    day2.figures["retire-node: removal from nodes (pulumi up)"] = f"{time.monotonic() - start:.1f} s"
    assert pg_states(day2.lab) == {"active+clean"}
    data_intact(day2, "after-removal.bin")
    day2.project.preview("--expect-no-changes")
