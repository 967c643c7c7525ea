"""bench.orchestration: the summary of a failed run (which lab tasks failed, and how) and the MON join steps."""

from __future__ import annotations

from typing import Any

from bench.chain import LabTask
from bench.orchestration import failed_task_lines, mgr_available_tasks, mon_join_tasks, osd_boot_tasks, osd_ids


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


def test_mon_join_steps_follow_the_creates_the_log_saw_join() -> None:
    creates = [LabTask("cephcreatemon", f"mon.pve{i}", f"pve{i}", float(i), i + 0.5) for i in (1, 2, 3)]
    other = LabTask("cephcreateosd", "sdb", "pve1", 0.0, 9.0)
    joins = mon_join_tasks([*creates, other], {"pve1": 1.2, "pve2": 4.0})
    assert [(j.type, j.id, j.start, j.end) for j in joins] == [
        ("monjoin", "mon.pve1", 1.5, 1.5),  # the first MON is in quorum when its task ends
        ("monjoin", "mon.pve2", 2.5, 4.0),
    ]


def test_osd_boot_steps_follow_the_creates_by_the_ids_the_stack_recorded() -> None:
    resources: list[dict[str, Any]] = [
        {
            "type": "pulumi-python:dynamic/ceph:Osd",
            "inputs": {"node": "pve1"},
            "outputs": {"osd_id": 0, "devpath": "/dev/sdb"},
        },
        {
            "type": "pulumi-python:dynamic/ceph:Osd",
            "inputs": {"node": "pve2"},
            "outputs": {"osd_id": 1, "devpath": "/dev/sdb"},
        },
        {"type": "pulumi-python:dynamic/ceph:Osd", "inputs": {"node": "pve3"}, "outputs": {"osd_id": None}},  # retired
        {"type": "pulumi-python:dynamic/ceph:Pool", "inputs": {"pool_name": "vm-pool"}, "outputs": {}},
    ]
    ids = osd_ids(resources)
    assert ids == {("pve1", "sdb"): 0, ("pve2", "sdb"): 1}
    creates = [LabTask("cephcreateosd", "sdb", f"pve{i}", 1.0, 2.0) for i in (1, 2, 3)]
    boots = osd_boot_tasks(creates, {0: 4.0, 7: 9.0}, ids)
    assert [(b.type, b.node, b.start, b.end) for b in boots] == [("osdboot", "pve1", 2.0, 4.0)]
    mgrs = [
        LabTask("cephcreatemgr", "mgr.pve1", "pve1", 1.0, 1.5),
        LabTask("cephcreatemgr", "mgr.pve2", "pve2", 1.0, 1.4),
    ]
    assert [(a.id, a.end) for a in mgr_available_tasks(mgrs, {"pve1": 6.0})] == [("mgr.pve1", 6.0)]
