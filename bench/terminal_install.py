"""CephInstall through the node's terminal, per PVE release: seconds and requests per node.

    .venv/bin/python -m bench.terminal_install [--release 8.3.0=reef ...] [--nodes 3]

For each release a fresh lab (Ceph not installed) is started; on every node CephInstallProvider's
check (the release rule: GET /nodes/{node}/version, ceph/releases from 9.2.7) and create (termproxy,
the websocket dialogue with apt, the reload, the ceph/status probe) are run as the engine runs them,
then its read. Requests are counted by the lab (GET /lab/requests, reset before each call); the
websocket is one request however many frames it carries. Seconds are the lab's: its `pveceph
install` prints a realistic transcript at a fixed pace (lab/terminal), so they measure what the
terminal path adds, not a real mirror's apt download.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

from bench.providers_requests import Bench
from dynamic_providers.ceph_install import CephInstallProvider
from lab.statefile import LabInfo

DEFAULT_RELEASES = ("8.3.0=reef", "8.4.21=squid", "9.2.11=squid")


def run(info: LabInfo, release: str, ceph: str) -> list[tuple[str, str, int, float, str]]:
    os.environ["REQUESTS_CA_BUNDLE"] = info.ca_cert
    bench = Bench(info)
    provider = bench.provider(CephInstallProvider)
    for node in info.nodes:
        label = f"{release} {node}"
        checked = bench.counted(label, "check", partial(provider.check, {}, {"node": node, "version": ceph}))
        if checked.failures:
            raise SystemExit(f"{label}: {[(f.property, f.reason) for f in checked.failures]}")
        created = bench.counted(label, "create", partial(provider.create, checked.inputs))
        bench.counted(label, "read", partial(provider.read, created.id, created.outs))
    return bench.rows


def one_lab(release: str, ceph: str, nodes: int) -> list[tuple[str, str, int, float, str]]:
    state_dir = Path(tempfile.mkdtemp(prefix=f"bench-terminal-{release}-"))
    lab = [sys.executable, "-m", "lab"]
    subprocess.run(
        [*lab, "up", "--state-dir", str(state_dir), "--pve-release", release, "--nodes", str(nodes)],
        check=True,
        timeout=180,
        stdout=subprocess.DEVNULL,
    )
    try:
        return run(LabInfo.load(state_dir), release, ceph)
    finally:
        subprocess.run(
            [*lab, "down", "--state-dir", str(state_dir)], check=False, timeout=180, stdout=subprocess.DEVNULL
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="append", help="PVE=CEPH, e.g. 8.3.0=reef (default: 8.3.0, 8.4.21, 9.2.11)")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, str, int, float, str]] = []
    for pair in args.release or DEFAULT_RELEASES:
        release, _, ceph = pair.partition("=")
        rows += one_lab(release, ceph or "squid", args.nodes)
    print(f"{'release node':<16} {'op':<7} {'requests':>8} {'seconds':>8}  most frequent")
    for label, op, total, seconds, detail in rows:
        print(f"{label:<16} {op:<7} {total:>8} {seconds:>8.2f}  {detail}")
    creates = [(total, seconds) for _, op, total, seconds, _ in rows if op == "create"]
    if creates:
        print(
            f"\ninstall through the terminal over {len(creates)} nodes: "
            f"{sum(s for _, s in creates) / len(creates):.1f} s per node (min {min(s for _, s in creates):.1f}, "
            f"max {max(s for _, s in creates):.1f}); requests per install {min(t for t, _ in creates)}-"
            f"{max(t for t, _ in creates)}"
        )


if __name__ == "__main__":
    main()
