"""The lab's GET ceph/cfg/value (lab/models/ceph_config.py) against pve-manager PVE/API2/Ceph/Cfg.pm."""

from __future__ import annotations

from lab.models.ceph_config import config_values, requested_keys
from lab.releases import release

DB = [
    {"section": "mgr", "name": "mgr_stats_period", "value": "1"},
    {"section": "mgr", "name": "mgr/devicehealth/pool_name", "value": ".mgr"},
    {"section": "mon", "name": "auth_allow_insecure_global_id_reclaim", "value": "false"},
]


def test_keys_are_split_on_semicolon_comma_or_space_and_spelt_with_hyphens() -> None:
    assert requested_keys("mgr:mgr_stats_period, global:fsid;global:mon-host") == {
        "mgr": {"mgr-stats-period"},
        "global": {"fsid", "mon-host"},
    }


def test_since_9_1_18_only_the_requested_keys_come_back_and_ceph_conf_wins() -> None:
    conf = {"global": {"fsid": "f00"}, "mgr": {"mgr_stats_period": "3"}}
    got = config_values("mgr:mgr_stats_period;mgr:mgr_tick_period;global:fsid", DB, conf, db_filtered_by_key=True)
    assert got == {"mgr": {"mgr-stats-period": "3"}, "global": {"fsid": "f00"}}


def test_before_9_1_18_a_requested_section_brings_all_its_db_keys() -> None:
    got = config_values("mgr:mgr_stats_period", DB, {}, db_filtered_by_key=False)
    assert got == {"mgr": {"mgr-stats-period": "1", "mgr/devicehealth/pool-name": ".mgr"}}


def test_the_release_decides_the_filter() -> None:
    assert not release("8.4.21").cfg_value_filters_db_keys
    assert not release("9.1.17").cfg_value_filters_db_keys
    assert release("9.1.18").cfg_value_filters_db_keys
