"""bench/pg_report.py (when Ceph's own PG stamps say a pool was active+clean) and its use in bench.orchestration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.orchestration import pg_report_tasks, pool_waits_seen
from bench.pg_report import ceph_stamp, clean_since, state_stamp

T0 = datetime(2026, 12, 4, 0, 42, 36, tzinfo=UTC).timestamp()


def row(pgid: str, state: str, became_active: str) -> dict[str, Any]:
    later = "2026-12-04T00:42:59.000000+0000"  # last_change and last_clean move on after peering
    return {
        "pgid": pgid,
        "state": state,
        "last_became_active": became_active,
        "last_change": later,
        "last_clean": later,
    }


def test_stamps_of_ceph_and_of_pulumi_state_read_to_the_same_clock() -> None:
    assert ceph_stamp("2026-12-04T00:42:36.948826+0000") == pytest.approx(T0 + 0.948826)
    assert ceph_stamp("2026-12-04T01:42:36.500000+0100") == pytest.approx(T0 + 0.5)
    assert state_stamp("2026-12-04T00:42:36.149436793Z") == pytest.approx(T0 + 0.149436793)
    assert state_stamp("2026-12-04T00:42:36Z") == pytest.approx(T0)


def test_a_new_pool_is_clean_since_its_last_pg_became_active() -> None:
    listing = {
        "pg_ready": True,
        "pg_stats": [
            row("3.0", "active+clean", "2026-12-04T00:42:36.100000+0000"),
            row("3.1", "active+clean", "2026-12-04T00:42:37.250000+0000"),
        ],
    }
    assert clean_since(listing) == pytest.approx(T0 + 1.25)
    assert clean_since(listing["pg_stats"]) == pytest.approx(T0 + 1.25)  # the list form before Nautilus


def test_a_pool_not_all_clean_or_without_pgs_has_no_clean_time() -> None:
    peering = [row("3.0", "active+clean", "2026-12-04T00:42:36.1+0000"), row("3.1", "peering", "x")]
    assert clean_since({"pg_stats": peering}) is None
    assert clean_since({"pg_stats": []}) is None
    assert clean_since({}) is None


def test_the_lag_runs_from_cephs_stamp_to_the_pools_create_returning() -> None:
    resources = [
        {
            "type": "pulumi-python:dynamic/ceph:Pool",
            "inputs": {"pool_name": "vm-pool"},
            "created": "2026-12-04T00:42:38Z",
        },
        {"type": "pulumi-python:dynamic/ceph:Pool", "inputs": {"pool_name": "old"}},  # no stamp (older state)
        {"type": "pulumi-python:dynamic/ceph:Rbd", "inputs": {"pool": "vm-pool"}, "created": "2026-12-04T00:42:39Z"},
    ]
    seen = pool_waits_seen(resources)
    assert seen == {"vm-pool": pytest.approx(T0 + 2.0)}
    (report,) = pg_report_tasks({"vm-pool": T0 + 0.5, "old": T0, "unclean": None}, seen)
    assert (report.id, report.seconds) == ("vm-pool", pytest.approx(1.5))
    # PGs that changed state after the wait saw them clean: their stamp is no measure of the lag.
    assert pg_report_tasks({"vm-pool": T0 + 3.0}, seen) == []
