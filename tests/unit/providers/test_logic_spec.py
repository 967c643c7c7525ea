"""The generic check and diff: defaults, failures naming the property, unknowns, replace vs update."""

from __future__ import annotations

from pulumi.runtime import rpc

from dynamic_providers.logic import init, mon, osd, pool, storage
from dynamic_providers.logic.spec import check_inputs, diff_inputs
from dynamic_providers.values import UNKNOWN


def test_sentinel_is_pulumis() -> None:
    assert rpc.UNKNOWN == UNKNOWN


def test_defaults_are_filled_and_numbers_coerced() -> None:
    inputs, failures = check_inputs(pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm", "size": 3.0})
    assert failures == []
    assert inputs["size"] == 3 and isinstance(inputs["size"], int)
    assert inputs["min_size"] == 2 and inputs["autoscale_mode"] == "on" and inputs["application"] == "rbd"


def test_each_failure_names_its_property() -> None:
    _, failures = check_inputs(osd.SPEC, {}, {"node": "pve 1", "device": "sdb", "encrypted": "yes"})
    props = {prop for prop, _ in failures}
    assert props == {"node", "device", "encrypted"}
    assert all(reason.startswith(f"CephOsd.{prop}") for prop, reason in failures)


def test_missing_required_input() -> None:
    _, failures = check_inputs(osd.SPEC, {}, {"node": "pve1"})
    assert failures == [("device", "CephOsd.device is required")]


def test_unknown_inputs_pass_check_untouched() -> None:
    # During preview a pool name from another resource's output is not known yet.
    inputs, failures = check_inputs(
        pool.SPEC, {}, {"api_nodes": UNKNOWN, "pool_name": UNKNOWN, "size": UNKNOWN, "min_size": 2}
    )
    assert failures == []
    assert inputs["pool_name"] == UNKNOWN and inputs["size"] == UNKNOWN


def test_unknown_replace_input_is_a_possible_replacement() -> None:
    olds = {
        "node": "pve1",
        "device": "/dev/sdb",
        "encrypted": False,
        "wipe": False,
        "allow_data_loss": False,
        "adopt": False,
    }
    plan = diff_inputs(osd.SPEC, olds, {**olds, "device": UNKNOWN}, osd.delete_before_replace)
    assert plan.replaces == ["device"] and plan.changes
    assert plan.delete_before_replace is False  # unknown: not assumed to collide


def test_update_in_place_versus_replace() -> None:
    olds, _ = check_inputs(pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm"})
    news, _ = check_inputs(pool.SPEC, olds, {**olds, "size": 2, "min_size": 2})
    plan = diff_inputs(pool.SPEC, olds, news, pool.delete_before_replace)
    assert plan.updates == ["size"] and plan.replaces == []
    renamed, _ = check_inputs(pool.SPEC, olds, {**olds, "pool_name": "vm2"})
    plan = diff_inputs(pool.SPEC, olds, renamed, pool.delete_before_replace)
    assert plan.replaces == ["pool_name"] and not plan.delete_before_replace


def test_api_nodes_change_alone_is_no_change_and_never_replaces() -> None:
    """Where calls go is not what the pool is: a node joining (api_nodes grows) plans nothing."""
    olds, _ = check_inputs(pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm"})
    plan = diff_inputs(pool.SPEC, olds, {**olds, "api_nodes": ["pve1", "pve4"]})
    assert not plan.changes and plan.replaces == [] and plan.updates == [] and "api_nodes" in plan.stables
    # With a real change it is stored too.
    plan = diff_inputs(pool.SPEC, olds, {**olds, "api_nodes": ["pve2", "pve3"], "size": 2})
    assert plan.replaces == [] and sorted(plan.updates) == ["api_nodes", "size"]


def test_state_numbers_come_back_as_floats_and_still_match() -> None:
    olds, _ = check_inputs(pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm"})
    stored = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in olds.items()}
    assert not diff_inputs(pool.SPEC, stored, olds).changes


def test_lists_compared_as_sets_where_order_means_nothing() -> None:
    olds, _ = check_inputs(storage.SPEC, {}, {"storage": "vm", "pool": "vm", "content": ["images", "rootdir"]})
    news, _ = check_inputs(storage.SPEC, olds, {**olds, "content": ["rootdir", "images"]})
    assert not diff_inputs(storage.SPEC, olds, news).changes


def test_refused_change_names_property_and_reason() -> None:
    olds, _ = check_inputs(init.SPEC, {}, {"api_nodes": ["pve1"], "network": "10.0.0.0/24"})
    _, failures = check_inputs(init.SPEC, olds, {**olds, "network": "10.1.0.0/24"})
    assert [p for p, _ in failures] == ["network"]
    assert "manual procedure" in failures[0][1]


def test_refused_change_allows_the_same_network_written_differently() -> None:
    olds, _ = check_inputs(init.SPEC, {}, {"api_nodes": ["pve1"], "network": "fd00::/64"})
    news, failures = check_inputs(init.SPEC, olds, {**olds, "network": "fd00:0:0:0::/64"})
    assert failures == [] and news["network"] == "fd00::/64"


def test_a_network_with_host_bits_is_refused_as_the_model_refuses_it() -> None:
    _, failures = check_inputs(init.SPEC, {}, {"api_nodes": ["pve1"], "network": "10.0.0.7/24"})
    assert failures == [("network", "CephInit.network: '10.0.0.7/24' has host bits set; the network is 10.0.0.0/24")]


def test_adding_a_cluster_network_later_is_an_update_not_a_refusal() -> None:
    olds, _ = check_inputs(init.SPEC, {}, {"api_nodes": ["pve1"], "network": "10.0.0.0/24"})
    stored = {k: v for k, v in olds.items() if v is not None}  # Pulumi drops None values
    news, failures = check_inputs(init.SPEC, stored, {**stored, "cluster_network": " 10.9.0.0/24"})
    assert failures == [] and news["cluster_network"] == "10.9.0.0/24"
    plan = diff_inputs(init.SPEC, stored, news)
    assert (plan.updates, plan.replaces) == (["cluster_network"], [])


def test_a_cluster_network_overlapping_the_public_one_is_refused_at_check() -> None:
    base = {"api_nodes": ["pve1"], "network": "10.0.0.0/16"}
    _, failures = check_inputs(init.SPEC, {}, {**base, "cluster_network": "10.0.5.0/24"})
    assert [p for p, _ in failures] == ["cluster_network"]
    assert "overlaps network 10.0.0.0/16" in failures[0][1]
    _, same = check_inputs(init.SPEC, {}, {**base, "cluster_network": "10.0.0.0/16"})
    assert same == []  # the same network again means no separate one


def test_auto_inputs_accept_what_pve_chose() -> None:
    # address None means "PVE picks"; the picked address stored in state is not a change.
    olds = {"node": "pve1", "mon_id": "pve1", "address": "10.0.0.11", "allow_shrink": False, "adopt": False}
    news, _ = check_inputs(mon.SPEC, olds, {"node": "pve1"})
    assert news["mon_id"] == "pve1"  # completed from the node
    assert not diff_inputs(mon.SPEC, olds, news).changes


def test_unknown_property_is_reported() -> None:
    _, failures = check_inputs(storage.SPEC, {}, {"storage": "vm", "pool": "vm", "kbrd": True})
    assert failures == [("kbrd", "RbdStorage has no input 'kbrd'")]
