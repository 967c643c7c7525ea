"""CephHealthGate's wait against a fake client: a status counts once it shows every OSD change."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers.errors import PveApiError
from dynamic_providers.health_gate import wait_healthy
from dynamic_providers.logic.health import GateInputs

NODE_AHEAD = 1000.0  # the node's clock runs this far ahead of ours


class FakeClient:
    """Our clock and wall clock advance with each sleep; the node answers with a last OSD change."""

    def __init__(self, osd_changed: float, periods: dict[str, str] | None = None, node_time: bool = True) -> None:
        self.now = 0.0
        self.wall_now = 5000.0
        self.osd_changed = osd_changed  # by the node's clock
        self.periods = periods if periods is not None else {"mgr-stats-period": "1", "mgr-tick-period": "1"}
        self.node_time_readable = node_time
        self.status_reads: list[float] = []  # our wall clock at each read

    def first_online(self, nodes: Any) -> str:
        return "pve1"

    def ceph_config_values(self, node: str, keys: str) -> dict[str, dict[str, str]]:
        return {"mgr": self.periods}

    def node_time(self, node: str) -> float:
        if not self.node_time_readable:
            raise PveApiError("GET", f"/nodes/{node}/time", 403, "Permission check failed (/nodes/pve1, Sys.Audit)")
        return self.wall_now + NODE_AHEAD

    def ceph_status(self, node: str) -> dict[str, Any]:
        self.status_reads.append(self.wall_now)
        changed = int(self.osd_changed)
        return {
            "health": {"status": "HEALTH_OK", "checks": {}},
            "pgmap": {"num_pools": 2, "pgs_by_state": [{"state_name": "active+clean", "count": 33}]},
            "osdmap": {"num_osds": 3, "num_up_osds": 3, "num_in_osds": 3, "osd_up_since": changed, "osd_in_since": 1},
        }

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds

    def wall(self) -> float:
        return self.wall_now


INPUTS = GateInputs(api_nodes=("pve1",), require="HEALTH_OK", timeout=60)


def test_after_an_osd_change_the_gate_waits_out_the_clusters_stats_lag() -> None:
    client = FakeClient(osd_changed=5000.0 + NODE_AHEAD)  # an OSD went up just now
    outputs = wait_healthy(client, INPUTS, wall=client.wall)  # type: ignore[arg-type]
    assert outputs.status == "HEALTH_OK"
    # Clean all along, yet only a read at least 1 + 1 s (the periods) + 1 s (whole seconds) later counts.
    assert all(read < 5003.0 for read in client.status_reads[:-1]) and len(client.status_reads) > 1
    # The counting read comes when it is due, not at the poll after (the poll interval grows).
    assert client.status_reads[-1] == pytest.approx(5003.0)


def test_with_no_recent_osd_change_the_first_clean_read_counts() -> None:
    client = FakeClient(osd_changed=4000.0 + NODE_AHEAD)  # over 15 minutes ago
    wait_healthy(client, INPUTS, wall=client.wall)  # type: ignore[arg-type]
    assert client.status_reads == [5000.0]


def test_periods_the_cluster_does_not_name_count_at_cephs_defaults() -> None:
    client = FakeClient(osd_changed=5000.0 + NODE_AHEAD, periods={})
    wait_healthy(client, INPUTS, wall=client.wall)  # type: ignore[arg-type]
    assert client.status_reads[-1] >= 5000.0 + 5 + 2 + 1


def test_without_the_nodes_clock_the_requirement_must_hold_for_one_lag() -> None:
    client = FakeClient(osd_changed=4000.0 + NODE_AHEAD, node_time=False)  # the change date cannot be used
    wait_healthy(client, INPUTS, wall=client.wall)  # type: ignore[arg-type]
    assert client.status_reads[-1] - client.status_reads[0] >= 2.0
