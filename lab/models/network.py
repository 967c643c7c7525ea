"""Each lab node's /etc/network/interfaces, as PVE lists it. Pure.

A node has two NICs, as the seed recommends for Ceph: `eno1` under the bridge `vmbr0`, which holds
the node's address on the public network (the PVE cluster, the VMs, Ceph's MONs and clients), and
`eno2` with its address on the cluster network (Ceph's replication). The rows have the shape of
GET /nodes/{node}/network (pve-manager PVE/API2/Network.pm index, over pve-common
src/PVE/Network/Interfaces.pm __read_etc_network_interfaces: `cidr` and `netmask` from a CIDR
address, `priority` in file order from 2, `families` inet, `active`/`exists` for what is up).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from lab.spec import LabSpec, Node

PUBLIC_BRIDGE = "vmbr0"
PUBLIC_NIC = "eno1"
CLUSTER_NIC = "eno2"


def _addressed(ip: str, network: str) -> dict[str, Any]:
    prefix = ipaddress.ip_network(network).prefixlen
    return {"method": "static", "address": ip, "netmask": str(prefix), "cidr": f"{ip}/{prefix}"}


def node_interfaces(spec: LabSpec, node: Node) -> list[dict[str, Any]]:
    """The node's interfaces in file order (lo is never listed)."""
    common = {"families": ["inet"], "method6": "manual", "active": 1, "autostart": 1}
    rows: list[dict[str, Any]] = [
        {"iface": PUBLIC_NIC, "type": "eth", "exists": 1, **common, "method": "manual"},
        {
            "iface": PUBLIC_BRIDGE,
            "type": "bridge",
            **common,
            **_addressed(node.ip, spec.public_network),
            "gateway": spec.api_host,
            "bridge_ports": PUBLIC_NIC,
            "bridge_stp": "off",
            "bridge_fd": "0",
        },
    ]
    if node.cluster_ip:
        rows.append(
            {
                "iface": CLUSTER_NIC,
                "type": "eth",
                "exists": 1,
                **common,
                **_addressed(node.cluster_ip, spec.cluster_network),
            }
        )
    return [{**row, "priority": priority} for priority, row in enumerate(rows, 2)]


def interface_types(type_filter: str | None) -> set[str] | None:
    """The `type` parameter: one interface type, or any_bridge / any_local_bridge (bridges); None: all."""
    if not type_filter:
        return None
    if type_filter in ("any_bridge", "any_local_bridge"):
        return {"bridge", "OVSBridge"}
    return {type_filter}
