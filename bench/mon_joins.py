"""When each MON joined the quorum, each OSD booted and the first MGR came up, by Ceph's own cluster log. Pure.

PVE's MON create task ends once the daemon is started (pve-manager PVE/API2/Ceph/MON.pm createmon);
the MON joins after it, in an election whose winner logs to the cluster log (ceph src/mon/Monitor.cc
win_election): `mon.pve1 is new leader, mons pve1,pve2 in quorum (ranks 0,1)`. A MON's join is the
first such line that names it. The lines come from GET /nodes/{node}/ceph/log (the node's
/var/log/ceph/ceph.log), e.g. `2026-12-04T17:10:01.123456+0000 mon.pve1 (mon.0) 45 : cluster [INF] ...`.

PVE's OSD and MGR tasks end once their daemons are started too (OSD.pm createosd through ceph-volume,
PVE/Ceph/Services.pm create_mgr). The MON logs an OSD's boot (src/mon/OSDMonitor.cc prepare_boot:
`osd.0 [v2:...,v1:...] boot`) and a MGR's activation (src/mon/MgrMonitor.cc: `Manager daemon pve1 is
now available`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bench.pg_report import ceph_stamp

_LEADER = re.compile(r"^(?P<stamp>\S+) .*: cluster \[\w+\] mon\.\S+ is new leader, mons (?P<mons>\S+) in quorum")
_BOOT = re.compile(r"^(?P<stamp>\S+) .*: cluster \[\w+\] osd\.(?P<osd>\d+) \S+ boot$")
_AVAILABLE = re.compile(r"^(?P<stamp>\S+) .*: cluster \[\w+\] Manager daemon (?P<mgr>\S+) is now available$")


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


def boot_stamps(lines: Iterable[str]) -> dict[int, float]:
    """OSD id -> epoch seconds of its first boot."""
    return {int(osd): stamp for osd, stamp in _first_stamps(lines, _BOOT, "osd").items()}


def available_stamps(lines: Iterable[str]) -> dict[str, float]:
    """MGR name -> epoch seconds it first became available (the active MGR)."""
    return _first_stamps(lines, _AVAILABLE, "mgr")


def _first_stamps(lines: Iterable[str], pattern: re.Pattern[str], group: str) -> dict[str, float]:
    """The `group` of each line matching `pattern` -> epoch seconds of its first such line."""
    first: dict[str, float] = {}
    for line in lines:
        if match := pattern.match(line.rstrip()):
            first.setdefault(match[group], ceph_stamp(match["stamp"]))
    return first
