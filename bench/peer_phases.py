"""bench/peer_pool.py's split of one step's wall time into phases, from the lab's request times. Pure
(tests/unit/tools/test_bench_chain.py).

Our CephPool does more than bpg's ceph.Pool: its create waits for the PGs to be active+clean, its
delete first checks that the pool holds no data and that no storage points at it. Those extras are
timed apart, each by the requests that are only theirs, so the work both do can be compared alone.
The time before the first request is startup (the engine, the program, the provider's process:
for bpg a Go binary, for us a Python process importing the SDK); the time up to a later request,
from the one before, belongs to that request's phase; the time after the last request (the engine
saving state and ending) to the step's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.timeline import Request

STARTUP = "startup"
CLEAN_WAIT = "active+clean wait"
DELETE_GUARDS = "delete guards"


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    reads: int
    writes: int


def phase_of(step: str, request: Request) -> str:
    """Which phase of our step a request serves: an extra, or the step's own work."""
    if step == "create" and request.method == "GET" and request.path.endswith("/ceph/status"):
        return CLEAN_WAIT
    guard = request.path == "/storage" or request.path.endswith("/ceph/pool/{name}/status")
    if step == "delete" and request.method == "GET" and guard:
        return DELETE_GUARDS
    return step


def phases(step: str, begin: float, end: float, requests: Sequence[Request]) -> list[Phase]:
    """Startup, the step's own phase, then its extras in the order they first appear."""
    inside = sorted((r for r in requests if begin <= r.time <= end), key=lambda r: r.time)
    first = inside[0].time if inside else end
    seconds: dict[str, float] = {STARTUP: first - begin, step: 0.0}
    counts: dict[str, list[int]] = {STARTUP: [0, 0], step: [0, 0]}
    previous = first
    for request in inside:
        name = phase_of(step, request)
        seconds[name] = seconds.get(name, 0.0) + request.time - previous
        count = counts.setdefault(name, [0, 0])
        count[0 if request.method == "GET" else 1] += 1
        previous = request.time
    seconds[step] += end - previous
    return [Phase(name, seconds[name], *counts[name]) for name in seconds]
