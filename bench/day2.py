"""Day 2 on the dev stack, timed: the figures issue 8 asks for, from one run on a fresh lab.

  0. maintenance: `maintenance: true` on pve3 (legacy1 lives there), `pulumi up` (ok-to-stop, VMs off,
                noout); pve3 loses power past the down-out interval and comes back; `maintenance: false`,
                `pulumi up` (noout cleared, active+clean): the two ups, and the whole cycle.
  1. add-node:  `python -m lab add-node pve4`, the node added to `nodes` with one OSD, `pulumi up`:
                time to HEALTH_OK (all PGs active+clean after the rebalance), bytes on the new OSD.
  2. fail-disk: `lab fail-disk pve2 /dev/sdb`: time until Ceph marks the OSD down, out, and has
                recovered every PG (the lab marks a down OSD out after --mon-osd-down-out-interval).
  3. replace:   `lab replace-disk`, the OSD's `replacement` marker set, `pulumi up`: time to HEALTH_OK.
  4. retire:    `retire: true` on pve4, `pulumi up` (drain, destroy, HEALTH_OK): time, bytes drained;
                then pve4 out of `nodes`, `pulumi up`: time.
Every step checks, with hci_tools/ceph_facts.py, that no PG was ever in a lost state, that no object
is unfound, and that a 32 MiB RBD image written before reads back with the same sha256.
Usage: .venv/bin/python -m bench.day2 [--down-out-interval S]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hci_tools.ceph_facts import ceph_json, image_digest, pg_states, pool_objects, unfound_objects
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, start_lab, stop_lab

IMAGE_POOL = "vm-pool"
IMAGE = f"{IMAGE_POOL}/vm-900-disk-0"
IMAGE_BYTES = 32 * 2**20
POLL = 0.5


@dataclass
class Drill:
    lab: Lab
    project: PulumiProject
    scratch: Path
    digest: str
    objects: int
    figures: list[tuple[str, str]] = field(default_factory=list)

    def note(self, what: str, value: str) -> None:
        self.figures.append((what, value))
        print(f"  {what}: {value}", flush=True)

    def intact(self, step: str) -> None:
        """Nothing lost after `step`: no unfound object, the image's bytes and the pool's objects as before."""
        unfound = unfound_objects(self.lab)
        same = image_digest(self.lab, IMAGE, self.scratch) == self.digest
        objects = pool_objects(self.lab, IMAGE_POOL)
        self.note(f"{step}: objects lost", f"{unfound} unfound, image checksum {'equal' if same else 'DIFFERENT'}")
        if unfound or not same or objects < self.objects:
            raise SystemExit(f"{step}: data lost ({unfound} unfound, checksum equal {same}, {objects} objects)")


def until(what: str, test: Callable[[], bool], lab: Lab, timeout: float = 600) -> float:
    """Seconds until test() holds, checking on every poll that no PG is in a lost state."""
    start = time.monotonic()
    while not test():
        pg_states(lab)
        if time.monotonic() - start > timeout:
            raise SystemExit(f"no {what} after {timeout:.0f} s")
        time.sleep(POLL)
    return time.monotonic() - start


def clean(lab: Lab) -> bool:
    status = ceph_json(lab, "status")
    return bool(status["health"]["status"] == "HEALTH_OK" and pg_states(lab) == {"active+clean"})


def osd_on(lab: Lab, node: str, dev: str) -> dict[str, Any]:
    daemons = lab.control("GET", "/lab/status")["daemons"]
    (osd,) = [d for d in daemons if d["kind"] == "osd" and d["node"] == node and d["disk"] == dev]
    return dict(osd)


def timed_up(project: PulumiProject) -> float:
    start = time.monotonic()
    project.up()
    return time.monotonic() - start


def maintenance_cycle(drill: Drill, interval: int) -> None:
    lab, project = drill.lab, drill.project

    def set_maintenance(value: bool) -> Callable[[dict[str, Any]], None]:
        def change(config: dict[str, Any]) -> None:
            next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve3")["maintenance"] = value

        return change

    def guests_on_pve3() -> list[int]:
        rows = lab.api().cluster.resources.get(type="vm")
        return [int(r["vmid"]) for r in rows if r["node"] == "pve3" and r["status"] == "running"]

    osd = int(osd_on(lab, "pve3", "/dev/sdb")["id"])

    def up_in() -> tuple[int, int]:
        entry = next(o for o in ceph_json(lab, "osd", "dump")["osds"] if o["osd"] == osd)
        return int(entry["up"]), int(entry["in"])

    start = time.monotonic()
    project.edit_config(set_maintenance(True))
    entered = timed_up(project)
    flags = ceph_json(lab, "osd", "dump")["flags_set"]
    if "noout" not in flags or guests_on_pve3():
        raise SystemExit(f"maintenance: after the up, flags {flags}, guests still on pve3 {guests_on_pve3()}")
    lab.fail_node("pve3")
    until(f"osd.{osd} down", lambda: up_in()[0] == 0, lab)
    time.sleep(interval * 2)
    if up_in() != (0, 1):
        raise SystemExit(f"maintenance: osd.{osd} is {up_in()} (up, in) while pve3 is down; noout should keep it in")
    lab.recover_node("pve3")
    until(f"osd.{osd} up", lambda: up_in() == (1, 1), lab)
    project.edit_config(set_maintenance(False))
    left = timed_up(project)
    until("active+clean", lambda: clean(lab), lab)
    if "noout" in ceph_json(lab, "osd", "dump")["flags_set"]:
        raise SystemExit("maintenance: noout still set after leaving")
    drill.note("maintenance: enter / leave (pulumi up each)", f"{entered:.1f} s / {left:.1f} s")
    drill.note(
        "maintenance: cycle with the node down and back",
        f"{time.monotonic() - start:.1f} s (of which pve3 down {interval * 2} s past the down-out interval)",
    )
    drill.intact("maintenance")


def add_node(drill: Drill) -> None:
    lab = drill.lab
    lab.add_node("pve4", "512G")
    drill.project.edit_config(
        lambda c: c["proxmox-hci:nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}]})
    )
    took = timed_up(drill.project)  # its health gate waits for active+clean after the rebalance
    if not clean(lab):
        raise SystemExit("add-node: pulumi up ended before HEALTH_OK")
    new = int(osd_on(lab, "pve4", "/dev/sdb")["id"])
    df = next(o for o in ceph_json(lab, "osd", "df")["nodes"] if o["id"] == new)
    drill.note("add-node: pulumi up to HEALTH_OK", f"{took:.1f} s")
    drill.note("add-node: rebalanced onto the new OSD", f"{df['kb_used_data'] / 1024:.1f} MiB in {df['pgs']} PGs")
    drill.intact("add-node")


def fail_disk(drill: Drill, interval: int) -> None:
    lab = drill.lab
    victim = int(osd_on(lab, "pve2", "/dev/sdb")["id"])

    def up_in() -> tuple[int, int]:
        osd = next(o for o in ceph_json(lab, "osd", "dump")["osds"] if o["osd"] == victim)
        return int(osd["up"]), int(osd["in"])

    start = time.monotonic()
    lab.fail_disk("pve2", "/dev/sdb")
    until(f"osd.{victim} down", lambda: up_in()[0] == 0, lab)
    down = time.monotonic() - start
    until(f"osd.{victim} out", lambda: up_in() == (0, 0), lab)
    out = time.monotonic() - start
    until("recovery to active+clean", lambda: pg_states(lab) == {"active+clean"}, lab)
    recovered = time.monotonic() - start
    drill.note(
        "fail-disk: down / out / all PGs active+clean",
        f"{down:.1f} s / {out:.1f} s / {recovered:.1f} s (down-out interval {interval} s; "
        f"recovery itself {recovered - out:.1f} s)",
    )
    drill.intact("fail-disk")


def replace_disk(drill: Drill) -> None:
    lab = drill.lab
    lab.replace_disk("pve2", "/dev/sdb")

    def mark(config: dict[str, Any]) -> None:
        pve2 = next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve2")
        pve2["osds"][0]["replacement"] = "bench-new-disk"

    drill.project.edit_config(mark)
    took = timed_up(drill.project)
    if not clean(lab):
        raise SystemExit("replace-disk: pulumi up ended before HEALTH_OK")
    drill.note("replace-disk: pulumi up (destroy, create, HEALTH_OK)", f"{took:.1f} s")
    drill.intact("replace-disk")


def retire_node(drill: Drill) -> None:
    lab = drill.lab
    osd = int(osd_on(lab, "pve4", "/dev/sdb")["id"])
    held = next(o for o in ceph_json(lab, "osd", "df")["nodes"] if o["id"] == osd)

    def retire(config: dict[str, Any]) -> None:
        next(n for n in config["proxmox-hci:nodes"] if n["name"] == "pve4")["retire"] = True

    drill.project.edit_config(retire)
    took = timed_up(drill.project)
    status = ceph_json(lab, "status")
    if not clean(lab) or status["osdmap"]["num_osds"] != 3:
        raise SystemExit(f"retire: pulumi up ended with {status['osdmap']['num_osds']} OSDs, {status['health']}")
    drill.note("retire-node: pulumi up (drain, destroy, HEALTH_OK)", f"{took:.1f} s")
    drill.note("retire-node: drained off its OSD", f"{held['kb_used_data'] / 1024:.1f} MiB in {held['pgs']} PGs")
    drill.intact("retire-node")
    drill.project.edit_config(
        lambda c: c.update({"proxmox-hci:nodes": [n for n in c["proxmox-hci:nodes"] if n["name"] != "pve4"]})
    )
    drill.note("retire-node: removal from nodes (pulumi up)", f"{timed_up(drill.project):.1f} s")
    drill.intact("node removed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--down-out-interval", type=int, default=10, help="seconds (Ceph's default: 600)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-day2-"))
    lab = start_lab(base / "lab", "--pve-version", "9", "--mon-osd-down-out-interval", str(args.down_out_interval))
    try:
        config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
        project = PulumiProject.create(
            base / "project", "dev", config, engine_bin(), lab_environment(lab.info.state_dir)
        )
        print(f"dev stack up: {timed_up(project):.1f} s", flush=True)
        data = base / "data.bin"
        data.write_bytes(os.urandom(IMAGE_BYTES))
        lab.rbd("import", "--no-progress", str(data), IMAGE, timeout=300)
        digest = image_digest(lab, IMAGE, base / "check.bin")
        drill = Drill(lab, project, base / "check.bin", digest, pool_objects(lab, IMAGE_POOL))
        maintenance_cycle(drill, args.down_out_interval)
        add_node(drill)
        fail_disk(drill, args.down_out_interval)
        replace_disk(drill)
        retire_node(drill)
        print("day-2 figures (one run):")
        for what, value in drill.figures:
            print(f"  {what:<55} {value}")
    finally:
        stop_lab(base / "lab")


if __name__ == "__main__":
    main()
