"""lab/models/task_warnings.py: a task's warnings as PVE's task log and exit status show them."""

from __future__ import annotations

from typing import Any

from lab.models.task_warnings import Warned, collecting_warnings, finish_with_warnings, log_warn, warn


def ended(status: str, *lines: str) -> dict[str, Any]:
    """A fakepve record as its task left it."""
    end = "TASK OK" if status == "OK" else f"TASK ERROR: {status}"
    return {"exitstatus": status, "log": [*lines, *([] if status == "OK" else [status]), end]}


def test_counted_warnings_end_an_ok_task_with_warnings() -> None:
    with collecting_warnings() as warned:
        log_warn("Could not remove disk 'ceph-vm:vm-100-disk-0', check manually: rbd rm 'vm-100-disk-0' error: x\n")
        warn("a plain line")
    record = ended("OK", "destroying VM 100")
    finish_with_warnings(record, warned)
    assert record == {
        "exitstatus": "WARNINGS: 1",
        "log": [
            "destroying VM 100",
            "WARN: Could not remove disk 'ceph-vm:vm-100-disk-0', check manually: rbd rm 'vm-100-disk-0' error: x",
            "a plain line",
            "TASK WARNINGS: 1",
        ],
    }


def test_plain_warnings_only_print_and_a_failed_task_keeps_its_error_last() -> None:
    record = ended("OK")
    finish_with_warnings(record, [Warned("rbd rm 'vm-100-disk-0' error: x", counted=False)])
    assert record == {"exitstatus": "OK", "log": ["rbd rm 'vm-100-disk-0' error: x", "TASK OK"]}
    failed = ended("unable to create VM 100 - boom", "starting")
    finish_with_warnings(failed, [Warned("WARN: first", counted=True)])
    assert failed["exitstatus"] == "unable to create VM 100 - boom"  # an error stays the task's end
    assert failed["log"] == [
        "starting",
        "WARN: first",
        "unable to create VM 100 - boom",
        "TASK ERROR: unable to create VM 100 - boom",
    ]


def test_outside_a_task_warnings_go_to_the_labs_log(caplog: Any) -> None:
    log_warn("no task here")
    assert "WARN: no task here" in caplog.text
