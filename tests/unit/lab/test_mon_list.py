"""lab/models/mon_list.py: PVE's listmon merge (pve-manager PVE/API2/Ceph/MON.pm, PVE/Ceph/Services.pm)."""

from __future__ import annotations

from lab.models.mon_list import MonService, mon_list

SERVICES = [MonService("pve1", "pve1", enabled=True), MonService("pve2", "pve2", enabled=True)]
CONF = {
    "global": {"mon_host": "10.0.0.11 10.0.0.12"},
    "mon.pve1": {"public_addr": "10.0.0.11"},
    "mon.pve2": {"public_addr": "10.0.0.12"},
}
METADATA = [{"name": "pve1", "hostname": "pve1", "ceph_version": "ceph version 19.2.3 (abc) squid (stable)"}]
QUORUM = {"quorum": [0], "monmap": {"mons": [{"name": "pve1", "rank": 0, "addr": "10.0.0.11:6789/0"}]}}


def test_a_started_mon_not_yet_joined_is_listed_stopped_without_quorum() -> None:
    """createmon's task ends before the join: the MON is listed from its service and ceph.conf section."""
    listed = {m["name"]: m for m in mon_list(SERVICES, CONF, METADATA, QUORUM)}
    assert listed["pve1"] == {
        "name": "pve1",
        "host": "pve1",
        "direxists": 1,
        "service": 1,
        "state": "running",
        "quorum": 1,
        "rank": 0,
        "addr": "10.0.0.11:6789/0",  # the monmap's, over ceph.conf's
        "ceph_version": "ceph version 19.2.3 (abc) squid (stable)",
        "ceph_version_short": "19.2.3",
    }
    assert listed["pve2"] == {
        "name": "pve2",
        "host": "pve2",
        "direxists": 1,
        "service": 1,
        "state": "stopped",
        "addr": "10.0.0.12",
    }


def test_without_rados_every_mon_is_unknown() -> None:
    listed = mon_list(SERVICES, CONF, None, None)
    assert [(m["name"], m["state"], m.get("quorum")) for m in listed] == [
        ("pve1", "unknown", None),
        ("pve2", "unknown", None),
    ]


def test_a_section_without_a_service_keeps_its_host_and_address() -> None:
    conf = {"mon.pve3": {"public_addr": "10.0.0.13", "host": "pve3"}}
    assert mon_list([], conf, [], {"quorum": [], "monmap": {"mons": []}}) == [
        {"name": "pve3", "addr": "10.0.0.13", "state": "unknown", "host": "pve3"}
    ]
