"""The lab's task list answers as PVE's node_tasks does (pve-manager PVE/API2/Tasks.pm)."""

from __future__ import annotations

from typing import Any

from lab.models.task_list import select, status_type


def task(n: int, ttype: str, tid: str, status: str, exitstatus: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "upid": f"UPID:pve1:{n:08X}:00000000:{n:08X}:{ttype}:{tid}:root@pam:",
        "node": extra.pop("node", "pve1"),
        "pid": n,
        "pstart": 0,
        "starttime": n,
        "type": ttype,
        "id": tid,
        "user": extra.pop("user", "root@pam"),
        "status": status,
        **({"exitstatus": exitstatus, "endtime": n + 1} if exitstatus else {}),
    }


TASKS = [
    task(1, "cephcreatemon", "mon.pve1", "stopped", "OK"),
    task(2, "cephcreatemon", "mon.pve2", "running"),
    task(3, "cephcreateosd", "sdb", "stopped", "command 'ceph-volume' failed: exit code 1"),
    task(4, "qmmove", "103", "running", user="root@pam!ci"),
    task(5, "cephcreatemon", "mon.pve3", "running", node="pve3"),
    task(6, "srvstop", "osd.1", "stopped", "WARNINGS: 2"),
]


def upids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["upid"].split(":")[2], 16) for r in rows]


def everyone(_task: dict[str, Any]) -> bool:
    return True


def test_by_default_only_finished_tasks_newest_first_with_their_exit_status() -> None:
    rows = select(TASKS, "pve1", {}, everyone)
    assert upids(rows) == [6, 3, 1]
    assert [r["status"] for r in rows] == ["WARNINGS: 2", "command 'ceph-volume' failed: exit code 1", "OK"]


def test_active_lists_the_running_ones_as_running() -> None:
    rows = select(TASKS, "pve1", {"source": "active"}, everyone)
    assert upids(rows) == [4, 2] and {r["status"] for r in rows} == {"RUNNING"}
    assert "endtime" not in rows[0]


def test_type_vmid_and_user_filters() -> None:
    assert upids(select(TASKS, "pve1", {"source": "active", "typefilter": "cephcreatemon"}, everyone)) == [2]
    assert upids(select(TASKS, "pve1", {"source": "all", "vmid": 103}, everyone)) == [4]
    assert upids(select(TASKS, "pve1", {"source": "all", "userfilter": "!ci"}, everyone)) == [4]


def test_a_token_task_shows_user_and_tokenid_apart() -> None:
    (row,) = select(TASKS, "pve1", {"source": "active", "typefilter": "qmmove"}, everyone)
    assert (row["user"], row["tokenid"]) == ("root@pam", "ci")


def test_errors_and_statusfilter() -> None:
    assert upids(select(TASKS, "pve1", {"errors": 1}, everyone)) == [6, 3]
    assert upids(select(TASKS, "pve1", {"statusfilter": "ok,warning"}, everyone)) == [6, 1]
    # A running task counts as unknown (pve-common src/PVE/UPID.pm normalize_status_type).
    assert upids(select(TASKS, "pve1", {"source": "all", "statusfilter": "unknown"}, everyone)) == [4, 2]


def test_since_until_start_limit_and_visibility() -> None:
    assert upids(select(TASKS, "pve1", {"source": "all", "since": 2, "until": 4}, everyone)) == [4, 2, 3]
    assert upids(select(TASKS, "pve1", {"source": "all", "start": 1, "limit": 2}, everyone)) == [2, 6]
    assert upids(select(TASKS, "pve1", {"source": "all"}, lambda t: "!" in t["user"])) == [4]


def test_status_types() -> None:
    assert [status_type(s) for s in (None, "OK", "WARNINGS: 3", "unexpected status", "boom")] == [
        "unknown",
        "ok",
        "warning",
        "unknown",
        "error",
    ]
