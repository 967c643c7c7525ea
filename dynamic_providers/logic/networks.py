"""Rules about Ceph's two networks and the addresses in them, once for the stack config and CephInit. Pure.

Each rule returns None when fine, else the reason, worded to read after either side's key name
(`clusterNetwork: ...` in the stack config, `CephInit.cluster_network: ...` in a provider's check);
a rule over two values takes the other key's name in the caller's spelling. They follow
dynamic_providers/logic/rules.py's style (branch `resume`) and move there once it is on main.

Ceph's side: the public network carries clients and MONs, the cluster network OSD replication,
recovery and back heartbeats (ceph doc/rados/configuration/network-config-ref.rst). A daemon binds
the first address of its node inside each network (ceph src/common/pick_address.cc), so a network
that partly covers the other makes which address an OSD takes a matter of interface order.
"""

from __future__ import annotations

import ipaddress
import re

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def as_network(value: str) -> Network:
    return ipaddress.ip_network(value, strict=False)


def same_network(public: str, cluster: str | None) -> bool:
    """No separate cluster network: none given, or the public one again (PVE writes it so)."""
    return cluster is None or as_network(cluster) == as_network(public)


def cluster_network_overlap(public: str, cluster: str, public_key: str) -> str | None:
    """The cluster network is another IP version, or overlaps the public one without being it."""
    pub, clu = as_network(public), as_network(cluster)
    if pub.version != clu.version:
        return f"{cluster} is IPv{clu.version} but {public_key} {public} is IPv{pub.version}; use the same version"
    if pub != clu and pub.overlaps(clu):
        return (
            f"{cluster} overlaps {public_key} {public}; the networks must be separate (or the same, which "
            "means no separate cluster network)"
        )
    return None


def address_outside(address: str, network: str, network_key: str) -> str | None:
    """A declared node address is not inside the network it is declared for."""
    if ipaddress.ip_address(address) not in as_network(network):
        return f"{address} is outside {network_key} {network}"
    return None


def ip_of(addr: str | None) -> str | None:
    """The IP of a Ceph address as PVE shows it from `osd metadata` (back_addr, front_addr, ...).

    Forms: an address vector `[v2:10.0.0.1:6802/1234,v1:10.0.0.1:6803/1234]`, one address
    `10.0.0.1:6803/1234`, IPv6 `[v2:[fd00::1]:6802/12,...]`; None for an empty one.
    """
    if not addr:
        return None
    first = addr.strip().removeprefix("[").removesuffix("]").split(",")[0]
    first = re.sub(r"^v\d+:", "", first).split("/")[0]
    if first.startswith("["):  # [ipv6]:port
        first = first[1 : first.index("]")]
    elif first.count(":") == 1:  # ipv4:port
        first = first.split(":")[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return None


def interface_ips(rows: list[dict[str, object]]) -> list[str]:
    """The addresses of a node's active interfaces, from GET /nodes/{node}/network (pve-manager
    PVE/API2/Network.pm over pve-common PVE/Network/Interfaces.pm: `cidr`/`address`, `cidr6`/`address6`)."""
    out = []
    for row in rows:
        if not row.get("active"):
            continue
        for key in ("cidr", "address", "cidr6", "address6"):
            value = str(row.get(key) or "").split("/")[0]
            if value and value not in out:
                try:
                    ipaddress.ip_address(value)
                except ValueError:
                    continue
                out.append(value)
    return out


def in_network(ip: str | None, network: str) -> bool:
    return ip is not None and ipaddress.ip_address(ip) in as_network(network)
