"""Peer comparison, same lab, same run: a pool created, refreshed and deleted by pulumi-proxmoxve's
ceph.Pool (bpg's experimental proxmox_ceph_pool) versus our CephPool, through the real engine.

Prints PVE requests (counted by the lab, split into reads and writes) and wall time per step, and
our steps' phases apart (bench/peer_phases.py): the active+clean wait of our create and the guards
of our delete are extras bpg's pool does not have, so the same work is our wall without them; the
target is within 1.1x of bpg's wall per step.
Usage: .venv/bin/python -m bench.peer_pool
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.lab_bringup import bring_up
from bench.peer_phases import STARTUP, Phase, phases
from bench.timeline import Request
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, start_lab, stop_lab

# The Pulumi project this bench deploys (copied with dynamic_providers/ into a temporary directory).
PROJECT = REPO / "bench" / "peer_pool_project"


def project_for(base: Path, impl: str, bin_dir: Path, lab: Lab) -> PulumiProject:
    files = (PROJECT / "Pulumi.yaml", PROJECT / "__main__.py", REPO / "dynamic_providers")
    return PulumiProject.create(
        base / impl,
        "peer",
        {"config": {"peer-pool:impl": impl}},
        bin_dir,
        lab_environment(lab.info.state_dir),
        files=files,
    )


Row = tuple[str, str, float, int, int, list[Phase], dict[tuple[str, str], int]]


def step(lab: Lab, name: str, run: Any) -> tuple[float, int, int, list[Phase], dict[tuple[str, str], int]]:
    lab.control("POST", "/lab/requests/reset")
    start, begin = time.monotonic(), time.time()
    run()
    wall = time.monotonic() - start
    counts = lab.request_counts()
    reads = sum(n for (m, _), n in counts.items() if m == "GET")
    requests = [Request(r["time"], r["method"], r["path"]) for r in lab.request_times()]
    return wall, reads, sum(counts.values()) - reads, phases(name, begin, begin + wall, requests), counts


def print_rows(rows: list[Row]) -> None:
    bpg = {name: (wall, parts) for impl, name, wall, _, _, parts, _ in rows if impl == "bpg"}
    print(f"{'impl':<6}{'step':<9}{'wall s':>8}{'GETs':>7}{'writes':>8}")
    for impl, name, wall, reads, writes, parts, counts in rows:
        print(f"{impl:<6}{name:<9}{wall:8.2f}{reads:7d}{writes:8d}")
        for part in parts:
            print(f"{'':<8}{part.name + ' phase':<24}{part.seconds:6.2f} s{part.reads:5d} GETs{part.writes:3d} writes")
        print(f"{'':<8}requests: " + ", ".join(f"{n} {m} {p}" for (m, p), n in sorted(counts.items())))
        if impl != "ours" or name not in bpg:
            continue
        peer_wall, peer_parts = bpg[name]
        extras = sum(p.seconds for p in parts if p.name not in (name, STARTUP))
        same = wall - extras
        print(
            f"{'':<8}same work as bpg: {same:.2f} s = {same / peer_wall:.2f}x bpg's {peer_wall:.2f} s "
            f"(target <= 1.1): {'OK' if same <= 1.1 * peer_wall else 'MISSED'}"
        )
        ours_after, peer_after = same - seconds_of(parts, STARTUP), peer_wall - seconds_of(peer_parts, STARTUP)
        print(f"{'':<8}after startup: {ours_after:.2f} s against bpg's {peer_after:.2f} s")


def seconds_of(parts: list[Phase], name: str) -> float:
    return sum(p.seconds for p in parts if p.name == name)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    lab = start_lab(base / "lab")
    try:
        bring_up(lab)
        bin_dir = engine_bin()
        rows = []
        projects = {impl: project_for(base, impl, bin_dir, lab) for impl in ("bpg", "ours")}
        # Two rounds, the sides alternating, so the machine's load falls on both alike; the first warms
        # caches (plugins, Python imports) and only the second is printed.
        for impl in ("bpg", "ours", "bpg", "ours"):
            project = projects[impl]
            for name, run in (
                ("create", project.up),
                ("refresh", lambda p=project: p.run("refresh", "--yes")),
                ("delete", lambda p=project: p.run("destroy", "--yes")),
            ):
                rows.append((impl, name, *step(lab, name, run)))
        print_rows(rows[len(rows) // 2 :])
    finally:
        stop_lab(base / "lab")


if __name__ == "__main__":
    main()
