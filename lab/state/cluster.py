"""What a PVE cluster knows about itself besides Ceph: installed packages, cluster-FS locks, counters."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from lab.spec import LabSpec

# PVE's releases per major version (pve-ceph-api.md §12) and `pveceph install` repositories.
CEPH_RELEASES = {8: ("quincy", "reef", "squid"), 9: ("squid", "tentacle")}
DEFAULT_RELEASE = {8: "quincy", 9: "squid"}
REPOSITORIES = ("enterprise", "no-subscription", "test")
# cfs locks: 10 s to acquire (PVE::Cluster::cfs_lock).
CFS_LOCK_WAIT = 10.0
# PVE::Tools::lock_file_full default wait, used by the OSD disk lock.
DISK_LOCK_WAIT = 10.0


class LockTimeout(Exception):
    pass


class TimedLock:
    """An asyncio lock whose acquisition gives up after `wait` real seconds, as PVE's locks do."""

    def __init__(self, name: str, wait: float) -> None:
        self.name = name
        self.wait = wait
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._lock.acquire(), self.wait)
        except TimeoutError:
            raise LockTimeout(self.name) from None
        try:
            yield
        finally:
            self._lock.release()


@dataclass
class TaskTimes:
    """Wall-clock start and end of a task's body (the UPID only has whole seconds)."""

    start: float | None = None
    end: float | None = None


@dataclass
class ClusterState:
    spec: LabSpec
    # node -> Ceph release whose packages are installed there
    installed: dict[str, str] = field(default_factory=dict)
    # (method, schema path template) -> requests answered
    request_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    task_times: dict[str, TaskTimes] = field(default_factory=dict)
    _locks: dict[str, TimedLock] = field(default_factory=dict)

    def lock(self, name: str, wait: float) -> TimedLock:
        """The named lock (created on first use, so it binds to the running event loop)."""
        if name not in self._locks:
            self._locks[name] = TimedLock(name, wait)
        return self._locks[name]

    @property
    def ceph_conf_lock(self) -> TimedLock:
        return self.lock("file-ceph_conf", CFS_LOCK_WAIT)

    def disk_lock(self, node: str) -> TimedLock:
        return self.lock(f"diskmanage-{node}", DISK_LOCK_WAIT)

    def install(self, node: str, release: str) -> None:
        self.installed[node] = release

    def is_installed(self, node: str) -> bool:
        return node in self.installed
