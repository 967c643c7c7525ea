"""Warnings inside a task, as PVE counts them: the task still succeeds, and ends `WARNINGS: n`.

pve-common src/PVE/RESTEnvironment.pm: `log_warn` (the `warn` method of the task's environment)
prints "WARN: <message>" to the task log and counts it; fork_worker then ends a task whose worker
did not die with "TASK WARNINGS: <count>" instead of "TASK OK", and its exit status reads
`WARNINGS: <count>`, which clients take as success (pve-common PVE::Tools upid_status_is_error).
qemu-server's destroy_vm warns so for a disk it could not remove ("Could not remove disk '<volid>',
check manually: ..."). Outside a task a warning goes to the lab's own log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

log = logging.getLogger("lab")

# The running task's warnings (a worker thread started with asyncio.to_thread shares the list).
_warnings: ContextVar[list[str] | None] = ContextVar("task_warnings", default=None)


@contextlib.contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """Around a task's body: the messages it warned, in order."""
    warned: list[str] = []
    token = _warnings.set(warned)
    try:
        yield warned
    finally:
        _warnings.reset(token)


def log_warn(message: str) -> None:
    """PVE's log_warn: one more warning of the running task, else a line in the lab's log."""
    warned = _warnings.get()
    if warned is None:
        log.warning("%s", message)
    else:
        warned.append(message.rstrip("\n"))


def finish_with_warnings(record: dict[str, object], warned: list[str]) -> None:
    """A fakepve task record that ended OK, as PVE ends it after warnings: each "WARN: ..." line in the
    log before the end line, "TASK WARNINGS: n" for "TASK OK", and exit status `WARNINGS: n`."""
    if not warned or record.get("exitstatus") != "OK":
        return
    lines = record["log"]
    assert isinstance(lines, list)
    end = lines.pop() if lines and lines[-1] == "TASK OK" else None
    lines.extend(f"WARN: {message}" for message in warned)
    record["exitstatus"] = f"WARNINGS: {len(warned)}"
    if end is not None:
        lines.append(f"TASK WARNINGS: {len(warned)}")
