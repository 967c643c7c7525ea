"""The addresses an OSD binds on its node, as Ceph picks them from ceph.conf. Pure.

On a PVE node no daemon is given an address on its command line: at start-up Ceph's
pick_addresses (ceph src/common/pick_address.cc) takes `public_addr`/`cluster_addr` if ceph.conf
sets them, else the first address of the node's interfaces inside `public_network` and
`cluster_network` (each a list, tried in order); with no cluster network it uses the public one
("Public network was set, but cluster network was not set / Using public network also for
cluster network"). When a network is set and the node has no address in it, the daemon exits:
"unable to find any IPv4 address in networks '...' interfaces ''" (ceph_osd.cc: "Failed to pick
cluster address."). This is what makes ceph.conf's networks take effect only when an OSD
(re)starts, and a cluster network the node has no address in keep the OSD down.

The lab's daemons all run on this machine's loopback, so they cannot look at "their" interfaces;
the lab makes the same choice here, over the node's addresses (lab/spec.py `Node.addresses`), and
passes it on the command line.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .conf import Sections
from .errors import CephBackendError


@dataclass(frozen=True)
class OsdAddresses:
    public: str
    cluster: str


class NoAddressInNetwork(CephBackendError):
    """Ceph's own words when a daemon finds no address of its node in a configured network."""


def option(sections: Sections, entity: str, key: str) -> str:
    """A config option for one daemon: `[osd.3]`, then `[osd]`, then `[global]` (Ceph's precedence)."""
    kind = entity.split(".", 1)[0]
    for name in (entity, kind, "global"):
        value = sections.get(name, {}).get(key, "").strip()
        if value:
            return value
    return ""


def pick(networks: str, addresses: Sequence[str]) -> str | None:
    """find_ip_in_subnet_list: for each network of the list in order, the first address inside it."""
    for network in (n for n in re.split(r"[,;\s]+", networks) if n):
        try:
            net = ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise NoAddressInNetwork(f"unable to parse network: {network}") from None
        for address in addresses:
            if ipaddress.ip_address(address) in net:
                return address
    return None


def _fill_in(networks: str, addresses: Sequence[str]) -> str:
    found = pick(networks, addresses)
    if found is None:
        raise NoAddressInNetwork(f"unable to find any IPv4 address in networks '{networks}' interfaces ''")
    return found


def osd_addresses(sections: Sections, osd_id: str, node_addresses: Sequence[str]) -> OsdAddresses:
    """Where osd.<id> binds on a node with these addresses (public first), given ceph.conf's sections."""
    entity = f"osd.{osd_id}"
    public_network = option(sections, entity, "public_network")
    cluster_network = option(sections, entity, "cluster_network")
    public = option(sections, entity, "public_addr")
    if not public:
        # No public network at all: Ceph binds any address and learns its own from the MONs; on a
        # lab node that is its public address.
        public = _fill_in(public_network, node_addresses) if public_network else node_addresses[0]
    cluster = option(sections, entity, "cluster_addr")
    if not cluster:
        if cluster_network:
            cluster = _fill_in(cluster_network, node_addresses)
        elif public_network:
            cluster = _fill_in(public_network, node_addresses)
        else:
            cluster = public
    return OsdAddresses(public=public, cluster=cluster)
