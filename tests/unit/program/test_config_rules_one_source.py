"""Each config rule lives once (dynamic_providers/logic/rules.py): the stack-config model and the providers'
check refuse the same value with the same reason, the model naming the key path, the provider the input."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from dynamic_providers.logic import disk_move, health, init, mon, osd, pool, rules, storage
from dynamic_providers.logic.spec import Spec, check_inputs
from hci_config import model
from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.bad_stack_configs import set_path
from tests.unit.program.program_stacks import ENV, dev_raw

NODES = ["pve1"]
# (stack-config key path, value, resource spec, the resource's other inputs, the input fed from that key)
CASES: list[tuple[str, Any, Spec[Any, Any], dict[str, Any], str]] = [
    ("nodes[0].name", "pve_1", mon.SPEC, {}, "node"),
    ("nodes[0].address", "10.0.0.300", mon.SPEC, {"node": "pve1"}, "address"),
    ("nodes[0].osds[0].device", "/dev/sd b", osd.SPEC, {"node": "pve1"}, "device"),
    ("nodes[0].osds[0].deviceClass", "fast ssd", osd.SPEC, {"node": "n", "device": "/dev/sdb"}, "crush_device_class"),
    ("publicNetwork", "10.1.1.1/24", init.SPEC, {"api_nodes": NODES}, "network"),
    ("publicNetwork", "10.0.0.0/4", init.SPEC, {"api_nodes": NODES}, "network"),
    ("defaultPoolSize", 1, init.SPEC, {"api_nodes": NODES, "network": "10.0.0.0/24", "min_size": 1}, "size"),
    ("pools[0].name", ".mgr", pool.SPEC, {"api_nodes": NODES}, "pool_name"),
    ("pools[0].size", 1, pool.SPEC, {"api_nodes": NODES, "pool_name": "p", "min_size": 1}, "size"),
    ("pools[0].size", 8, pool.SPEC, {"api_nodes": NODES, "pool_name": "p"}, "size"),
    ("pools[0].pgNum", 0, pool.SPEC, {"api_nodes": NODES, "pool_name": "p", "autoscale_mode": "off"}, "pg_num"),
    ("pools[0].targetSizeRatio", -0.5, pool.SPEC, {"api_nodes": NODES, "pool_name": "p"}, "target_size_ratio"),
    ("pools[0].storage.name", "c", storage.SPEC, {"pool": "p"}, "storage"),
    ("pools[0].storage.content", [], storage.SPEC, {"storage": "ceph-vm", "pool": "p"}, "content"),
    ("vms[0].vmId", 99, disk_move.SPEC, {"disk": "scsi0", "storage": "ceph-vm"}, "vm_id"),
    ("vms[0].disks[0].interface", "scsi99", disk_move.SPEC, {"vm_id": 101, "storage": "ceph-vm"}, "disk"),
    ("vms[0].disks[0].interface", "ide4", disk_move.SPEC, {"vm_id": 101, "storage": "ceph-vm"}, "disk"),
    ("healthTimeout", 0, health.SPEC, {"api_nodes": NODES}, "timeout"),
]


def model_problem(path: str, value: Any) -> str:
    raw = dev_raw()
    set_path(raw, path, value)
    with pytest.raises(ConfigError) as info:
        load_config(raw, env=ENV)
    problems = {p.path: p.message for p in info.value.problems}
    assert path in problems, problems
    return problems[path]


def provider_failure(spec: Spec[Any, Any], others: dict[str, Any], name: str, value: Any) -> str:
    _, failures = check_inputs(spec, {}, {**others, name: value})
    reasons = dict(failures)
    assert name in reasons, failures
    return reasons[name]


@pytest.mark.parametrize(
    ("path", "value", "spec", "others", "name"), CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in CASES]
)
def test_model_and_provider_refuse_with_the_same_reason(
    path: str, value: Any, spec: Spec[Any, Any], others: dict[str, Any], name: str
) -> None:
    in_model = model_problem(path, value)
    assert provider_failure(spec, others, name, value) == f"{spec.resource}.{name}: {in_model}"


def test_min_size_rules_are_the_same_functions_in_each_sides_spelling() -> None:
    assert model_problem("pools[0].minSize", 1) == rules.single_copy_writes(1, False, "allowDataLoss")
    failure = provider_failure(pool.SPEC, {"api_nodes": NODES, "pool_name": "p"}, "min_size", 1)
    assert failure == f"CephPool.min_size: {rules.single_copy_writes(1, False, 'allow_data_loss')}"
    assert model_problem("pools[0].minSize", 4) == rules.min_size_within_size(3, 4, "size")
    failure = provider_failure(pool.SPEC, {"api_nodes": NODES, "pool_name": "p"}, "min_size", 4)
    assert failure == f"CephPool.min_size: {rules.min_size_within_size(3, 4, 'size')}"


def test_pg_num_under_the_autoscaler_is_one_rule() -> None:
    assert model_problem("pools[0].pgNum", 64) == rules.pg_num_under_autoscale("on", 64, "autoscaleMode")
    failure = provider_failure(pool.SPEC, {"api_nodes": NODES, "pool_name": "p"}, "pg_num", 64)
    assert failure == f"CephPool.pg_num {rules.pg_num_under_autoscale('on', 64, 'autoscale_mode')}"


@pytest.mark.parametrize(
    ("literal", "choices"),
    [
        (model.CephRelease, rules.CEPH_RELEASES),
        (model.Repository, rules.REPOSITORIES),
        (model.AutoscaleMode, rules.AUTOSCALE_MODES),
        (model.Application, rules.APPLICATIONS),
        (model.RbdContent, rules.RBD_CONTENT),
        (model.HealthRequirement, rules.HEALTH_REQUIREMENTS),
    ],
)
def test_the_models_choices_are_the_rules_choices(literal: Any, choices: tuple[str, ...]) -> None:
    assert sorted(typing.get_args(literal)) == sorted(choices)
