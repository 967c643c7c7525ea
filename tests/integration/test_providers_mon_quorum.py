"""MON removal while another MON is out of quorum: four nodes, so the count rule alone would allow it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dynamic_providers.ceph_mon import CephMonitorProvider
from dynamic_providers.errors import UnsafeToProceed

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Any:
    lab = lab_factory("--ceph-installed", "--nodes", "4")
    yield lab
    lab_factory.stop(lab)


def test_removal_refused_while_another_mon_is_out_of_quorum(bootstrap: Any, drive: Any, hci_lab: Any) -> None:
    built = bootstrap()
    mon = drive(CephMonitorProvider)
    hci_lab.fail_node("pve4")
    try:
        # Ceph needs a few seconds (an election) to notice; the provider goes by what Ceph reports.
        deadline = time.monotonic() + 60
        while mon.read(built["mon-pve4"]).outs["in_quorum"] and time.monotonic() < deadline:
            time.sleep(0.5)
        with pytest.raises(UnsafeToProceed, match="monitor\\(s\\) pve4 are out of quorum"):
            mon.delete(built["mon-pve1"])
        assert mon.read(built["mon-pve1"]).outs["in_quorum"] is True
    finally:
        hci_lab.recover_node("pve4")
