"""A log file as PVE's API pages it: pve-common src/PVE/Tools.pm dump_logfile, as a pure function.

GET /nodes/{node}/ceph/log (pve-manager PVE/API2/Ceph.pm `log`) answers /var/log/ceph/ceph.log, the
MONs' cluster log, this way: lines numbered from 1, `start` lines skipped, at most `limit` returned
(50 when left out, all with 0), "no content" for an empty file and the open error as its only line
for a missing one. PVE also sets the result attribute `total` (the line count); fakepve's reply
carries `data` only, so the lab leaves it out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypedDict

DEFAULT_LIMIT = 50


class LogLine(TypedDict):
    n: int
    t: str


def dump_logfile(path: Path, start: int | None = None, limit: int | None = None) -> tuple[int, list[LogLine]]:
    """(the number of lines counted, the lines returned), as PVE::Tools::dump_logfile."""
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        return 1, [LogLine(n=1, t=f"unable to open file - {os.strerror(exc.errno or 0)}")]
    first = start or 0
    left = DEFAULT_LIMIT if limit is None else limit
    until_end = left == 0
    count = 0
    lines: list[LogLine] = []
    with handle:
        for line in handle:
            count += 1
            if count <= first:
                continue
            if not until_end:
                if left <= 0:
                    continue
                left -= 1
            lines.append(LogLine(n=count, t=line.rstrip("\n")))
    if not count:  # PVE's hack for ExtJS' store.guaranteeRange(): never an empty array
        return 1, [LogLine(n=1, t="no content")]
    return count, lines
