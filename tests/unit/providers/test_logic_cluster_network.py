"""Ceph's two networks: the rules both sides call, the addresses PVE shows, and a cluster network change's decisions."""

from __future__ import annotations

import pytest

from dynamic_providers.logic.cluster_network import OsdBinding, change_notice, names, off_network, refusal
from dynamic_providers.logic.networks import (
    address_outside,
    cluster_network_overlap,
    interface_ips,
    ip_of,
    same_network,
)

PUBLIC, CLUSTER = "10.10.10.0/24", "10.10.20.0/24"


@pytest.mark.parametrize(
    ("cluster", "reason"),
    [
        (CLUSTER, None),
        (PUBLIC, None),  # the same network: no separate one
        ("10.10.10.128/25", "10.10.10.128/25 overlaps publicNetwork 10.10.10.0/24"),
        ("10.0.0.0/8", "10.0.0.0/8 overlaps publicNetwork 10.10.10.0/24"),
        ("fd00::/64", "fd00::/64 is IPv6 but publicNetwork 10.10.10.0/24 is IPv4"),
    ],
)
def test_cluster_network_overlap(cluster: str, reason: str | None) -> None:
    found = cluster_network_overlap(PUBLIC, cluster, "publicNetwork")
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)


def test_address_outside_and_same_network() -> None:
    assert address_outside("10.10.20.11", CLUSTER, "clusterNetwork") is None
    assert (
        address_outside("10.10.21.11", CLUSTER, "clusterNetwork") == "10.10.21.11 is outside clusterNetwork " + CLUSTER
    )
    assert same_network(PUBLIC, None) and same_network(PUBLIC, "10.10.10.7/24") and not same_network(PUBLIC, CLUSTER)


@pytest.mark.parametrize(
    ("addr", "ip"),
    [
        ("[v2:10.10.20.11:6802/2671,v1:10.10.20.11:6803/2671]", "10.10.20.11"),
        ("10.10.20.11:6803/2671", "10.10.20.11"),
        ("[v2:[fd00::11]:6802/12,v1:[fd00::11]:6803/12]", "fd00::11"),
        ("", None),
        (None, None),
        ("-", None),
    ],
)
def test_ip_of_a_ceph_address(addr: str | None, ip: str | None) -> None:
    assert ip_of(addr) == ip


def test_interface_ips_are_the_active_interfaces_addresses() -> None:
    rows: list[dict[str, object]] = [
        {"iface": "eno1", "type": "eth", "active": 1},
        {"iface": "vmbr0", "cidr": "10.10.10.11/24", "address": "10.10.10.11", "active": 1},
        {"iface": "eno2", "cidr": "10.10.20.11/24", "cidr6": "fd00::11/64", "active": 1},
        {"iface": "eno3", "cidr": "10.10.30.11/24"},  # configured, not up
    ]
    assert interface_ips(rows) == ["10.10.10.11", "10.10.20.11", "fd00::11"]


OSDS = [
    OsdBinding(4, "pve2", True, "10.10.10.12"),
    OsdBinding(0, "pve1", True, "10.10.10.11"),
    OsdBinding(1, "pve1", True, "10.10.20.11"),  # already moved
    OsdBinding(2, "pve3", True, None),  # not readable
    OsdBinding(3, "pve1", True, "10.10.10.11"),
]


def test_off_network_is_host_by_host_then_by_id_and_unknown_only_when_asked() -> None:
    assert names(off_network(OSDS, CLUSTER)) == ("osd.0", "osd.3", "osd.4")
    assert names(off_network(OSDS, CLUSTER, unknown_is_off=True)) == ("osd.0", "osd.3", "osd.4", "osd.2")
    assert off_network([o for o in OSDS if o.cluster_ip], "10.10.0.0/16") == []


def _refusal(**changes: object) -> str | None:
    args: dict[str, object] = {
        "target": CLUSTER,
        "osds": OSDS,
        "to_restart": off_network(OSDS, CLUSTER),
        "host_ips": {"pve1": ["10.10.10.11", "10.10.20.11"], "pve2": ["10.10.10.12", "10.10.20.12"]},
        "health": "HEALTH_OK",
        "noout_not_ours": False,
    }
    return refusal(**{**args, **changes})  # type: ignore[arg-type]


def test_a_healthy_cluster_whose_hosts_have_the_network_may_change() -> None:
    assert _refusal() is None


def test_refusals_name_what_to_do_and_say_nothing_changed() -> None:
    down = _refusal(osds=[*OSDS, OsdBinding(5, "pve3", False, "10.10.10.13")])
    assert down and "osd.5 on pve3 is down" in down and down.endswith("Nothing was changed.")
    missing = _refusal(host_ips={"pve1": ["10.10.10.11"], "pve2": ["10.10.10.12", "10.10.20.12"]})
    assert missing and "node pve1 has no active address in 10.10.20.0/24 (its interfaces have: 10.10.10.11)" in missing
    assert "unable to find any IPv4 address in networks '10.10.20.0/24'" in missing and "pve2" not in missing
    noout = _refusal(noout_not_ours=True)
    assert noout and "noout flag is already set" in noout and "ceph osd unset noout" in noout
    assert "HEALTH_ERR" in (_refusal(health="HEALTH_ERR") or "")
    both = _refusal(health="HEALTH_ERR", noout_not_ours=True) or ""
    assert both.count("; ") >= 1  # every reason at once


def test_change_notice_says_what_the_update_restarts() -> None:
    added = change_notice(None, CLUSTER, PUBLIC)
    assert "cluster_network unset (the public network) -> 10.10.20.0/24" in added
    assert "one node at a time" in added and "ok-to-stop" in added and "noout" in added
    removed = change_notice(CLUSTER, None, PUBLIC)
    assert "-> unset (the public network)" in removed and "outside 10.10.10.0/24" in removed
    stale = change_notice(CLUSTER, CLUSTER, PUBLIC, ["osd.0", "osd.3"])
    assert "osd.0, osd.3 still run with a cluster address outside it" in stale and "changed by hand" in stale
