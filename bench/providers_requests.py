"""Requests per create and per read for each dynamic provider, and the task-wait overhead.

    .venv/bin/python -m bench.providers_requests [--state-dir DIR]

Without --state-dir a fresh lab (no Ceph yet, two disks per node) is started and stopped again.
Request counts come from the lab (GET /lab/requests, reset before each call). The wait overhead
is the time from a task's end (the lab's task log) to the provider noticing it (the client's
task log record); the target is a median under 0.3 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi.dynamic import Config, ConfigureRequest

from dynamic_providers.ceph_init import CephInitProvider
from dynamic_providers.ceph_install import CephInstallProvider
from dynamic_providers.ceph_mgr import CephManagerProvider
from dynamic_providers.ceph_mon import CephMonitorProvider
from dynamic_providers.ceph_osd import CephOsdProvider
from dynamic_providers.ceph_pool import CephPoolProvider
from dynamic_providers.disk_move import DiskMoveProvider
from dynamic_providers.health_gate import CephHealthGateProvider
from dynamic_providers.rbd_storage import RbdStorageProvider
from lab.cli import control
from lab.statefile import LabInfo


class Noticed(logging.Handler):
    """Collects (upid, wall-clock time) as the client notices each task's end."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        upid = getattr(record, "upid", None)
        if upid:
            self.seen.setdefault(upid, float(getattr(record, "noticed_at", record.created)))


class Bench:
    def __init__(self, info: LabInfo) -> None:
        self.info = info
        self.rows: list[tuple[str, str, int, float, str]] = []

    def provider(self, cls: Any) -> Any:
        provider = cls()
        provider.configure(
            ConfigureRequest(
                Config(
                    {
                        "proxmoxve:endpoint": self.info.endpoint,
                        "proxmoxve:apiToken": self.info.api_token,
                        "proxmoxve:username": "root@pam",
                        "proxmoxve:password": self.info.root_password,
                    },
                    "proxmox-hci",
                )
            )
        )
        return provider

    def counted(self, label: str, op: str, call: Callable[[], Any]) -> Any:
        control(self.info, "POST", "/lab/requests/reset")
        start = time.monotonic()
        result = call()
        seconds = time.monotonic() - start
        counts = control(self.info, "GET", "/lab/requests")
        top = sorted(counts["counts"], key=lambda c: -c["count"])[:3]
        detail = ", ".join(f"{c['count']}x {c['method']} {c['path']}" for c in top)
        self.rows.append((label, op, counts["total"], seconds, detail))
        return result

    def resource(self, label: str, cls: Any, **news: Any) -> Any:
        provider = self.provider(cls)
        checked = provider.check({}, news)
        if checked.failures:
            raise SystemExit(f"{label}: {[(f.property, f.reason) for f in checked.failures]}")
        created = self.counted(label, "create", lambda: provider.create(checked.inputs))
        self.counted(label, "read", lambda: provider.read(created.id, created.outs))
        return created


def run(info: LabInfo) -> None:
    os.environ["REQUESTS_CA_BUNDLE"] = info.ca_cert
    noticed = Noticed()
    tasks_log = logging.getLogger("dynamic_providers.pve.tasks")
    tasks_log.addHandler(noticed)
    tasks_log.setLevel(logging.DEBUG)
    bench = Bench(info)
    nodes = list(info.nodes)

    for node in nodes:
        bench.resource(f"CephInstall {node}", CephInstallProvider, node=node, adopt=True)
    bench.resource("CephInit", CephInitProvider, api_nodes=nodes, network=info.public_network, adopt=True)
    for node in nodes:
        bench.resource(f"CephMonitor {node}", CephMonitorProvider, node=node)
    bench.resource(f"CephManager {nodes[0]}", CephManagerProvider, node=nodes[0])
    for node in nodes:
        bench.resource(f"CephOsd {node}", CephOsdProvider, node=node, device="/dev/sdb")
    bench.resource("CephPool", CephPoolProvider, api_nodes=nodes, pool_name="bench")
    bench.resource("RbdStorage", RbdStorageProvider, storage="bench-rbd", pool="bench")
    bench.resource("CephHealthGate", CephHealthGateProvider, api_nodes=nodes, require="no_degraded_pgs")
    client = bench.provider(DiskMoveProvider).client()
    client.wait_task(
        client.call("POST", f"/nodes/{nodes[0]}/qemu", vmid=900, name="bench", scsi0="local-lvm:1"),
        60,
        "creating the bench VM",
    )
    bench.resource("DiskMove", DiskMoveProvider, vm_id=900, disk="scsi0", storage="bench-rbd")

    print(f"{'resource':<22} {'op':<7} {'requests':>8} {'seconds':>8}  most frequent")
    for label, op, total, seconds, detail in bench.rows:
        print(f"{label:<22} {op:<7} {total:>8} {seconds:>8.2f}  {detail}")

    ends = {t["upid"]: t["end"] for t in control(info, "GET", "/lab/tasks") if t.get("end")}
    overheads = sorted(noticed.seen[upid] - ends[upid] for upid in noticed.seen if upid in ends)
    if overheads:
        p90 = overheads[min(len(overheads) - 1, int(len(overheads) * 0.9))]
        verdict = "meets" if statistics.median(overheads) < 0.3 else "MISSES"
        print(
            f"\ntask wait overhead over {len(overheads)} tasks: median {statistics.median(overheads):.3f} s, "
            f"p90 {p90:.3f} s, max {overheads[-1]:.3f} s ({verdict} the 0.3 s median target)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, help="a running lab (default: start a fresh one)")
    args = parser.parse_args()
    if args.state_dir:
        run(LabInfo.load(args.state_dir))
        return
    state_dir = Path(tempfile.mkdtemp(prefix="bench-providers-"))
    lab = [sys.executable, "-m", "lab"]
    subprocess.run(
        [*lab, "up", "--state-dir", str(state_dir), "--ceph-installed", "--disks", "512G+512G"],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )
    try:
        run(LabInfo.load(state_dir))
    finally:
        subprocess.run(
            [*lab, "down", "--state-dir", str(state_dir)], check=False, timeout=180, stdout=subprocess.DEVNULL
        )


if __name__ == "__main__":
    main()
