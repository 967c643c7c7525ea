"""Where the wall time of a `pulumi up` goes, from the lab's task log and request times. Pure
(bench/orchestration.py prints it; tests/unit/tools/test_bench_chain.py).

Every instant of the run falls in exactly one part:
- startup: before the first request reaches the lab (engine start, plugins, the program's first
  registrations, the providers' own start);
- tasks: at least one lab task is running;
- waits: no task runs and a provider is polling (the request that ends the interval repeats one
  seen within POLL_WINDOW: quorum, up+in, active+clean, health gates, task polls between tasks);
- gaps: no task runs and nothing is being polled (the engine and the program between steps,
  synchronous calls, providers starting);
- finish: after the last request (the engine saving state, the program ending).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.chain import LabTask

POLL_WINDOW = 2.5  # seconds: longer than our slowest poll interval (dynamic_providers/pve/tasks.py MAX_POLL)


@dataclass(frozen=True)
class Request:
    time: float  # wall clock, when the lab received it
    method: str
    path: str  # the schema path template
    seconds: float = 0.0  # until the lab's answer was ready


@dataclass(frozen=True)
class SlowCall:
    call: str  # "GET /nodes/{node}/disks/list"
    count: int
    total: float
    median: float
    longest: float


def slowest_calls(requests: Iterable[Request], top: int = 5) -> list[SlowCall]:
    """The API calls that took the lab longest to answer, by their total: a wait that is the lab's (or
    PVE's) answer time, not the program's. A terminal's websocket is left out: it lasts its session."""
    by_call: dict[str, list[float]] = {}
    for request in requests:
        if not request.path.endswith("/vncwebsocket"):
            by_call.setdefault(f"{request.method} {request.path}", []).append(request.seconds)
    calls = [
        SlowCall(call, len(times), sum(times), statistics.median_low(times), max(times))
        for call, times in by_call.items()
    ]
    return sorted(calls, key=lambda c: c.total, reverse=True)[:top]


@dataclass(frozen=True)
class Breakdown:
    startup: float
    tasks: float
    waits: float
    gaps: float
    finish: float

    @property
    def total(self) -> float:
        return self.startup + self.tasks + self.waits + self.gaps + self.finish


def merged(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping spans joined, in order."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered(spans: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end] that the (merged) spans cover."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def breakdown(begin: float, end: float, tasks: Sequence[LabTask], requests: Sequence[Request]) -> Breakdown:
    """Split [begin, end] (the `pulumi up`, wall clock) into the parts above."""
    inside = sorted((r for r in requests if begin <= r.time <= end), key=lambda r: r.time)
    if not inside:
        return Breakdown(end - begin, 0.0, 0.0, 0.0, 0.0)
    first, last = inside[0].time, inside[-1].time
    busy = merged((max(t.start, first), min(t.end, last)) for t in tasks if t.end > first and t.start < last)
    task_seconds = covered(busy, first, last)
    waits = gaps = 0.0
    seen: dict[tuple[str, str], float] = {}
    previous = first
    for request in inside:
        key = (request.method, request.path)
        idle = (request.time - previous) - covered(busy, previous, request.time)
        polled = key in seen and request.time - seen[key] <= POLL_WINDOW
        if polled:
            waits += idle
        else:
            gaps += idle
        seen[key] = request.time
        previous = request.time
    return Breakdown(first - begin, task_seconds, waits, gaps, end - last)
