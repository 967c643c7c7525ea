"""Peer comparison, same lab, same run: a pool created, refreshed and deleted by pulumi-proxmoxve's
ceph.Pool (bpg's experimental proxmox_ceph_pool) versus our CephPool, through the real engine.

Prints PVE requests (counted by the lab, split into reads and writes) and wall time per step.
Usage: .venv/bin/python -m bench.peer_pool
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.lab_bringup import bring_up
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


def step(lab: Lab, run: Any) -> tuple[float, int, int]:
    lab.control("POST", "/lab/requests/reset")
    start = time.monotonic()
    run()
    wall = time.monotonic() - start
    counts = lab.request_counts()
    reads = sum(n for (m, _), n in counts.items() if m == "GET")
    return wall, reads, sum(counts.values()) - reads


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    lab = start_lab(base / "lab")
    try:
        bring_up(lab)
        bin_dir = engine_bin()
        rows = []
        for impl in ("bpg", "ours"):
            project = project_for(base, impl, bin_dir, lab)
            for name, run in (
                ("create", project.up),
                ("refresh", lambda p=project: p.run("refresh", "--yes")),
                ("delete", lambda p=project: p.run("destroy", "--yes")),
            ):
                wall, reads, writes = step(lab, run)
                rows.append((impl, name, wall, reads, writes))
        print(f"{'impl':<6}{'step':<9}{'wall s':>8}{'GETs':>7}{'writes':>8}")
        for impl, name, wall, reads, writes in rows:
            print(f"{impl:<6}{name:<9}{wall:8.1f}{reads:7d}{writes:8d}")
        print(
            "(our create also waits for the PGs to be active+clean, and our delete checks the pool holds no data "
            "and no storage points at it; bpg's does neither)"
        )
    finally:
        stop_lab(base / "lab")


if __name__ == "__main__":
    main()
