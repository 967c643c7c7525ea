"""The committed stack files load; defaults, warnings and Pulumi.yaml's declarations agree with the model."""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic.fields import FieldInfo

from hci_config.errors import ConfigError
from hci_config.loader import load_config
from hci_config.model import HciConfig
from hci_config.pulumi_source import raw_stack_config
from tests.unit.program.program_stacks import ENV, LAB_NETWORK, ROOT, dev_raw, pve8_raw


def test_dev_stack_is_the_seed_cluster() -> None:
    cfg = load_config(dev_raw(), env=ENV)
    assert cfg.pve_version == 9
    assert cfg.public_network == LAB_NETWORK
    assert cfg.cluster_network is None
    assert cfg.node_names == ["pve1", "pve2", "pve3"]
    assert [[o.device for o in n.osds] for n in cfg.nodes] == [["/dev/sdb"]] * 3
    assert cfg.monitors == ["pve1", "pve2", "pve3"]
    assert cfg.managers == ["pve1", "pve2"]
    pool = cfg.pools[0]
    assert (pool.name, pool.size, pool.min_size, pool.storage and pool.storage.name) == ("vm-pool", 3, 2, "ceph-vm")
    on_ceph = [vm.name for vm in cfg.vms if all(d.storage == "ceph-vm" for d in vm.disks)]
    assert on_ceph == ["app1", "app2"]
    moved = [(vm.name, d.storage, d.move_to) for vm in cfg.vms for d in vm.disks if d.move_to]
    assert moved == [("legacy1", "local-lvm", "ceph-vm")]
    assert [(r.name, r.type, sorted(r.nodes or {})) for r in cfg.ha.rules] == [
        ("hci-nodes", "node-affinity", ["pve1", "pve2", "pve3"])
    ]
    for vm in cfg.vms:
        if vm.ha:
            assert (vm.ha.state, vm.ha.max_restart, vm.ha.max_relocate) == ("started", 2, 2)
            assert vm.ha.comment
    assert cfg.protect is True
    assert cfg.warnings == []


def test_pve8_twin_uses_a_group() -> None:
    cfg = load_config(pve8_raw(), env=ENV)
    assert cfg.pve_version == 8
    assert [g.name for g in cfg.ha.groups] == ["hci-nodes"]
    assert [vm.ha.group for vm in cfg.vms if vm.ha] == ["hci-nodes", "hci-nodes"]


def test_literal_cidr_needs_no_environment() -> None:
    raw = dev_raw() | {"publicNetwork": "10.10.10.0/24", "clusterNetwork": "env:CLUSTER_NET"}
    cfg = load_config(raw, env={"CLUSTER_NET": "10.20.0.0/16"})
    assert (cfg.public_network, cfg.cluster_network) == ("10.10.10.0/24", "10.20.0.0/16")


def test_separate_networks_with_each_nodes_address_in_each() -> None:
    raw = copy.deepcopy(dev_raw()) | {"publicNetwork": "10.10.10.0/24", "clusterNetwork": "10.10.20.0/24"}
    for index, node in enumerate(raw["nodes"], 11):
        node.update(address=f"10.10.10.{index}", clusterAddress=f"10.10.20.{index}")
    cfg = load_config(raw, env={})
    assert [(n.address, n.cluster_address) for n in cfg.nodes] == [
        ("10.10.10.11", "10.10.20.11"),
        ("10.10.10.12", "10.10.20.12"),
        ("10.10.10.13", "10.10.20.13"),
    ]


def test_an_even_monitor_count_is_refused_before_anything_runs() -> None:
    """Adding a node as a fourth MON: the config check says to keep the count odd."""
    raw = copy.deepcopy(dev_raw())
    raw["nodes"].append({"name": "pve4", "osds": [{"device": "/dev/sdb"}]})
    raw["monitors"] = ["pve1", "pve2", "pve3", "pve4"]
    with pytest.raises(ConfigError) as info:
        load_config(raw, env=ENV)
    (problem,) = [p for p in info.value.problems if p.path == "monitors"]
    assert "4 MONs tolerate no more failures than 3" in problem.message and "list 3 or 5 nodes" in problem.message
    raw["nodes"].append({"name": "pve5", "osds": [{"device": "/dev/sdb"}]})
    raw["monitors"].append("pve5")
    assert load_config(raw, env=ENV).monitors == ["pve1", "pve2", "pve3", "pve4", "pve5"]


def test_ha_on_a_vm_whose_disk_is_moved_to_ceph_is_allowed() -> None:
    raw = copy.deepcopy(dev_raw())
    raw["vms"][2]["ha"] = {"state": "started"}
    cfg = load_config(raw, env=ENV)
    assert cfg.vms[2].ha is not None


def test_yaml_on_for_autoscale_mode_is_read_as_on() -> None:
    raw = copy.deepcopy(dev_raw())
    raw["pools"][0]["autoscaleMode"] = True  # what a YAML 1.1 reader makes of a bare `on`
    assert load_config(raw, env=ENV).pools[0].autoscale_mode == "on"


def test_api_nodes_default_to_monitors_first() -> None:
    raw = dev_raw() | {"monitors": ["pve3", "pve2", "pve1"]}
    assert load_config(raw, env=ENV).effective_api_nodes == ["pve3", "pve2", "pve1"]


# --- Pulumi.yaml declares every key Pulumi can type, with the model's defaults ---------------------

PULUMI_TYPES = {str: "string", int: "integer", bool: "boolean"}


def _pulumi_type(field: FieldInfo) -> str | None:
    """The Pulumi config type for a model field, or None if Pulumi cannot type it (objects)."""
    annotation: Any = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return PULUMI_TYPES[type(typing.get_args(annotation)[0])]
    if typing.get_origin(annotation) is list:
        item = typing.get_args(annotation)[0]
        item = typing.get_args(item)[0] if typing.get_origin(item) is typing.Annotated else item
        return "array" if item in PULUMI_TYPES else None
    return PULUMI_TYPES.get(annotation)


def _declared() -> dict[str, Any]:
    declared: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    return declared


def test_pulumi_yaml_declares_exactly_the_typable_keys() -> None:
    typable = {f.alias: _pulumi_type(f) for f in HciConfig.model_fields.values() if _pulumi_type(f)}
    declared = _declared()
    assert {key: spec["type"] for key, spec in declared.items()} == typable
    for key, spec in declared.items():
        assert spec.get("description"), f"{key} has no description"


@pytest.mark.parametrize("key", sorted(_declared()))
def test_pulumi_yaml_default_matches_the_model(key: str) -> None:
    spec = _declared()[key]
    field = next(f for f in HciConfig.model_fields.values() if f.alias == key)
    if "default" not in spec:
        assert field.is_required(), f"{key}: Pulumi.yaml makes it required, the model has a default"
        return
    model_default = field.get_default(call_default_factory=True)
    if key in ("clusterNetwork", "pveRelease"):
        assert (spec["default"], model_default) == ("", None)  # Pulumi has no null default
    else:
        assert spec["default"] == model_default


def test_project_is_python_in_the_venv() -> None:
    project = yaml.safe_load(Path(ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "proxmox-hci"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv", "dynamicProviderHost": "dynamic_providers.host"},
    }


def test_raw_stack_config_reads_this_projects_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    bag = {
        "proxmox-hci:pveVersion": "8",
        "proxmox-hci:publicNetwork": "10.0.0.0/24",
        "proxmox-hci:nodes": json.dumps([{"name": "pve1"}]),
        "proxmoxve:endpoint": "https://pve:8006",
    }
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(bag))
    assert raw_stack_config("proxmox-hci") == {
        "pveVersion": 8,
        "publicNetwork": "10.0.0.0/24",
        "nodes": [{"name": "pve1"}],
    }
