"""The pool delete guard on a release with getpool's last-pool bug (PVE 8.4.21): pool status reports
the statistics of the pool with the highest id, so the guard must neither refuse an empty pool for
another pool's objects nor let the last pool go while it holds them.
"""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers.ceph_osd import CephOsdProvider
from dynamic_providers.ceph_pool import CephPoolProvider
from dynamic_providers.errors import UnsafeToProceed
from hci_tools.ceph_facts import pool_stats
from tests.waiting import read_between_settled_stats, wait_for

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Any:
    lab = lab_factory("--pve-release", "8.4.21", "--ceph-installed")
    yield lab
    lab_factory.stop(lab)


def test_the_guard_reads_each_pools_own_objects_only(bootstrap: Any, drive: Any, hci_lab: Any) -> None:
    bootstrap()
    for node in hci_lab.nodes:
        drive(CephOsdProvider).create(node=node, device="/dev/sdb")
    pools = drive(CephPoolProvider)
    empty = pools.create(api_nodes=hci_lab.nodes, pool_name="empty")
    full = pools.create(api_nodes=hci_lab.nodes, pool_name="full")  # the higher id: the last in `ceph df`
    hci_lab.rbd("create", "full/image", "--size", "64M")
    wait_for("the image's objects in `ceph df`", lambda: pool_stats(hci_lab)["full"]["objects"], timeout=30)
    # The lab answers as 8.4.21 does: the empty pool's status carries the full one's statistics.
    status, df = read_between_settled_stats(
        hci_lab, lambda: hci_lab.api().nodes("pve1").ceph.pool("empty").status.get(verbose=1)
    )
    assert status["statistics"]["objects"] == df["full"]["objects"] > 0
    pools.delete(empty)  # not refused for objects that are not its own
    assert "empty" not in [p["pool_name"] for p in hci_lab.api().nodes("pve1").ceph.pool.get()]
    with pytest.raises(UnsafeToProceed, match=r"pool .full.: it holds data \(\d+ bytes used, \d+ objects\)"):
        pools.delete(full)  # the last pool's numbers are its own: trusted
