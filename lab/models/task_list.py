"""The node task list PVE answers (pve-manager PVE/API2/Tasks.pm, node_tasks), as pure functions.

fakepve lists every task of the node and applies only `vmid`, `start` and `limit`. PVE lists the
finished ones by default (`source=archive`, the task index), the running ones with `source=active`
(status `RUNNING`), both with `all`, and filters by `typefilter`, `userfilter`, `statusfilter`,
`errors`, `since` and `until`. The providers find what an interrupted run left running with
`source=active&typefilter=...`, so the lab answers that the way PVE does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

STATUS_TYPES = ("ok", "warning", "error", "unknown")


def status_type(status: str | None) -> str:
    """pve-common src/PVE/UPID.pm normalize_status_type: a running task (no status) counts as unknown."""
    if not status:
        return "unknown"
    if status == "OK":
        return "ok"
    if status.startswith("WARNINGS: ") and status.removeprefix("WARNINGS: ").isdigit():
        return "warning"
    if status == "unexpected status":
        return "unknown"
    return "error"


def select(
    tasks: Iterable[dict[str, Any]], node: str, query: dict[str, Any], visible: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The rows PVE lists for `query`, newest first: running ones (if asked) before finished ones.

    Each task is fakepve's record (`status` running|stopped, `exitstatus` once stopped).
    """
    source = query.get("source") or "archive"
    wanted = dict.fromkeys(STATUS_TYPES, True)
    if query.get("statusfilter") is not None and not query.get("errors"):
        chosen = {part.strip().lower() for part in str(query["statusfilter"]).replace(";", ",").split(",")}
        wanted = {kind: kind in chosen for kind in STATUS_TYPES}
    elif query.get("errors"):
        wanted["ok"] = False

    def keep(task: dict[str, Any], status: str | None) -> bool:
        if task["node"] != node or not visible(task):
            return False
        if query.get("userfilter") and str(query["userfilter"]).lower() not in task["user"].lower():
            return False
        if query.get("typefilter") and task["type"] != query["typefilter"]:
            return False
        if query.get("vmid") and task["id"] != str(query["vmid"]):
            return False
        if query.get("since") is not None and task["starttime"] < int(query["since"]):
            return False
        if query.get("until") is not None and task["starttime"] > int(query["until"]):
            return False
        return wanted[status_type(status)]

    newest = sorted(tasks, key=lambda task: -int(task["starttime"]))
    rows: list[dict[str, Any]] = []
    if source in ("active", "all"):
        rows += [
            {**row(task), "status": "RUNNING"} for task in newest if task["status"] == "running" and keep(task, None)
        ]
    if source != "active":
        rows += [row(task) for task in newest if task["status"] == "stopped" and keep(task, task.get("exitstatus"))]
    start = int(query.get("start") or 0)
    limit = int(query["limit"]) if query.get("limit") is not None else 50
    return rows[start : start + limit]


def row(task: dict[str, Any]) -> dict[str, Any]:
    """A task as the list shows it: its UPID's fields, the end time and exit status once it ended."""
    out: dict[str, Any] = {
        k: task[k] for k in ("upid", "node", "pid", "pstart", "starttime", "type", "id", "user") if k in task
    }
    if "!" in out.get("user", ""):
        out["user"], _, out["tokenid"] = out["user"].partition("!")
    if task.get("endtime") is not None:
        out["endtime"] = task["endtime"]
    if task.get("exitstatus") is not None:
        out["status"] = task["exitstatus"]
    return out
