"""lab/spec.py's day-2 changes: a node joining, a disk swapped (pure)."""

from __future__ import annotations

import pytest

from lab.spec import SpecError, build_spec, find_disk, with_disk_replaced, with_node

SUBNET = "127.50.1.0/24"


def test_a_new_node_takes_the_next_address_and_its_own_disks() -> None:
    spec = with_node(build_spec(SUBNET, 3), "pve4", "512G+1T:hdd")
    node = spec.node("pve4")
    assert (node.ip, node.cluster_ip) == ("127.50.1.14", "127.50.1.142")
    assert [(d.devpath, d.size, d.type) for d in node.disks] == [
        ("/dev/sdb", 512 * 1024**3, "ssd"),
        ("/dev/sdc", 1024**4, "hdd"),
    ]
    assert spec.node_names == ["pve1", "pve2", "pve3", "pve4"]
    assert with_node(spec, "edge-5").node("edge-5").ip == "127.50.1.15"  # default: one 512G SSD
    assert len(with_node(spec, "edge-5").node("edge-5").disks) == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("pve1", "node 'pve1' is already in the lab"),
        ("-bad", "not a valid node name"),
        ("a_b", "not a valid node name"),
    ],
)
def test_a_node_that_cannot_join_is_named(name: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        with_node(build_spec(SUBNET, 3), name)


def test_at_most_sixteen_nodes() -> None:
    with pytest.raises(SpecError, match="16 nodes already"):
        with_node(build_spec(SUBNET, 16), "pve17")


def test_a_replaced_disk_keeps_slot_and_type_and_may_grow() -> None:
    spec = build_spec(SUBNET, 3, "pve1=512G:hdd+512G,pve2=1T,pve3=1T")
    new = with_disk_replaced(spec, "pve1", "sdb", "2T")
    assert find_disk(new, "pve1", "/dev/sdb").size == 2 * 1024**4
    assert find_disk(new, "pve1", "/dev/sdb").type == "hdd"
    assert find_disk(new, "pve1", "sdc") == find_disk(spec, "pve1", "sdc")
    assert with_disk_replaced(spec, "pve1", "/dev/sdb").node("pve1") == spec.node("pve1")  # same size: same disk


def test_replacing_an_unknown_disk_names_the_disks_there_are() -> None:
    with pytest.raises(SpecError, match=r"node pve2 has no disk /dev/sdz \(its disks: /dev/sdb\)"):
        with_disk_replaced(build_spec(SUBNET, 3), "pve2", "/dev/sdz")
