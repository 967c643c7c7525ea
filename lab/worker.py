"""Blocking Ceph work from the event loop: run it in a worker thread, and end the PVE task it belongs to
with the failure's message, as PVE's fork_worker prints a die (pve-common src/PVE/RESTEnvironment.pm)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from lab.ceph_backend.errors import CephBackendError
from lab.ceph_backend.rados_client import RadosError
from lab.errors import TaskError

T = TypeVar("T")

# How the backend fails: Ceph said no, the lab could not do its part, or the machine refused (files, processes).
BACKEND_FAILURES = (CephBackendError, RadosError, OSError)


def one_line(exc: BaseException) -> str:
    """The message as a task's exit status shows it: on one line."""
    return " ".join(str(exc).split())


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking backend work in a thread; a backend failure ends the task with its message."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except BACKEND_FAILURES as exc:
        raise TaskError(one_line(exc)) from exc
