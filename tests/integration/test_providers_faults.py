"""Transient faults are retried, real errors are not, and a node that is down is skipped."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from dynamic_providers.ceph_init import CephInitProvider
from dynamic_providers.ceph_mon import CephMonitorProvider
from dynamic_providers.errors import PveApiError

pytestmark = pytest.mark.lab

LOCK_TIMEOUT = "cfs-lock 'file-ceph_conf' error: got lock request timeout"


@pytest.fixture(autouse=True)
def no_faults_left(hci_lab: Any) -> Any:
    yield
    hci_lab.clear_faults()


def count(lab: Any, method: str, path: str) -> int:
    counts: dict[tuple[str, str], int] = lab.request_counts()
    return counts.get((method, path), 0)


def test_init_retried_while_ceph_conf_is_locked(drive: Any, hci_lab: Any) -> None:
    hci_lab.fault("fail", method="POST", suffix="/nodes/{node}/ceph/init", status=500, message=LOCK_TIMEOUT, times=2)
    res = drive(CephInitProvider).create(api_nodes=hci_lab.nodes, network=hci_lab.public_network)
    assert res.outs["fsid"]
    assert count(hci_lab, "POST", "/nodes/{node}/ceph/init") == 3


def test_mon_create_survives_a_proxy_page_and_no_route(drive: Any, hci_lab: Any) -> None:
    hci_lab.fault(
        "fail",
        method="GET",
        suffix="/nodes/{node}/ceph/mon",
        status=502,
        message="<html><body><h1>502 Bad Gateway</h1></body></html>",
        html=True,
        times=1,
    )
    hci_lab.fault(
        "fail", method="POST", suffix="/nodes/{node}/ceph/mon/{monid}", status=595, message="No route to host", times=1
    )
    res = drive(CephMonitorProvider).create(node="pve1")
    assert res.outs["in_quorum"] is True
    assert count(hci_lab, "POST", "/nodes/{node}/ceph/mon/{monid}") == 2


def test_mon_create_waits_out_a_node_pve_cannot_reach(
    drive: Any, hci_lab: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """595 for every call naming pve2 for 8 s (the lab's node_unreachable, pve2 itself runs on): the
    create waits past the usual five tries, says each retry, and makes one MON."""
    hci_lab.fault("node_unreachable", node="pve2", secs=8)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="dynamic_providers.notices"):
        res = drive(CephMonitorProvider).create(node="pve2")
    assert res.outs["in_quorum"] is True
    assert time.monotonic() - started >= 8
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying ")]
    assert len(retries) > 4 and all("595 No route to host" in line for line in retries), retries
    assert [m["name"] for m in json.loads(hci_lab.ceph("mon", "dump", "--format", "json"))["mons"]].count("pve2") == 1


def test_mon_create_retried_while_another_client_holds_ceph_conf(
    drive: Any, hci_lab: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Another client holds the cfs lock on ceph.conf for 12 s: PVE gives up after its 10 s wait, the
    create's retry gets the lock."""
    hci_lab.fault("ceph_conf_locked", secs=12)
    with caplog.at_level(logging.INFO, logger="dynamic_providers.notices"):
        res = drive(CephMonitorProvider).create(node="pve3")
    assert res.outs["in_quorum"] is True
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying ")]
    assert retries and all("cfs-lock 'file-ceph_conf'" in line for line in retries), retries


def test_dropped_connections_are_retried(drive: Any, hci_lab: Any) -> None:
    for node in ("pve2", "pve3"):
        drive(CephMonitorProvider).create(node=node)
    hci_lab.fault("flaky_network", drop_rate=0.3, seed=11)
    mon = drive(CephMonitorProvider)
    for node in hci_lab.nodes:
        res = mon.check({"node": node})
        assert mon.provider.read(f"{node}/{node}", res).outs["in_quorum"] is True


def test_real_errors_are_not_retried(drive: Any, hci_lab: Any) -> None:
    hci_lab.fault(
        "fail",
        method="GET",
        suffix="/nodes/{node}/ceph/mon",
        status=500,
        message="rados_connect failed - No such file or directory",
    )
    before = count(hci_lab, "GET", "/nodes/{node}/ceph/mon")
    mon = drive(CephMonitorProvider)
    with pytest.raises(PveApiError, match="rados_connect failed - No such file or directory"):
        mon.provider.read("pve1/pve1", mon.check({"node": "pve1"}))
    assert count(hci_lab, "GET", "/nodes/{node}/ceph/mon") == before + 1


def test_cluster_calls_go_to_the_first_online_api_node(drive: Any, hci_lab: Any) -> None:
    init = drive(CephInitProvider)
    res = init.provider.check({}, {"api_nodes": ["pve1", "pve2"], "network": hci_lab.public_network}).inputs
    hci_lab.fail_node("pve1")
    try:
        before = count(hci_lab, "GET", "/nodes/{node}/ceph/cfg/raw")
        assert init.provider.read("fsid", res).outs["network"] == hci_lab.public_network
        assert count(hci_lab, "GET", "/nodes/{node}/ceph/cfg/raw") == before + 1  # to pve2 at once: no 595 retries
    finally:
        hci_lab.recover_node("pve1")
