"""Which stacks a change touches, and the lab stack config generated from a cluster's shape (which
the program itself must accept: it goes through hci_config.load_config here)."""

from __future__ import annotations

from typing import Any

import pytest

from hci_config.loader import load_config
from hci_tools.changed_stacks import affected_stacks, stack_of
from hci_tools.stack_shape import ClusterShape, NodeShape, ShapeError, pve_major, read_shape, stack_config

STACKS = ["dev", "lab-a", "prod"]


def test_a_stack_file_change_touches_that_stack_only() -> None:
    assert affected_stacks(["Pulumi.lab-a.yaml", "README.md"], STACKS) == ["lab-a"]
    assert affected_stacks(["docs/teams.md", "tests/e2e/x.py"], STACKS) == []
    assert stack_of("Pulumi.yaml") is None and stack_of("Pulumi.prod.yaml") == "prod"


@pytest.mark.parametrize(
    "path",
    [
        "Pulumi.yaml",
        "__main__.py",
        "components/vm.py",
        "dynamic_providers/ceph_osd.py",
        "hci_config/model.py",
        "requirements.lock",
        "policy/hci_policy/rules.py",
    ],
)
def test_a_program_change_touches_every_stack(path: str) -> None:
    assert affected_stacks([path], STACKS) == STACKS


def test_a_deleted_stack_is_not_previewed() -> None:
    assert affected_stacks(["Pulumi.old.yaml"], STACKS) == []


def shape(pve: int = 9, disks: dict[str, tuple[str, ...]] | None = None) -> ClusterShape:
    disks = disks if disks is not None else {"pve1": ("/dev/sdb",), "pve2": ("/dev/sdb",), "pve3": ("/dev/sdb",)}
    return ClusterShape(
        nodes=tuple(NodeShape(n, d) for n, d in disks.items()), pve_version=pve, public_network="127.88.1.0/24"
    )


def load(config: dict[str, Any]) -> Any:
    return load_config({k.split(":", 1)[1]: v for k, v in config.items()})


def test_generated_pve9_config_is_accepted_by_the_program() -> None:
    cfg = load(stack_config(shape()))
    assert [n.name for n in cfg.nodes] == ["pve1", "pve2", "pve3"]
    assert [o.device for n in cfg.nodes for o in n.osds] == ["/dev/sdb"] * 3
    assert (cfg.monitors, cfg.managers) == (["pve1", "pve2", "pve3"], ["pve1", "pve2"])
    assert (cfg.pools[0].size, cfg.pools[0].min_size, cfg.protect) == (3, 2, False)
    assert [r.name for r in cfg.ha.rules] == ["lab-nodes"] and cfg.vms[0].ha is not None


def test_generated_pve8_config_with_uneven_disks_is_accepted() -> None:
    four = {"pve1": ("/dev/sdb", "/dev/sdc"), "pve2": ("/dev/sdb",), "pve3": (), "pve4": ("/dev/sdb",)}
    cfg = load(stack_config(shape(8, four), vms=2))
    assert cfg.pve_version == 8 and [g.name for g in cfg.ha.groups] == ["lab-nodes"]
    assert [len(n.osds) for n in cfg.nodes] == [2, 1, 0, 1]
    assert [v.node for v in cfg.vms] == ["pve1", "pve2"]


def test_two_osd_hosts_get_size_two_pools() -> None:
    cfg = load(stack_config(shape(9, {"pve1": ("/dev/sdb",), "pve2": ("/dev/sdb",), "pve3": ()}), vms=0))
    assert (cfg.pools[0].size, cfg.pools[0].min_size, cfg.default_pool_size) == (2, 2, 2) and cfg.vms == []


def test_shapes_the_program_cannot_run_are_refused_with_the_fix() -> None:
    with pytest.raises(ShapeError, match="at least 3 nodes"):
        stack_config(shape(9, {"pve1": ("/dev/sdb",), "pve2": ("/dev/sdb",)}))
    with pytest.raises(ShapeError, match="--disks"):
        stack_config(shape(9, {"pve1": (), "pve2": (), "pve3": ()}))
    with pytest.raises(ShapeError, match="not a PVE release"):
        pve_major("banana")


def test_shape_is_read_from_the_pve_api() -> None:
    class Api:
        def get(self, path: str, **_: Any) -> Any:
            return {
                "nodes": [{"node": "pve2"}, {"node": "pve1"}],
                "version": {"version": "8.4.1", "release": "8.4"},
                "nodes/pve1/disks/list": [
                    {"devpath": "/dev/sda", "used": "LVM"},
                    {"devpath": "/dev/sdc"},
                    {"devpath": "/dev/sdb"},
                ],
                "nodes/pve2/disks/list": [{"devpath": "/dev/sda", "used": "LVM"}],
            }[path]

    got = read_shape(Api(), "127.1.2.0/24")
    assert got == ClusterShape(
        nodes=(NodeShape("pve1", ("/dev/sdb", "/dev/sdc")), NodeShape("pve2", ())),
        pve_version=8,
        public_network="127.1.2.0/24",
    )
