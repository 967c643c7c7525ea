"""What PVE's disk allocation costs on a pool while OSDs join, against the same pool once they have.

PVE makes a VM disk on RBD with `rbd create` under the storage's cluster lock (pve-storage
src/PVE/Storage.pm vdisk_alloc -> cluster_lock_storage, 10 s to get it; RBDPlugin.pm alloc_image). The
forced chain of bench/chain.py lets VM creates start as soon as a pool has OSDs on `size` hosts, even
while more OSDs join. Whether Ceph allows that cheaply is what this measures, both sides in one run:

- a lab with Ceph on every node, 3 MONs, 1 MGR, the first OSD of 3 nodes and a size-3 pool with PVE's
  defaults, active+clean;
- "settled": `rbd create` + `rbd rm` of a 1 MiB image, one after another, on that pool;
- "joining": the same while every other disk becomes an OSD (one create at a time per node, the nodes
  in parallel, as the program runs them);
- beside each, `rbd --version`: the CLI's start without the cluster, to tell the machine's load from
  Ceph's own waits (an `rbd create` blocks while a PG it writes to peers).

Usage: .venv/bin/python -m bench.rbd_during_joins [--lab-args "--nodes 6 --disks 512G+512G+512G+512G"]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.lab_bringup import create_mons, install_ceph, wait_task
from lab.pytest_plugin import Lab, start_lab, stop_lab

POOL = "bench"
SETTLED_SAMPLES = 20
LOCK_WAIT = 10.0  # pve-cluster src/PVE/Cluster.pm cfs_lock_storage


@dataclass
class Samples:
    create: list[float] = field(default_factory=list)  # rbd create + rbd rm, seconds
    cli: list[float] = field(default_factory=list)  # rbd --version, seconds


def timed(run: Callable[[], object]) -> float:
    start = time.monotonic()
    run()
    return time.monotonic() - start


def sample(lab: Lab, into: Samples) -> None:
    image = f"{POOL}/probe-{len(into.create)}"

    def create_and_remove() -> None:
        lab.rbd("create", "--size", "1M", image)
        lab.rbd("rm", "--no-progress", image)

    into.create.append(timed(create_and_remove))
    into.cli.append(timed(lambda: subprocess.run(["rbd", "--version"], capture_output=True, check=True)))


def figures(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered):5.2f} s, p90 {p90:5.2f} s, max {ordered[-1]:5.2f} s"


def first_setup(lab: Lab) -> None:
    token, root = lab.api(), lab.root_api()
    install_ceph(lab)
    token.nodes("pve1").ceph.init.post(network=lab.public_network)
    create_mons(token, lab.nodes[:3])
    for upid in [root.nodes(n).ceph.osd.post(dev="/dev/sdb") for n in lab.nodes[:3]]:
        wait_task(root, upid)
    wait_task(token, token.nodes("pve1").ceph.pool.post(name=POOL, size=3, min_size=2))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = {s["state_name"] for s in token.cluster.ceph.status.get()["pgmap"].get("pgs_by_state", [])}
        if states == {"active+clean"}:
            return
        time.sleep(0.5)
    raise SystemExit("the pool's PGs were not active+clean within 300 s")


def join_osds(lab: Lab, disks: dict[str, list[str]]) -> None:
    root = lab.root_api()

    def node_osds(node: str) -> None:
        for disk in disks[node]:
            wait_task(root, root.nodes(node).ceph.osd.post(dev=disk))

    with ThreadPoolExecutor(len(disks)) as pool:
        list(pool.map(node_osds, disks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab-args", default="--nodes 6 --disks 512G+512G+512G+512G")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-rbd-joins-"))
    lab = start_lab(base / "lab", *shlex.split(args.lab_args))
    try:
        first_setup(lab)
        settled, joining = Samples(), Samples()
        for _ in range(SETTLED_SAMPLES):
            sample(lab, settled)
        token = lab.api()
        disks = {
            node: [d["devpath"] for d in token.nodes(node).disks.list.get() if d.get("used") is None]
            for node in lab.nodes
        }
        disks = {node: devs for node, devs in disks.items() if devs}
        joined = sum(len(devs) for devs in disks.values())
        worker = threading.Thread(target=join_osds, args=(lab, disks))
        began = time.monotonic()
        worker.start()
        while worker.is_alive():
            sample(lab, joining)
        worker.join()
        took = time.monotonic() - began
        print(f"rbd create + rm of a 1 MiB image on a size-3 pool ({len(lab.nodes)} nodes):")
        print(f"  settled ({len(settled.create)} in a row):      {figures(settled.create)}")
        print(f"  while {joined} OSDs joined over {took:.0f} s ({len(joining.create)}): {figures(joining.create)}")
        print(f"  rbd --version beside them: settled {figures(settled.cli)}; joining {figures(joining.cli)}")
        slow = [s for s in joining.create if s > LOCK_WAIT / 4]
        print(
            f"  while joining, {len(slow)} of {len(joining.create)} took over {LOCK_WAIT / 4:g} s: four such creates "
            f"queued on one storage lock make the fifth give up ({LOCK_WAIT:g} s, cfs_lock_storage)"
        )
    finally:
        stop_lab(base / "lab")


if __name__ == "__main__":
    main()
