"""lab/spec.py's day-2 changes: a node joining, a disk swapped (pure)."""

from __future__ import annotations

import pytest

from lab.spec import MAX_NODES, SpecError, build_spec, find_disk, with_disk_replaced, with_node

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


def test_at_most_max_nodes_by_add_node_and_by_up() -> None:
    with pytest.raises(SpecError, match=f"{MAX_NODES} nodes already"):
        with_node(build_spec(SUBNET, MAX_NODES), f"pve{MAX_NODES + 1}")
    with pytest.raises(SpecError, match=f"--nodes: {MAX_NODES + 1} is outside 1..{MAX_NODES}"):
        build_spec(SUBNET, MAX_NODES + 1)
    assert len(build_spec(SUBNET, 24).nodes) == 24  # bench.noop_preview's largest stack


def test_a_replaced_disk_keeps_slot_and_type_and_may_grow() -> None:
    spec = build_spec(SUBNET, 3, "pve1=512G:hdd+512G,pve2=1T,pve3=1T")
    new = with_disk_replaced(spec, "pve1", "sdb", "2T")
    assert find_disk(new, "pve1", "/dev/sdb").size == 2 * 1024**4
    assert find_disk(new, "pve1", "/dev/sdb").type == "hdd"
    assert find_disk(new, "pve1", "sdc") == find_disk(spec, "pve1", "sdc")
    assert find_disk(with_disk_replaced(spec, "pve1", "/dev/sdb"), "pve1", "sdb").size == 512 * 1024**3


def test_a_replaced_disk_is_another_disk_in_the_same_slot() -> None:
    spec = build_spec(SUBNET, 3, "pve1=512G+512G:nvme+512G:virtio,pve2=1T,pve3=1T")
    for device in ("/dev/sdb", "/dev/nvme0n1", "/dev/vda"):
        old = find_disk(spec, "pve1", device)
        once = with_disk_replaced(spec, "pve1", device)
        new = find_disk(once, "pve1", device)
        twice = find_disk(with_disk_replaced(once, "pve1", device), "pve1", device)
        assert len({old.serial, new.serial, twice.serial}) == 3, device  # each new disk has its own serial
        by_id = [link for link in new.links if "/by-id/" in link]
        assert by_id and not set(by_id) & set(old.links), device  # its by-id links are new
        assert [p for p in new.links if "/by-path/" in p] == [p for p in old.links if "/by-path/" in p]
        assert new.wwn == old.wwn == "unknown" if device == "/dev/vda" else new.wwn != old.wwn
        assert find_disk(once, "pve1", "/dev/sdb" if device != "/dev/sdb" else "/dev/vda") == find_disk(
            spec, "pve1", "/dev/sdb" if device != "/dev/sdb" else "/dev/vda"
        )


def test_replacing_an_unknown_disk_names_the_disks_there_are() -> None:
    with pytest.raises(SpecError, match=r"node pve2 has no disk /dev/sdz \(its disks: /dev/sdb\)"):
        with_disk_replaced(build_spec(SUBNET, 3), "pve2", "/dev/sdz")
