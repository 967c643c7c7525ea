"""The lab's task boundary: a task ends, in PVE's words, whatever its body fails with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.errors import PveError
from tests.lab.inprocess import InProcessLab, wait_for


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path)
    yield lab
    lab.stop()


def exit_status(lab: InProcessLab, error: Exception) -> str:
    async def body() -> None:
        raise error

    upid = lab.call(lab.pve.task("pve1", "srvstart", "", "root@pam", body, lock=False))
    wait_for("the task to stop", lambda: lab.pve.tasks[upid]["status"] == "stopped")
    return str(lab.pve.tasks[upid]["exitstatus"])


def test_a_die_inside_the_worker_ends_the_task_with_its_message(lab: InProcessLab) -> None:
    assert exit_status(lab, PveError(500, "storage 'x' is disabled")) == "storage 'x' is disabled"


def test_an_unexpected_failure_ends_the_task_on_one_line(lab: InProcessLab) -> None:
    # PVE's fork_worker ends a task with whatever its worker died of, newlines made spaces
    assert exit_status(lab, ValueError("bad value\nsecond line")) == "bad value second line"
