"""bench.orchestration's summary of a failed run: which lab tasks failed, and how."""

from __future__ import annotations

from typing import Any

from bench.orchestration import failed_task_lines


def test_failed_tasks_are_counted_by_type_and_status_most_frequent_first() -> None:
    lock = "cfs-lock 'storage-ceph-vm' error: got lock request timeout"
    tasks: list[dict[str, Any]] = [
        {"type": "qmcreate", "exitstatus": lock},
        {"type": "cephcreateosd", "exitstatus": "OK"},
        {"type": "qmcreate", "exitstatus": lock},
        {"type": "qmstart", "exitstatus": "WARNINGS: 1"},
        {"type": "cephcreatemon", "exitstatus": "command 'ceph-mon --mkfs' failed: exit code 1"},
        {"type": "qmcreate", "exitstatus": None},  # still running
    ]
    assert failed_task_lines(tasks) == [
        f"2 x qmcreate: {lock}",
        "1 x cephcreatemon: command 'ceph-mon --mkfs' failed: exit code 1",
    ]


def test_a_run_without_failed_tasks_says_so() -> None:
    assert failed_task_lines([{"type": "qmcreate", "exitstatus": "OK"}]) == ["none"]
