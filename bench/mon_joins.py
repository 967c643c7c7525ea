"""When each MON joined the quorum, by Ceph's own cluster log. Pure.

PVE's MON create task ends once the daemon is started (pve-manager PVE/API2/Ceph/MON.pm createmon);
the MON joins after it, in an election whose winner logs to the cluster log (ceph src/mon/Monitor.cc
win_election): `mon.pve1 is new leader, mons pve1,pve2 in quorum (ranks 0,1)`. A MON's join is the
first such line that names it. The lines come from GET /nodes/{node}/ceph/log (the node's
/var/log/ceph/ceph.log), e.g. `2026-12-04T17:10:01.123456+0000 mon.pve1 (mon.0) 45 : cluster [INF] ...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bench.pg_report import ceph_stamp

_LEADER = re.compile(r"^(?P<stamp>\S+) .*: cluster \[\w+\] mon\.\S+ is new leader, mons (?P<mons>\S+) in quorum")


def join_stamps(lines: Iterable[str]) -> dict[str, float]:
    """MON name -> epoch seconds of the first election that put it in the quorum."""
    joined: dict[str, float] = {}
    for line in lines:
        match = _LEADER.match(line)
        if not match:
            continue
        for mon in match["mons"].split(","):
            joined.setdefault(mon, ceph_stamp(match["stamp"]))
    return joined
