"""Waiting for something a lab or Ceph does in its own time, with a deadline and a message that says what."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float = 60.0,
    interval: float = 0.25,
    ignore: tuple[type[BaseException], ...] = (),
) -> Any:
    """Call check until it returns something truthy, and return that; fail after timeout seconds.

    Exceptions of the `ignore` types count as "not yet" (a daemon that is still starting).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except ignore:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_task(api: Any, upid: str, timeout: float = 120.0) -> tuple[str, list[str]]:
    """Wait for a PVE task through the API; returns its exit status and log lines."""
    node = upid.split(":")[1]
    status = wait_for(
        f"task {upid}",
        lambda: (s := api.nodes(node).tasks(upid).status.get())["status"] == "stopped" and s,
        timeout,
        interval=0.1,
    )
    return status["exitstatus"], [line["t"] for line in api.nodes(node).tasks(upid).log.get()]
