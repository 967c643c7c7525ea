"""PVE worker tasks: UPIDs, how often to poll, and waiting until one ends.

A task is polled fast while it is young (most Ceph tasks take seconds) and less often as it
ages, so the delay between its end and our noticing stays around a tenth of its run time,
never above 2 s. `wait_task` raises on failure or timeout; it never returns "unknown".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dynamic_providers.errors import ProxmoxHciError, TaskFailed, TaskTimeout

log = logging.getLogger(__name__)

MIN_POLL = 0.1
MAX_POLL = 2.0
LOG_TAIL = 12  # lines of the task log quoted in errors


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


def poll_interval(elapsed: float) -> float:
    """Seconds to wait before the next status poll of a task that has run `elapsed` seconds."""
    return min(MAX_POLL, max(MIN_POLL, MIN_POLL + elapsed / 20))


def exit_ok(exitstatus: str | None) -> bool:
    """PVE's own rule (upid_status_is_error): OK and `WARNINGS: n` are success."""
    return exitstatus == "OK" or (exitstatus or "").startswith("WARNINGS:")


@dataclass(frozen=True)
class TaskResult:
    upid: Upid
    exitstatus: str
    seconds: float  # from our first poll to noticing the end


def wait_task(
    upid: Upid,
    *,
    status: Callable[[Upid], dict[str, Any]],
    log_lines: Callable[[Upid], list[str]],
    timeout: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TaskResult:
    """Poll until the task stops. Raises TaskFailed (with PVE's message and the log tail) or TaskTimeout."""
    start = clock()
    while True:
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
        sleep(min(poll_interval(elapsed), max(0.0, timeout - elapsed)))


def _tail(log_lines: Callable[[Upid], list[str]], upid: Upid) -> list[str]:
    try:
        lines = log_lines(upid)
    except ProxmoxHciError as exc:  # the error we are about to raise matters more
        return [f"(task log unavailable: {exc})"]
    return lines[-LOG_TAIL:]
