"""Node maintenance on the dev stack, end to end with the real engine: pve1 goes into maintenance with
a plain VM and an HA VM on it, loses power while in maintenance (noout keeps its OSD in), comes back,
and leaves maintenance; checksummed RBD data written first reads back intact, no object lost.

The dev stack, with legacy1 (not HA-managed) declared on pve1 beside app1 (HA), and app1 in a
node-affinity rule of its own that prefers pve1, so HA moving it back afterwards is its failback.
The lab marks a down OSD out after 10 s (Ceph's default: 600), which is what noout must prevent.
The figures (entering, leaving, the whole cycle, objects lost) are printed, not asserted, except the loss.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hci_tools import ceph_facts
from hci_tools import kill_drill as drill
from hci_tools.ceph_facts import ceph_json, pg_states, unfound_objects
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory
from tests.e2e.test_day2 import DOWN_OUT_INTERVAL, IMAGE, Day2, data_intact
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

APP1, LEGACY1 = 101, 103
POOL = "vm-pool"


@dataclass
class Maintenance:
    lab: Lab
    project: PulumiProject
    data: Path
    figures: dict[str, str] = field(default_factory=dict)

    def day2(self) -> Day2:  # test_day2's helpers take its state
        return Day2(lab=self.lab, project=self.project, data=self.data)


def stack_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    cfg = config["config"]
    legacy1 = next(vm for vm in cfg["proxmox-hci:vms"] if vm["name"] == "legacy1")
    legacy1["node"] = "pve1"
    shared = cfg["proxmox-hci:ha"]["rules"][0]
    shared["vms"] = ["app2"]
    app1_rule = {
        "name": "app1-home",
        "type": "node-affinity",
        "vms": ["app1"],
        "nodes": {"pve1": 2, "pve2": 1, "pve3": 1},
        "strict": False,
        "comment": "app1 prefers pve1",
    }
    cfg["proxmox-hci:ha"]["rules"].append(app1_rule)
    return config


@pytest.fixture(scope="module")
def maint(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Maintenance]:
    lab = lab_factory("--pve-version", "9", "--mon-osd-down-out-interval", str(DOWN_OUT_INTERVAL))
    root = tmp_path_factory.mktemp("maintenance")
    project = PulumiProject.create(root, "dev", stack_config(), engine_bin(), lab_environment(lab.info.state_dir))
    project.up()
    data = root / "data.bin"
    data.write_bytes(os.urandom(32 * 2**20))
    lab.rbd("import", "--no-progress", str(data), IMAGE)
    state = Maintenance(lab=lab, project=project, data=data)
    yield state
    print("\nmaintenance figures:\n" + "\n".join(f"  {k}: {v}" for k, v in state.figures.items()))
    lab_factory.stop(lab)


def vm_node(lab: Lab, vmid: int) -> str:
    rows = {r["vmid"]: r for r in lab.api().cluster.resources.get(type="vm")}
    return str(rows[vmid]["node"])


def noout(lab: Lab) -> bool:
    return "noout" in ceph_json(lab, "osd", "dump")["flags_set"]


def pool_objects(lab: Lab) -> int:
    """The pool's object count from `ceph df`, once it held for one MGR stats period (it lags writes)."""

    def count() -> int:
        return ceph_facts.pool_objects(lab, POOL)

    seen = [count()]

    def steady() -> bool:
        time.sleep(6)  # mgr_stats_period is 5 s
        seen.append(count())
        return seen[-1] == seen[-2]

    wait_for(f"{POOL}'s object count to settle", steady, timeout=120)
    return seen[-1]


def set_maintenance(value: bool) -> Any:
    def change(config: dict[str, Any]) -> None:
        pve1 = next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve1")
        pve1["maintenance"] = value

    return change


def osd_of(lab: Lab, node: str) -> int:
    daemons = lab.control("GET", "/lab/status")["daemons"]
    (osd,) = [d for d in daemons if d["kind"] == "osd" and d["node"] == node]
    return int(osd["id"])


def test_a_maintenance_cycle_moves_the_vms_keeps_the_osds_in_and_loses_nothing(maint: Maintenance) -> None:
    lab, project = maint.lab, maint.project
    assert (vm_node(lab, APP1), vm_node(lab, LEGACY1)) == ("pve1", "pve1")
    assert not noout(lab)
    objects = pool_objects(lab)

    # -- enter: ok-to-stop, noout, the plain VM live-migrated, the HA VM moved by HA ---------------
    project.edit_config(set_maintenance(True))
    start = time.monotonic()
    out = project.up()
    entered = time.monotonic() - start
    assert "noout is set cluster-wide" in out.stdout, out.stdout[-3000:]
    assert noout(lab)
    assert vm_node(lab, LEGACY1) == "pve2"  # the next node in `nodes`
    assert vm_node(lab, APP1) in ("pve2", "pve3")  # where HA put it, by its rule without pve1
    rules = {r["rule"]: r for r in lab.api().cluster.ha.rules.get()}
    assert "pve1" not in rules["app1-home"]["nodes"] and "pve1" not in rules["hci-nodes"]["nodes"]
    running = [r for r in lab.api().cluster.resources.get(type="vm") if r["node"] == "pve1"]
    assert [r for r in running if r["status"] == "running"] == []
    project.preview("--expect-no-changes")  # converged: a second up has nothing left to do

    # -- the work: pve1 loses power; noout keeps its OSD in past the down-out interval --------------
    victim = osd_of(lab, "pve1")
    lab.fail_node("pve1")

    def osd_state() -> tuple[int, int]:
        osd = next(o for o in ceph_json(lab, "osd", "dump")["osds"] if o["osd"] == victim)
        return osd["up"], osd["in"]

    wait_for(f"osd.{victim} down", lambda: osd_state()[0] == 0, timeout=60)
    time.sleep(DOWN_OUT_INTERVAL * 2)
    assert osd_state() == (0, 1)  # down, still in: no rebalance while the node is away
    pg_states(lab)  # degraded is fine, lost never
    lab.recover_node("pve1")
    wait_for(f"osd.{victim} up", lambda: osd_state() == (1, 1), timeout=120)

    # -- leave: noout cleared, the plain VM back, HA's failback brings app1 home, active+clean ------
    project.edit_config(set_maintenance(False))
    start = time.monotonic()
    project.up()
    left = time.monotonic() - start
    assert not noout(lab)
    assert vm_node(lab, LEGACY1) == "pve1"
    wait_for("app1 back on pve1 by HA failback", lambda: vm_node(lab, APP1) == "pve1", timeout=120, interval=1)
    back_home = time.monotonic() - start
    assert pg_states(lab) == {"active+clean"}
    status = ceph_json(lab, "status")
    assert (status["osdmap"]["num_osds"], status["osdmap"]["num_up_osds"], status["osdmap"]["num_in_osds"]) == (3, 3, 3)
    lost = objects - pool_objects(lab)
    assert lost == 0 and unfound_objects(lab) == 0
    data_intact(maint.day2(), "after-maintenance.bin")
    project.preview("--expect-no-changes")
    maint.figures["maintenance: enter (pulumi up: ok-to-stop, noout, VMs off pve1)"] = f"{entered:.1f} s"
    maint.figures["maintenance: leave (pulumi up: noout cleared, active+clean)"] = f"{left:.1f} s"
    maint.figures["maintenance: leave until HA failback brought app1 home"] = f"{back_home:.1f} s"
    maint.figures["maintenance: cycle (enter + leave pulumi ups)"] = f"{entered + left:.1f} s"
    maint.figures["maintenance: objects lost"] = f"{lost} of {objects} (unfound {unfound_objects(lab)})"


def test_maintenance_is_refused_in_cephs_words_when_another_node_is_down(maint: Maintenance) -> None:
    """With pve2 powered off, stopping pve1 would leave one copy (min_size 2) and one MON of three:
    Ceph says no, and the up fails before noout or any VM changes."""
    lab, project = maint.lab, maint.project
    lab.fail_node("pve2")
    try:
        down = osd_of(lab, "pve2")
        wait_for(
            f"osd.{down} down",
            lambda: any(o["osd"] == down and o["up"] == 0 for o in ceph_json(lab, "osd", "dump")["osds"]),
            timeout=60,
        )
        # Until the two MONs left have formed a quorum, mon commands time out (PVE's too).
        wait_for(
            "a quorum of pve1 and pve3",
            lambda: sorted(ceph_json(lab, "quorum_status")["quorum_names"]) == ["pve1", "pve3"],
            timeout=120,
            interval=1,
            ignore=(Exception,),
        )
        wait_for(
            "`ceph osd df` (a MGR command) answering",
            lambda: lab.ceph("osd", "df", timeout=10),
            timeout=120,
            interval=1,
            ignore=(Exception,),
        )
        project.edit_config(set_maintenance(True))
        out = project.up(check=False)
        text = out.stdout + out.stderr
        assert out.returncode != 0
        assert "node pve1 cannot go into maintenance: Ceph says stopping it is not safe" in text, text[-3000:]
        assert "Nothing was changed" in text
        assert not noout(lab)
        assert vm_node(lab, LEGACY1) == "pve1"
        rules = {r["rule"]: r for r in lab.api().cluster.ha.rules.get()}
        assert "pve1" in rules["app1-home"]["nodes"]
    finally:
        project.edit_config(set_maintenance(False))
        lab.recover_node("pve2")
    wait_for("active+clean after pve2 is back", lambda: pg_states(lab) == {"active+clean"}, timeout=300, interval=1)
    data_intact(maint.day2(), "after-refusal.bin")


def test_runs_killed_mid_migration_and_right_after_noout_converge(maint: Maintenance) -> None:
    """Entering maintenance, SIGKILLed inside legacy1's live migration (a VM half moved), then the next
    run SIGKILLed right as it sets noout (before its state is written): the documented recovery
    (`pulumi cancel`, hci_tools.resume, `pulumi up`) converges, and leaving still clears noout, the
    flag being the maintenance's own (NodeMaintenance recorded that it was not set before)."""
    lab, project = maint.lab, maint.project
    assert (vm_node(lab, LEGACY1), noout(lab)) == ("pve1", False)
    project.edit_config(set_maintenance(True))
    up = ("up", "--yes", "--skip-preview")
    migrating = drill.KillPoint("migrate-103", "live migration", task=("qmigrate", str(LEGACY1)))
    first = drill.interrupt(project, lab, migrating, up)
    assert first.reached, first.log[-4000:]
    resumed = drill.prepare(project, killed=True)
    assert resumed.ok, resumed.output[-4000:]
    # bpg's rerun would look for legacy1 on pve1: resume waited for the migration and refreshed it.
    assert "hci-vm-legacy1-qemu: PVE finished its live migration to pve2" in resumed.output, resumed.output[-4000:]
    flag = drill.KillPoint("noout", "noout set", request=("PUT", "/cluster/ceph/flags/{flag}"))
    second = drill.interrupt(project, lab, flag, up)
    assert second.reached, second.log[-4000:]
    final = drill.recover(project, up, killed=True)
    assert final.ok, final.output[-6000:]
    assert noout(lab) and vm_node(lab, LEGACY1) == "pve2" and vm_node(lab, APP1) != "pve1"
    project.preview("--expect-no-changes")
    project.edit_config(set_maintenance(False))
    project.up()
    assert not noout(lab)
    assert vm_node(lab, LEGACY1) == "pve1"
    wait_for("app1 back on pve1", lambda: vm_node(lab, APP1) == "pve1", timeout=120, interval=1)
    assert pg_states(lab) == {"active+clean"}
    data_intact(maint.day2(), "after-kills.bin")
    project.preview("--expect-no-changes")
    maint.figures["maintenance: killed runs, recovery to converged"] = f"{final.seconds:.1f} s"
