"""Warnings inside a task, as PVE counts them: the task still succeeds, and ends `WARNINGS: n`.

pve-common src/PVE/RESTEnvironment.pm: `log_warn` (the `warn` method of the task's environment)
prints "WARN: <message>" to the task log and counts it; fork_worker then ends a task whose worker
did not die with "TASK WARNINGS: <count>" instead of "TASK OK", and its exit status reads
`WARNINGS: <count>`, which clients take as success (pve-common PVE::Tools upid_status_is_error).
qemu-server's destroy_vm warns so for a disk it could not remove ("Could not remove disk '<volid>',
check manually: ..."). A plain Perl `warn` (a disk move's or a failed create's cleanup: `warn $@ if
$@`) only prints its line, and counts for nothing. Outside a task either goes to the lab's own log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger("lab")


@dataclass(frozen=True)
class Warned:
    line: str  # as the task log shows it
    counted: bool  # log_warn's; a plain warn is not


# The running task's warnings (a worker thread started with asyncio.to_thread shares the list).
_warnings: ContextVar[list[Warned] | None] = ContextVar("task_warnings", default=None)


@contextlib.contextmanager
def collecting_warnings() -> Iterator[list[Warned]]:
    """Around a task's body: what it warned, in order."""
    warned: list[Warned] = []
    token = _warnings.set(warned)
    try:
        yield warned
    finally:
        _warnings.reset(token)


def _note(line: str, counted: bool) -> None:
    warned = _warnings.get()
    if warned is None:
        log.warning("%s", line)
    else:
        warned.append(Warned(line, counted))


def log_warn(message: str) -> None:
    """PVE's log_warn: one more warning of the running task ("WARN: <message>")."""
    _note(f"WARN: {message.rstrip()}", counted=True)


def warn(message: str) -> None:
    """Perl's warn in a task's worker: the line in its log, nothing more."""
    _note(message.rstrip(), counted=False)


def finish_with_warnings(record: dict[str, object], warned: list[Warned]) -> None:
    """A fakepve task record once it has ended, as PVE ends it after warnings: their lines in the log
    before the end line and, for a task that did not fail, "TASK WARNINGS: n" for "TASK OK" and exit
    status `WARNINGS: n`, n the log_warn ones."""
    lines = record["log"]
    assert isinstance(lines, list)
    end = lines.pop() if lines and str(lines[-1]).startswith("TASK ") else None
    # A failed task's log ends with its error, then "TASK ERROR: ...": the warnings came before both.
    died = (
        [lines.pop()]
        if end and record.get("exitstatus") != "OK" and lines and lines[-1] == record.get("exitstatus")
        else []
    )
    lines.extend(w.line for w in warned)
    lines.extend(died)
    counted = sum(w.counted for w in warned)
    if counted and record.get("exitstatus") == "OK":
        record["exitstatus"] = f"WARNINGS: {counted}"
        end = f"TASK WARNINGS: {counted}"
    if end is not None:
        lines.append(end)
