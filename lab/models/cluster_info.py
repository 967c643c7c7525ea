"""What the cluster tells about its members: corosync's node list, the join information and each node's
certificate fingerprint (pve-cluster src/PVE/API2/ClusterConfig.pm nodes and join_info, src/PVE/Cluster.pm
get_node_fingerprint and get_members; pve-manager PVE/API2/Nodes.pm index). Pure functions of the lab's spec.

Every lab node is reached through the one API endpoint, so every node's `pve-ssl.pem` is the certificate that
endpoint serves, and its fingerprint is what a client that pins a node's fingerprint sees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from lab.spec import LabSpec


@dataclass(frozen=True)
class Member:
    """One corosync node entry: name, node id (from 1, in node order) and its ring0 address."""

    name: str
    nodeid: int
    address: str


def members(spec: LabSpec) -> list[Member]:
    return [Member(node.name, n, node.ip) for n, node in enumerate(spec.nodes, 1)]


def corosync_conf(cluster_name: str, nodes: list[Member]) -> str:
    """/etc/pve/corosync.conf as pvecm writes it for a cluster on one link (pve-cluster src/PVE/Corosync.pm)."""
    lines = ["logging {", "  debug: off", "  to_syslog: yes", "}", "", "nodelist {"]
    for node in nodes:
        lines += ["  node {", f"    name: {node.name}", f"    nodeid: {node.nodeid}", "    quorum_votes: 1"]
        lines += [f"    ring0_addr: {node.address}", "  }"]
    lines += ["}", "", "quorum {", "  provider: corosync_votequorum", "}", "", "totem {"]
    lines += [f"  cluster_name: {cluster_name}", "  config_version: 1", "  interface {", "    linknumber: 0", "  }"]
    lines += ["  ip_version: ipv4-6", "  link_mode: passive", "  secauth: on", "  version: 2", "}", ""]
    return "\n".join(lines)


def totem(cluster_name: str) -> dict[str, Any]:
    """corosync.conf's totem section as the API returns it (every value a string, as corosync's parser reads it)."""
    return {
        "cluster_name": cluster_name,
        "config_version": "1",
        "interface": {"0": {"linknumber": "0"}},
        "ip_version": "ipv4-6",
        "link_mode": "passive",
        "secauth": "on",
        "version": "2",
    }


def node_entries(nodes: list[Member]) -> list[dict[str, Any]]:
    """GET /cluster/config/nodes: corosync's node list, each with `node` (its name)."""
    return [
        {"name": n.name, "node": n.name, "nodeid": str(n.nodeid), "quorum_votes": "1", "ring0_addr": n.address}
        for n in nodes
    ]


class UnknownNode(ValueError):
    """join_info for a node corosync does not list: PVE's `die "unknown node '$nodename'\\n"`."""


def join_info(cluster_name: str, nodes: list[Member], preferred: str, fingerprint: str) -> dict[str, Any]:
    """GET /cluster/config/join: every node with `pve_addr` (remote_node_ip) and `pve_fp` (its certificate's
    fingerprint), the node asked for (or the one answering), totem and the digest of corosync.conf."""
    if preferred not in {n.name for n in nodes}:
        raise UnknownNode(f"unknown node '{preferred}'")
    nodelist = [
        {
            "name": n.name,
            "nodeid": str(n.nodeid),
            "quorum_votes": "1",
            "ring0_addr": n.address,
            "pve_addr": n.address,
            "pve_fp": fingerprint,
        }
        for n in nodes
    ]
    digest = hashlib.sha1(corosync_conf(cluster_name, nodes).encode()).hexdigest()
    return {"nodelist": nodelist, "preferred_node": preferred, "totem": totem(cluster_name), "config_digest": digest}
