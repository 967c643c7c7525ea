"""A lab node's two addresses, and the address an OSD binds from ceph.conf, as Ceph picks it."""

from __future__ import annotations

import ipaddress

import pytest

from lab.ceph_backend.addresses import NoAddressInNetwork, OsdAddresses, osd_addresses, pick
from lab.models.network import node_interfaces
from lab.spec import build_spec


def test_every_node_has_one_address_in_each_half_of_the_labs_subnet() -> None:
    spec = build_spec("127.123.45.0/24", nodes=16)
    public, cluster = ipaddress.ip_network(spec.public_network), ipaddress.ip_network(spec.cluster_network)
    assert (str(public), str(cluster)) == ("127.123.45.0/25", "127.123.45.128/25")
    assert not public.overlaps(cluster)
    assert ipaddress.ip_address(spec.api_host) in public
    for index, node in enumerate(spec.nodes, 1):
        assert node.addresses == (f"127.123.45.{10 + index}", f"127.123.45.{138 + index}")
        assert ipaddress.ip_address(node.ip) in public and ipaddress.ip_address(node.cluster_ip) in cluster
    every = [ip for node in spec.nodes for ip in node.addresses] + [spec.api_host]
    assert len(set(every)) == len(every)


CONF = {"global": {"public_network": "10.1.0.0/24", "cluster_network": "10.2.0.0/24"}}
NODE = ("10.1.0.11", "10.2.0.11")


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (CONF, OsdAddresses("10.1.0.11", "10.2.0.11")),
        # PVE writes cluster_network = public_network when no cluster network is given.
        ({"global": {"public_network": "10.1.0.0/24", "cluster_network": "10.1.0.0/24"}}, OsdAddresses(*NODE[:1] * 2)),
        # No cluster network: "Using public network also for cluster network".
        ({"global": {"public_network": "10.1.0.0/24"}}, OsdAddresses("10.1.0.11", "10.1.0.11")),
        # A list: the first network that has an address of the node wins.
        (
            {"global": {"public_network": "10.1.0.0/24", "cluster_network": "10.9.0.0/24, 10.2.0.0/16"}},
            OsdAddresses(*NODE),
        ),
        # The daemon's own section comes before [osd], which comes before [global].
        ({**CONF, "osd": {"cluster_network": "10.1.0.0/24"}}, OsdAddresses("10.1.0.11", "10.1.0.11")),
        ({**CONF, "osd.3": {"cluster_addr": "10.2.0.99"}}, OsdAddresses("10.1.0.11", "10.2.0.99")),
        ({}, OsdAddresses("10.1.0.11", "10.1.0.11")),
    ],
)
def test_osd_addresses_follow_cephs_pick_addresses(sections: dict[str, dict[str, str]], expected: OsdAddresses) -> None:
    assert osd_addresses(sections, "3", NODE) == expected


def test_a_cluster_network_the_node_has_no_address_in_keeps_the_osd_down_in_cephs_words() -> None:
    with pytest.raises(NoAddressInNetwork) as caught:
        osd_addresses({"global": {"public_network": "10.1.0.0/24", "cluster_network": "10.3.0.0/24"}}, "3", NODE)
    assert str(caught.value) == "unable to find any IPv4 address in networks '10.3.0.0/24' interfaces ''"


def test_pick_tries_networks_in_order() -> None:
    assert pick("10.2.0.0/24 10.1.0.0/24", NODE) == "10.2.0.11"
    assert pick("10.7.0.0/24", NODE) is None


def test_the_network_listing_shows_both_addresses_as_pve_lists_them() -> None:
    spec = build_spec("127.123.45.0/24")
    rows = {row["iface"]: row for row in node_interfaces(spec, spec.node("pve2"))}
    assert list(rows) == ["eno1", "vmbr0", "eno2"]
    assert rows["vmbr0"]["cidr"] == "127.123.45.12/25" and rows["vmbr0"]["bridge_ports"] == "eno1"
    assert (rows["eno2"]["cidr"], rows["eno2"]["netmask"]) == ("127.123.45.140/25", "25")
    assert [row["priority"] for row in rows.values()] == [2, 3, 4]
    assert all(row["active"] == 1 for row in rows.values())
