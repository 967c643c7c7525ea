"""Bring a fresh 3-node lab from nothing to HEALTH_OK through its API and print the figures.

Targets (issue 2): HEALTH_OK with 3 MONs in quorum, 2 MGRs, 3 OSDs up/in and one replicated
size-3 pool in under 60 s; all lab processes together under 2 GiB RSS; >= 500 simple GETs/s.
Usage: .venv/bin/python -m bench.lab_bringup [--keep]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from dynamic_providers.ceph_install import plan_for, run_installer
from dynamic_providers.logic.install import InstallInputs
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import Credentials
from hci_tools.pulumi_project import lab_environment
from lab.processes import ProcessTracker, is_ours
from lab.pytest_plugin import Lab, start_lab, stop_lab

GET_COUNT = 1500


def wait_task(api: Any, upid: str) -> None:
    node = upid.split(":")[1]
    delay = 0.05
    while True:
        status = api.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            if status["exitstatus"] != "OK":
                raise SystemExit(f"task {upid} failed: {status['exitstatus']}")
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def create_mons(token: Any, nodes: list[str]) -> None:
    """MONs strictly one after another, each in quorum before the next (PVE's createmon task ends once
    the daemon is started, pve-manager PVE/API2/Ceph/MON.pm; the next create's RADOS connect needs a quorum)."""
    for node in nodes:
        wait_task(token, token.nodes(node).ceph.mon(node).post())
        deadline = time.monotonic() + 60
        while not any(m["name"] == node and m.get("quorum") for m in token.nodes(node).ceph.mon.get()):
            if time.monotonic() > deadline:
                raise SystemExit(f"mon.{node} did not join the quorum within 60 s")
            time.sleep(0.1)


def install_ceph(lab: Lab, release: str = "squid") -> None:
    """`pveceph install` through every node's terminal at once, as CephInstall drives it (PVE's
    installer asks on its TTY, so a bare termproxy task without the websocket dialogue fails)."""
    environ = lab_environment(lab.info.state_dir)
    inputs = [InstallInputs(node=node, version=release) for node in lab.nodes]

    def one(node_inputs: InstallInputs) -> str:
        client = PveClient(Credentials.resolve(None, environ))
        return run_installer(client, node_inputs.node, plan_for(client, node_inputs), was_installed=False)

    with ThreadPoolExecutor(len(inputs)) as pool:
        list(pool.map(one, inputs))


def bring_up(lab: Lab) -> dict[str, float]:
    token, root = lab.api(), lab.root_api()
    marks: dict[str, float] = {}
    t0 = time.monotonic()
    install_ceph(lab)
    marks["install"] = time.monotonic() - t0
    token.nodes("pve1").ceph.init.post(network=lab.public_network)
    create_mons(token, lab.nodes)
    marks["3 mons"] = time.monotonic() - t0
    wait_task(token, token.nodes("pve2").ceph.mgr("pve2").post())
    marks["2 mgrs"] = time.monotonic() - t0
    for upid in [root.nodes(n).ceph.osd.post(dev="/dev/sdb") for n in lab.nodes]:  # parallel across nodes
        wait_task(root, upid)
    marks["3 osds"] = time.monotonic() - t0
    wait_task(token, token.nodes("pve1").ceph.pool.post(name="bench", size=3, min_size=2, pg_num=32))
    marks["pool"] = time.monotonic() - t0
    while True:
        status = token.cluster.ceph.status.get()
        states = {s["state_name"] for s in status["pgmap"].get("pgs_by_state", [])}
        mgrs = 1 + len(status["mgrmap"].get("standbys", [])) if status["mgrmap"].get("available") else 0
        if (
            status["health"]["status"] == "HEALTH_OK"
            and states == {"active+clean"}
            and len(status["quorum_names"]) == 3
            and mgrs == 2
            and status["osdmap"]["num_in_osds"] == 3
        ):
            break
        if time.monotonic() - t0 > 300:
            raise SystemExit(f"no HEALTH_OK after 300 s: {status['health']}")
        time.sleep(0.25)
    marks["HEALTH_OK"] = time.monotonic() - t0
    return marks


def rss_bytes(state_dir: Path) -> dict[str, int]:
    out = {}
    for proc in ProcessTracker(state_dir).load():
        if not is_ours(proc):
            continue
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out[proc.role] = int(line.split()[1]) * 1024
    return out


def gets_per_second(lab: Lab) -> float:
    session = requests.Session()
    session.verify = lab.ca_cert
    session.headers["Authorization"] = f"PVEAPIToken={lab.api_token}"
    url = lab.endpoint + "/api2/json/version"
    session.get(url, verify=lab.ca_cert).raise_for_status()
    start = time.monotonic()
    for _ in range(GET_COUNT):
        session.get(url, verify=lab.ca_cert)
    return GET_COUNT / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    t0 = time.monotonic()
    lab = start_lab(state_dir)
    print(f"lab up (API answering): {time.monotonic() - t0:.1f} s")
    try:
        marks = bring_up(lab)
        for name, secs in marks.items():
            print(f"  {name:<10} at {secs:6.1f} s")
        total = marks["HEALTH_OK"]
        verdict = "OK" if total < 60 else "MISSED"
        print(f"nothing -> HEALTH_OK through the API: {total:.1f} s (target < 60 s): {verdict}")
        time.sleep(5)  # let the daemons settle before measuring memory
        rss = rss_bytes(state_dir)
        for role, size in sorted(rss.items()):
            print(f"  RSS {role:<10} {size / 2**20:7.1f} MiB")
        total_rss = sum(rss.values())
        print(
            f"all lab processes: {total_rss / 2**20:.0f} MiB RSS (target < 2048 MiB): "
            f"{'OK' if total_rss < 2**31 else 'MISSED'}"
        )
        rate = gets_per_second(lab)
        verdict = "OK" if rate >= 500 else "MISSED"
        print(f"GET /version: {rate:.0f} requests/s over {GET_COUNT} (target >= 500): {verdict}")
    finally:
        if not args.keep:
            stop_lab(state_dir)
            print(f"lab down; state in {state_dir}")


if __name__ == "__main__":
    main()
