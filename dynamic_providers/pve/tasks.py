"""PVE worker tasks: UPIDs, how often to poll, and waiting until one ends.

A task is polled fast while it is young (most Ceph tasks take a second or two: their end is
noticed within about 0.1 s), then, once it is a long one, no more than about twice a second
counting the reads of its log, and less often as it ages, so the delay between its end and our
noticing stays around a tenth of its run time, never above 2 s. `wait_task` raises on failure or
timeout; it never returns "unknown".

While a task runs longer than FOLLOW_AFTER, its new log lines are shown live as the resource's
status (progress.py), read every FOLLOW_EVERY seconds with the log's `start` offset, so only new
lines travel (pve-manager PVE/API2/Tasks.pm read_task_log; pve-common PVE::Tools::dump_logfile).
Quick tasks cost no extra request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import ProxmoxHciError, TaskFailed, TaskTimeout
from dynamic_providers.progress import progress

log = logging.getLogger(__name__)

MIN_POLL = 0.1
MAX_POLL = 2.0
LONG_TASK = 2.0  # seconds after which a task (or wait) counts as long
# A long task is polled at most every LONG_POLL s: with its log read every FOLLOW_EVERY s, 2 requests/s.
LONG_POLL = 2 / 3
LOG_TAIL = 12  # lines of the task log quoted in errors
FOLLOW_AFTER = 2.0  # seconds a task runs before its log is followed
FOLLOW_EVERY = 2.0  # seconds between two reads of a followed log
FOLLOW_LINES = 5  # newest lines shown per read; a burst of more is summarised


@dataclass(frozen=True)
class Upid:
    raw: str
    node: str
    type: str
    id: str
    user: str

    @property
    def label(self) -> str:
        """How errors name the task: its type and object, e.g. `cephcreatemon mon.pve2`."""
        return f"{self.type} {self.id}".strip()

    @classmethod
    def parse(cls, raw: Any) -> Upid:
        parts = str(raw).split(":")
        # UPID:node:pid:pstart:starttime:type:id:user: -> 9 fields, the last empty.
        if len(parts) != 9 or parts[0] != "UPID":
            raise ProxmoxHciError(f"PVE returned {raw!r} where a task id (UPID:node:...) was expected")
        return cls(raw=str(raw), node=parts[1], type=parts[5], id=parts[6], user=parts[7])


def running(rows: list[dict[str, Any]], task_type: str, task_id: str) -> list[str]:
    """UPIDs of the `task_type` tasks on `task_id` that are still running, oldest first.

    `rows` is GET /nodes/{node}/tasks?source=active: PVE lists a running task with status RUNNING,
    and one that ended but is not archived yet with its exit status (pve-manager PVE/API2/Tasks.pm,
    node_tasks); a task without a status is taken as running.
    """
    found = [
        row
        for row in rows
        if row.get("type") == task_type
        and str(row.get("id") or "") == task_id
        and str(row.get("status") or "RUNNING") == "RUNNING"
    ]
    return [str(row["upid"]) for row in sorted(found, key=lambda row: int(row.get("starttime") or 0))]


def poll_interval(elapsed: float) -> float:
    """Seconds to wait before the next status poll of a task that has run `elapsed` seconds."""
    floor = LONG_POLL if elapsed >= LONG_TASK else MIN_POLL
    return min(MAX_POLL, max(floor, MIN_POLL + elapsed / 20))


def exit_ok(exitstatus: str | None) -> bool:
    """PVE's own rule (upid_status_is_error): OK and `WARNINGS: n` are success."""
    return exitstatus == "OK" or (exitstatus or "").startswith("WARNINGS:")


@dataclass(frozen=True)
class TaskResult:
    upid: Upid
    exitstatus: str
    seconds: float  # from our first poll to noticing the end


class LogFollower:
    """Shows a running task's new log lines as progress: `poll(elapsed)` on every status poll."""

    def __init__(
        self, upid: Upid, read_from: Callable[[Upid, int], list[str]], report: Callable[[str], None] | None = None
    ) -> None:
        self.upid = upid
        self._read_from = read_from  # (upid, lines already seen) -> the lines after those
        self._report = report or (lambda message: progress(message))
        self.seen = 0
        self._next_read = FOLLOW_AFTER

    def poll(self, elapsed: float) -> None:
        if elapsed < self._next_read:
            return
        self._next_read = elapsed + FOLLOW_EVERY
        try:
            lines = self._read_from(self.upid, self.seen)
        except ProxmoxHciError as exc:  # progress is best effort: the wait goes on
            log.debug("task log of %s unreadable: %s", self.upid.raw, exc)
            return
        if self.seen == 0 and lines == ["no content"]:  # PVE's placeholder for an empty log (dump_logfile)
            return
        self.seen += len(lines)
        shown = [line for line in lines if line.strip()][-FOLLOW_LINES:]
        skipped = len([line for line in lines if line.strip()]) - len(shown)
        if skipped > 0:
            self._report(f"{self.upid.label}: ... {skipped} more log lines")
        for line in shown:
            self._report(f"{self.upid.label}: {line}")


def wait_task(
    upid: Upid,
    *,
    status: Callable[[Upid], dict[str, Any]],
    log_lines: Callable[[Upid], list[str]],
    timeout: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    log_from: Callable[[Upid, int], list[str]] | None = None,
) -> TaskResult:
    """Poll until the task stops. Raises TaskFailed (with PVE's message and the log tail) or TaskTimeout.

    With `log_from` (upid, lines seen -> newer lines), the log of a long task is shown as it grows.
    """
    start = clock()
    follower = LogFollower(upid, log_from) if log_from is not None else None
    while True:
        # A safe point: the task runs on in PVE either way, but nobody would act on its result.
        ensure_engine_alive(f"waiting for {what} (task {upid.raw})")
        state = status(upid)
        if state.get("status") == "stopped":
            exitstatus = str(state.get("exitstatus") or "unexpected status")
            log.debug("task %s stopped: %s", upid.raw, exitstatus, extra={"upid": upid.raw, "noticed_at": time.time()})
            if exit_ok(exitstatus):
                return TaskResult(upid, exitstatus, clock() - start)
            raise TaskFailed(what, upid.raw, upid.node, upid.label, exitstatus, _tail(log_lines, upid))
        elapsed = clock() - start
        if elapsed >= timeout:
            raise TaskTimeout(what, upid.raw, upid.node, upid.label, timeout, _tail(log_lines, upid))
        if follower is not None:
            follower.poll(elapsed)
        sleep(min(poll_interval(elapsed), max(0.0, timeout - elapsed)))


def _tail(log_lines: Callable[[Upid], list[str]], upid: Upid) -> list[str]:
    try:
        lines = log_lines(upid)
    except ProxmoxHciError as exc:  # the error we are about to raise matters more
        return [f"(task log unavailable: {exc})"]
    return lines[-LOG_TAIL:]
