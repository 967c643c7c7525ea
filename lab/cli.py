"""python -m lab up|down|status|env|fail-node|recover-node|add-node|fail-disk|replace-disk --state-dir DIR.

`up` returns once the API answers; every process the lab starts is recorded by PID in the state
directory, so `down` stops exactly those, even after a crash.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from lab import serve
from lab.client import LabError, control
from lab.processes import ProcessTracker, is_ours
from lab.pve_formats import format_size
from lab.spec import API_PORT, SpecError, build_spec
from lab.statefile import (
    LAB_JSON,
    SECRETS_JSON,
    SETTINGS_JSON,
    LabInfo,
    LabSecrets,
    LabSettings,
    read_settings,
    write_json,
)
from lab.tls import make_certificates

START_TIMEOUT = 60.0


# -- helpers ------------------------------------------------------------------------------------


def _free_subnet() -> str:
    """A 127.X.Y.0/24 whose API address has nothing listening on port 8006 or Ceph's 3300."""
    rng = random.SystemRandom()
    for _ in range(200):
        base = f"127.{rng.randint(100, 250)}.{rng.randint(0, 255)}"
        if all(_port_free(f"{base}.{host}", port) for host, port in ((1, API_PORT), (11, 3300))):
            return f"{base}.0/24"
    raise LabError("no free 127.X.Y.0/24 found for the lab")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_for_api(endpoint: str, ca_cert: Path, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            raise LabError("the lab's server exited during start-up:\n" + "\n".join(tail))
        try:
            requests.get(endpoint + "/api2/json/version", timeout=2, verify=str(ca_cert))
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise LabError(f"the lab's API did not answer at {endpoint} within {START_TIMEOUT:.0f} s; see {log_path}")


# -- commands -----------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    tracker = ProcessTracker(state_dir)
    running = tracker.find("api")
    if running and is_ours(running):
        raise LabError(f"a lab is already running in {state_dir} (pid {running.pid}); `python -m lab down` first")
    if any(state_dir.iterdir()) and not args.reuse:
        # Stale state from an earlier lab (disk images, Ceph data) would be picked up as if live.
        for leftover in ("ceph", LAB_JSON, SETTINGS_JSON, SECRETS_JSON, "tls", "pids.json"):
            _remove(state_dir / leftover)
    subnet = _free_subnet()
    try:
        spec = build_spec(subnet, args.nodes, args.disks, args.pve_version, args.pve_release)
    except SpecError as exc:
        raise LabError(str(exc)) from exc
    settings = LabSettings(
        subnet=subnet,
        nodes=args.nodes,
        disks=args.disks,
        pve_version=args.pve_version,
        ceph_installed=args.ceph_installed,
        ha_fence_delay=args.ha_fence_delay,
        pve_release=spec.release.text,
        tfa=args.tfa,
        mon_osd_down_out_interval=args.mon_osd_down_out_interval,
    )
    lab_secrets = LabSecrets(root_password=secrets.token_urlsafe(18), token_secret=secrets.token_hex(18))
    write_json(state_dir / SETTINGS_JSON, settings)
    write_json(state_dir / SECRETS_JSON, lab_secrets, private=True)
    certs = make_certificates(state_dir / "tls", [spec.api_host, "localhost"])
    log_path = state_dir / "log" / "api.log"
    proc = tracker.spawn("api", [sys.executable, "-m", "lab", "serve", "--state-dir", str(state_dir)], log_path)
    try:
        _wait_for_api(spec.endpoint, certs.ca_cert, proc, log_path)
    except LabError:
        tracker.stop_all(timeout=5)
        raise
    info = LabInfo(
        endpoint=spec.endpoint,
        ca_cert=str(certs.ca_cert),
        root_password=lab_secrets.root_password,
        api_token=lab_secrets.api_token,
        nodes=spec.node_names,
        public_network=spec.public_network,
        ceph_conf=str(state_dir / "ceph" / "ceph.conf"),
        pid=proc.pid,
        pve_version=spec.pve_version,
        state_dir=str(state_dir),
        cluster_network=spec.cluster_network,
        pve_release=spec.release.text,
    )
    write_json(state_dir / LAB_JSON, info, private=True)
    print(
        f"lab up: {spec.endpoint} (PVE {spec.release.text}, nodes {', '.join(spec.node_names)}, "
        f"Ceph public network {spec.public_network}, cluster network {spec.cluster_network})"
    )
    print(f'  point clients at it: eval "$(python -m lab env --state-dir {shlex.quote(str(state_dir))})"')
    return 0


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    tracker = ProcessTracker(state_dir)
    api = tracker.find("api")
    # The server stops its own daemons on SIGTERM; whatever is left (a crashed server) goes by PID.
    if api:
        tracker.stop(api, timeout=60)
    stopped = tracker.stop_all(timeout=15)
    (state_dir / LAB_JSON).unlink(missing_ok=True)
    print(f"lab down: {state_dir}" + (f" ({len(stopped)} leftover processes stopped)" if stopped else ""))
    if args.purge:
        _remove(state_dir)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    info = LabInfo.load(Path(args.state_dir).resolve())
    user, _, _ = info.api_token.partition("!")
    values = {
        "PROXMOX_VE_ENDPOINT": info.endpoint,
        "PROXMOX_VE_API_TOKEN": info.api_token,
        "PROXMOX_VE_USERNAME": user,
        "PROXMOX_VE_PASSWORD": info.root_password,
        "PROXMOX_VE_INSECURE": "false",
        # The CA: Go (the bpg provider) reads SSL_CERT_FILE, Python requests (proxmoxer) REQUESTS_CA_BUNDLE.
        "SSL_CERT_FILE": info.ca_cert,
        "REQUESTS_CA_BUNDLE": info.ca_cert,
        "PROXMOX_HCI_LAB_DIR": info.state_dir,
        "PROXMOX_HCI_PUBLIC_NETWORK": info.public_network,
        # The nodes' second address range: a stack sets clusterNetwork to it to replicate over it.
        "PROXMOX_HCI_CLUSTER_NETWORK": info.cluster_network,
        "CEPH_CONF": info.ceph_conf,
    }
    for key, value in values.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    info = LabInfo.load(Path(args.state_dir).resolve())
    status = control(info, "GET", "/lab/status")
    print(
        json.dumps(
            {"endpoint": info.endpoint, "pve_version": info.pve_version, "pve_release": info.pve_release, **status},
            indent=2,
        )
    )
    return 0


def cmd_fail_node(args: argparse.Namespace) -> int:
    info = LabInfo.load(Path(args.state_dir).resolve())
    control(info, "POST", f"/lab/nodes/{args.node}/fail")
    print(f"node {args.node} failed: its Ceph daemons are killed and the API answers 595 for it")
    return 0


def cmd_recover_node(args: argparse.Namespace) -> int:
    info = LabInfo.load(Path(args.state_dir).resolve())
    control(info, "POST", f"/lab/nodes/{args.node}/recover")
    print(f"node {args.node} recovered")
    return 0


def cmd_add_node(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    info = LabInfo.load(state_dir)
    node = control(info, "POST", "/lab/nodes", {"name": args.name, "disks": args.disks})
    # Persisted after the server made the change, so a restarted server rebuilds the same cluster.
    settings = read_settings(state_dir)
    added = (*settings.added_nodes, (args.name, args.disks or ""))
    write_json(state_dir / SETTINGS_JSON, dataclasses.replace(settings, added_nodes=added))
    write_json(state_dir / LAB_JSON, dataclasses.replace(info, nodes=[*info.nodes, args.name]), private=True)
    disks = ", ".join(f"{d['devpath']} {format_size(d['size'])} {d['type']}" for d in node["disks"]) or "no disks"
    print(f"node {node['name']} joined the cluster at {node['ip']} ({disks}); no Ceph packages yet")
    return 0


def cmd_fail_disk(args: argparse.Namespace) -> int:
    info = LabInfo.load(Path(args.state_dir).resolve())
    failed = control(info, "POST", f"/lab/nodes/{args.node}/disks/{_disk_name(args.device)}/fail")
    osd = f"osd.{failed['osd_id']} on it died" if failed["osd_id"] is not None else "no OSD was on it"
    print(f"disk {failed['devpath']} on {args.node} failed: {osd}; reads from it error")
    return 0


def cmd_replace_disk(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    info = LabInfo.load(state_dir)
    disk = control(info, "POST", f"/lab/nodes/{args.node}/disks/{_disk_name(args.device)}/replace", {"size": args.size})
    settings = read_settings(state_dir)
    replaced = (*settings.replaced_disks, (args.node, disk["devpath"], args.size or ""))
    write_json(state_dir / SETTINGS_JSON, dataclasses.replace(settings, replaced_disks=replaced))
    print(f"a new blank {format_size(disk['size'])} {disk['type']} disk is in slot {disk['devpath']} of {args.node}")
    return 0


def _disk_name(device: str) -> str:
    return device.removeprefix("/dev/")


def cmd_serve(args: argparse.Namespace) -> int:
    return serve.main(Path(args.state_dir).resolve())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--state-dir", required=True, help="directory for the lab's state, logs and disks")
        sp.set_defaults(func=func)
        return sp

    up = command("up", cmd_up, "start a lab in the background")
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (pve1..pveN), default 3")
    up.add_argument(
        "--disks",
        help="disks per node: '512G,512G,1T' (one entry per node), '1T' (all nodes), "
        "'pve1=512G+512G,pve2=1T'; a size may end in :hdd or :nvme",
    )
    up.add_argument(
        "--pve-version", type=int, choices=(8, 9), help="PVE major: its newest release the lab knows (default 9)"
    )
    up.add_argument(
        "--pve-release",
        help="the PVE release to emulate, X.Y.Z (8.3.0 - 8.4.21, 9.0.0 - 9.2.11; docs/pve-compat.md)",
    )
    up.add_argument(
        "--tfa", action="store_true", help="root@pam has TOTP: a password login gets a partial ticket (NeedTFA)"
    )
    up.add_argument("--ceph-installed", action="store_true", help="start with Ceph's packages on every node")
    up.add_argument("--ha-fence-delay", type=float, default=3.0, help="seconds before HA recovers a failed node's VMs")
    up.add_argument(
        "--mon-osd-down-out-interval",
        type=float,
        default=600.0,
        help="seconds before Ceph marks a down OSD out and recovers its data elsewhere (Ceph's default 600)",
    )
    up.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)
    down = command("down", cmd_down, "stop every process the lab started")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    command("env", cmd_env, "print shell export lines pointing clients at the lab")
    command("status", cmd_status, "print nodes and daemons")
    fail = command("fail-node", cmd_fail_node, "kill a node's Ceph daemons and take it offline")
    fail.add_argument("node")
    recover = command("recover-node", cmd_recover_node, "bring a failed node back")
    recover.add_argument("node")
    add = command("add-node", cmd_add_node, "a new node joins the running cluster (no Ceph packages yet)")
    add.add_argument("name")
    add.add_argument("--disks", help="its disks, as one --disks entry of `up`: '512G+1T:hdd' (default one 512G SSD)")
    fail_disk = command("fail-disk", cmd_fail_disk, "a disk fails: its OSD dies and reads from it error")
    fail_disk.add_argument("node")
    fail_disk.add_argument("device", help="/dev/sdX or sdX")
    replace = command("replace-disk", cmd_replace_disk, "a new blank disk goes into a disk's slot")
    replace.add_argument("node")
    replace.add_argument("device", help="/dev/sdX or sdX")
    replace.add_argument("size", nargs="?", help="its size (e.g. 1T); default the old disk's")
    command("serve", cmd_serve, argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LabError, FileNotFoundError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
