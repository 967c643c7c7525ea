"""Generate a stack config of N nodes x D disks x V VMs for the preview-cost benchmark.

    python -m bench.gen_stack                         # 12 nodes, 4 disks each, 100 VMs: print the YAML
    python -m bench.gen_stack --name bench            # write Pulumi.bench.yaml next to Pulumi.yaml
    python -m bench.gen_stack -n 3 -d 1 -v 10 --pve-version 8

Every VM sits on the Ceph storage and is HA-managed (one HA rule, or group on PVE 8, over all
nodes), so the graph has every kind of resource the program declares. The result passes
hci_config.load_config; the script checks that before printing or writing.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path
from typing import Any

import yaml

from hci_config.loader import load_config

ROOT = Path(__file__).resolve().parent.parent

PROJECT = "proxmox-hci"
MAX_DISKS = 24  # /dev/sdb../dev/sdy, as the lab names them


def devices(count: int) -> list[str]:
    return ["/dev/sd" + string.ascii_lowercase[i + 1] for i in range(count)]


def generate(
    nodes: int = 12,
    disks: int = 4,
    vms: int = 100,
    pve_version: int = 9,
    public_network: str = "env:PROXMOX_HCI_PUBLIC_NETWORK",
) -> dict[str, Any]:
    """The stack config as `pulumi config` keys (`proxmox-hci:...`) -> values."""
    if nodes < 3:
        raise ValueError("--nodes: at least 3 (three MONs and a size-3 pool)")
    if not 1 <= disks <= MAX_DISKS:
        raise ValueError(f"--disks: 1..{MAX_DISKS}")
    if vms < 0:
        raise ValueError("--vms: 0 or more")
    names = [f"pve{i}" for i in range(1, nodes + 1)]
    monitors = names[: 5 if nodes >= 5 else 3]
    vm_list: list[dict[str, Any]] = [
        {
            "name": f"vm{i:04d}",
            "vmId": 1000 + i,
            "node": names[i % nodes],
            "memory": 512,
            "disks": [{"interface": "scsi0", "storage": "ceph-vm", "size": 4}],
            "ha": {"state": "started", "maxRestart": 1, "maxRelocate": 1, "comment": f"bench vm{i:04d}"},
        }
        for i in range(vms)
    ]
    everywhere = dict.fromkeys(names, 1)
    ha: dict[str, Any] = {}
    if vms and pve_version == 9:
        ha = {"rules": [{"name": "bench", "vms": [vm["name"] for vm in vm_list], "nodes": everywhere}]}
    elif vms:
        ha = {"groups": [{"name": "bench", "nodes": everywhere}]}
        for vm in vm_list:
            vm["ha"]["group"] = "bench"
    config: dict[str, Any] = {
        "pveVersion": pve_version,
        "publicNetwork": public_network,
        "monitors": monitors,
        "managers": names[:2],
        "nodes": [{"name": name, "osds": [{"device": dev} for dev in devices(disks)]} for name in names],
        "pools": [{"name": "vm-pool", "size": 3, "minSize": 2, "storage": {"name": "ceph-vm"}}],
        "vms": vm_list,
        "ha": ha,
    }
    return {f"{PROJECT}:{key}": value for key, value in config.items()}


def check(config: dict[str, Any]) -> None:
    """Fail here, not in `pulumi preview`, if the generator and the schema drift apart."""
    raw = {key.split(":", 1)[1]: value for key, value in config.items()}
    load_config(raw, env={"PROXMOX_HCI_PUBLIC_NETWORK": "10.10.10.0/24"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--nodes", type=int, default=12)
    parser.add_argument("-d", "--disks", type=int, default=4, help="OSD disks per node")
    parser.add_argument("-v", "--vms", type=int, default=100)
    parser.add_argument("--pve-version", type=int, choices=(8, 9), default=9)
    parser.add_argument("--public-network", default="env:PROXMOX_HCI_PUBLIC_NETWORK")
    parser.add_argument("--name", help="write Pulumi.<name>.yaml next to Pulumi.yaml instead of printing")
    args = parser.parse_args(argv)
    try:
        config = generate(args.nodes, args.disks, args.vms, args.pve_version, args.public_network)
    except ValueError as exc:
        parser.error(str(exc))
    check(config)
    text = yaml.safe_dump({"config": config}, sort_keys=False, default_flow_style=None, width=120)
    if args.name:
        path = ROOT / f"Pulumi.{args.name}.yaml"
        path.write_text(text)
        print(f"wrote {path} ({args.nodes} nodes x {args.disks} disks, {args.vms} VMs)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
