"""A stack config generated from a cluster's shape: its nodes, their unused disks, its PVE release.

Pure: `ClusterShape` is read elsewhere (from the PVE API, `read_shape`), `stack_config` turns it
into the `config:` of a Pulumi.<stack>.yaml, every key as Pulumi.dev.yaml spells it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

PROJECT = "proxmox-hci"


def key(name: str) -> str:
    return f"{PROJECT}:{name}"


class ShapeError(ValueError):
    """A cluster this generator cannot describe; the message says why and what to do."""


@dataclass(frozen=True)
class NodeShape:
    name: str
    disks: tuple[str, ...]  # unused whole disks, by devpath: each becomes an OSD


@dataclass(frozen=True)
class ClusterShape:
    nodes: tuple[NodeShape, ...]
    pve_version: int
    public_network: str

    @property
    def osd_hosts(self) -> int:
        return sum(1 for n in self.nodes if n.disks)


def stack_config(shape: ClusterShape, vms: int = 1) -> dict[str, Any]:
    """Ceph on every node (one OSD per unused disk), 3 MONs, 2 MGRs, one RBD pool with its storage,
    and `vms` small HA VMs on it. A lab stack: protection off so the lab can be torn down whole;
    allowDataLoss stays off, so removals still drain and refuse as on a cluster."""
    names = [n.name for n in shape.nodes]
    if len(names) < 3:
        raise ShapeError(f"the cluster has {len(names)} node(s); three MONs need at least 3 nodes (--nodes 3)")
    hosts = shape.osd_hosts
    if hosts == 0:
        raise ShapeError("no node has an unused disk for an OSD; give the lab disks (--disks 512G)")
    size = min(3, hosts)
    config: dict[str, Any] = {
        key("pveVersion"): shape.pve_version,
        key("cephVersion"): "squid",
        key("publicNetwork"): shape.public_network,
        key("monitors"): names[:3],
        key("managers"): names[:2],
        key("protect"): False,
        key("nodes"): [
            {"name": n.name, "osds": [{"device": d} for d in n.disks]} if n.disks else {"name": n.name}
            for n in shape.nodes
        ],
        key("pools"): [
            {
                "name": "vm-pool",
                "size": size,
                "minSize": min(2, size),
                "storage": {"name": "ceph-vm", "content": ["images"]},
            }
        ],
    }
    if size < 3:
        config[key("defaultPoolSize")] = size
        config[key("defaultPoolMinSize")] = min(2, size)
    vm_list = []
    for index in range(vms):
        vm: dict[str, Any] = {
            "name": f"app{index + 1}",
            "vmId": 101 + index,
            "node": names[index % len(names)],
            "memory": 512,
            "disks": [{"interface": "scsi0", "storage": "ceph-vm", "size": 4}],
            "ha": {"state": "started", "maxRestart": 1, "maxRelocate": 1},
        }
        if shape.pve_version == 8:
            vm["ha"]["group"] = "lab-nodes"
        vm_list.append(vm)
    if vm_list:
        config[key("vms")] = vm_list
        spread = {name: 1 for name in names}
        if shape.pve_version == 8:
            config[key("ha")] = {"groups": [{"name": "lab-nodes", "nodes": spread}]}
        else:
            config[key("ha")] = {
                "rules": [
                    {"name": "lab-nodes", "type": "node-affinity", "vms": [v["name"] for v in vm_list], "nodes": spread}
                ]
            }
    return config


class Api(Protocol):
    def get(self, path: str, **params: Any) -> Any: ...


def pve_major(version: str) -> int:
    match = re.match(r"(\d+)\.", str(version))
    if not match:
        raise ShapeError(f"GET /version answered release {version!r}, not a PVE release like 9.0.10")
    return int(match[1])


def read_shape(api: Api, public_network: str) -> ClusterShape:
    """Nodes (GET /nodes), their unused disks (GET /nodes/{node}/disks/list: no `used`), the release
    (GET /version). pve-manager PVE/API2/Nodes.pm, PVE/API2/Disks.pm."""
    nodes = []
    for node in sorted(api.get("nodes"), key=lambda n: str(n["node"])):
        disks = api.get(f"nodes/{node['node']}/disks/list")
        unused = tuple(sorted(d["devpath"] for d in disks if not d.get("used") and d.get("devpath")))
        nodes.append(NodeShape(name=str(node["node"]), disks=unused))
    return ClusterShape(
        nodes=tuple(nodes), pve_version=pve_major(api.get("version")["version"]), public_network=public_network
    )
