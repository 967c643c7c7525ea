"""bench/mon_joins.py: each MON's join from the leader lines of Ceph's cluster log."""

from __future__ import annotations

from bench.mon_joins import available_stamps, boot_stamps, join_stamps
from bench.pg_report import ceph_stamp

PREFIX = "2026-12-04T17:10:{} mon.pve1 (mon.0) 1 : cluster "
LOG = [
    PREFIX.format("01.100000+0000") + "[INF] mon.pve1 is new leader, mons pve1 in quorum (ranks 0)",
    PREFIX.format("01.200000+0000") + "[DBG] monmap e1: 1 mons at {pve1=...}",
    PREFIX.format("04.500000+0000") + "[INF] mon.pve1 calling monitor election",
    PREFIX.format("05.250000+0000") + "[INF] mon.pve1 is new leader, mons pve1,pve2 in quorum (ranks 0,1)",
    PREFIX.format("09.000000+0000") + "[INF] mon.pve1 is new leader, mons pve1,pve2,pve3 in quorum (ranks 0,1,2)",
    PREFIX.format("59.000000+0000") + "[INF] mon.pve2 is new leader, mons pve2,pve3 in quorum (ranks 1,2)",
]


def test_each_mon_joins_at_the_first_election_that_names_it() -> None:
    assert join_stamps(LOG) == {
        "pve1": ceph_stamp("2026-12-04T17:10:01.100000+0000"),
        "pve2": ceph_stamp("2026-12-04T17:10:05.250000+0000"),
        "pve3": ceph_stamp("2026-12-04T17:10:09.000000+0000"),
    }


def test_other_lines_and_an_empty_log_give_nothing() -> None:
    assert join_stamps(LOG[1:3]) == {} and join_stamps([]) == {} and join_stamps(["no content"]) == {}


def test_osd_boots_and_the_active_mgr_by_their_first_lines() -> None:
    lines = [
        PREFIX.format("02.000000+0000") + "[INF] Activating manager daemon pve1",
        PREFIX.format("02.050000+0000") + "[INF] Manager daemon pve1 is now available",
        PREFIX.format("07.500000+0000") + "[INF] osd.2 [v2:127.0.0.12:6800/16795,v1:127.0.0.12:6801/16795] boot",
        PREFIX.format("08.000000+0000") + "[DBG] osdmap e12: 3 total, 1 up, 3 in",
        PREFIX.format("30.000000+0000") + "[INF] osd.2 [v2:127.0.0.12:6800/20001,v1:127.0.0.12:6801/20001] boot",
    ]
    assert boot_stamps(lines) == {2: ceph_stamp("2026-12-04T17:10:07.500000+0000")}
    assert available_stamps(lines) == {"pve1": ceph_stamp("2026-12-04T17:10:02.050000+0000")}
    assert boot_stamps(LOG) == {} and available_stamps(LOG) == {}
