"""PVE's cluster-wide locks as the lab needs them: asyncio locks that give up after a wait, as PVE's do.

These are the only models that hold event-loop objects: each lock is created on first use, so it
binds to the loop the server runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

# cfs locks: 10 s to acquire (pve-cluster src/PVE/Cluster.pm cfs_lock).
CFS_LOCK_WAIT = 10.0
CFS_MAX_PAUSE = 1.0  # cfs_lock's longest sleep between two tries: min(remaining s, 10) x 100 ms
# The OSD disk lock (pve-storage src/PVE/Diskmanage.pm locked_disk_action, over pve-common
# src/PVE/Tools.pm lock_file, whose default wait is 10 s).
DISK_LOCK_WAIT = 10.0

T = TypeVar("T")


class LockTimeout(Exception):
    pass


@dataclass
class LockWaits:
    """The seconds a task spent waiting for locks: the bench's yardstick counts a task's work without them."""

    seconds: float = 0.0


# The running task's tally (each asyncio task has its own context); None outside a counted task.
_waits: ContextVar[LockWaits | None] = ContextVar("lock_waits", default=None)


@contextlib.contextmanager
def counting_waits() -> Iterator[LockWaits]:
    """Around a task's body: the time its lock acquisitions waited, added up."""
    waits = LockWaits()
    token = _waits.set(waits)
    try:
        yield waits
    finally:
        _waits.reset(token)


def cfs_pause(slept: float, timeout: float) -> float | None:
    """Seconds pve-cluster's cfs_lock sleeps after a try that found the lock taken, having slept `slept`
    seconds so far; None when it gives up instead ("got lock request timeout").

    src/PVE/Cluster.pm cfs_lock: each try is a mkdir of the lock directory; after a failed one it
    sleeps min(remaining, 10) x 100 ms, remaining = max(timeout - whole seconds slept, 1), and dies
    once the whole seconds slept would reach the timeout. So a waiter tries about once a second,
    and takes a lock freed between its tries only at its next one.
    """
    remaining = max(timeout - int(slept), 1)
    pause = min(remaining, 10) * CFS_MAX_PAUSE / 10
    return None if int(slept + pause) >= timeout else pause


class TimedLock:
    """An asyncio lock whose acquisition gives up after `wait` real seconds, as PVE's locks do.

    `polled`: taken as pve-cluster's cfs locks are, by tries between pauses (cfs_pause), not handed to
    the next waiter the moment it is freed, as a flock (pve-common PVE::Tools lock_file) is.
    """

    def __init__(self, name: str, wait: float, polled: bool = False) -> None:
        self.name = name
        self.wait = wait
        self.polled = polled
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Take the lock, or LockTimeout after `wait` seconds; the wait counts for the running task."""
        began = time.monotonic()
        try:
            if self.polled:
                await self._tries(began)
            else:
                await asyncio.wait_for(self._lock.acquire(), self.wait)
        except TimeoutError:
            raise LockTimeout(self.name) from None
        finally:
            waits = _waits.get()
            if waits is not None:
                waits.seconds += time.monotonic() - began

    async def _tries(self, began: float) -> None:
        while self._lock.locked():  # the mkdir fails
            pause = cfs_pause(time.monotonic() - began, self.wait)
            if pause is None:
                raise LockTimeout(self.name)
            await asyncio.sleep(pause)
        await self._lock.acquire()  # free and nobody queued on it: taken at once, as the mkdir

    def release(self) -> None:
        self._lock.release()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def run(self, body: Callable[[], Awaitable[T]], on_timeout: Exception) -> T:
        """`body` under the lock; `on_timeout` (PVE's words for it) when the lock is not had in time."""
        try:
            async with self.hold():
                return await body()
        except LockTimeout:
            raise on_timeout from None


class ClusterLocks:
    """The named locks of one lab: the cfs locks on ceph.conf and on each shared storage, each node's disk lock."""

    def __init__(self) -> None:
        self._locks: dict[str, TimedLock] = {}
        self._holders: set[asyncio.Future[None]] = set()  # held_by_another's tasks, kept until done

    def lock(self, name: str, wait: float, polled: bool = False) -> TimedLock:
        """The named lock (created on first use, so it binds to the running event loop)."""
        if name not in self._locks:
            self._locks[name] = TimedLock(name, wait, polled)
        return self._locks[name]

    async def held_by_another(self, lock: TimedLock, secs: float) -> None:
        """Another client takes `lock` now and keeps it `secs` seconds (the lab's "ceph.conf locked"
        fault); returns once it is held. LockTimeout if it cannot be had in the lock's wait."""
        taken = asyncio.Event()

        async def hold() -> None:
            async with lock.hold():
                taken.set()
                await asyncio.sleep(secs)

        holder = asyncio.ensure_future(hold())
        self._holders.add(holder)
        holder.add_done_callback(self._holders.discard)
        waiter = asyncio.ensure_future(taken.wait())
        done, _ = await asyncio.wait({holder, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if holder in done:
            holder.result()

    @property
    def ceph_conf(self) -> TimedLock:
        return self.lock("file-ceph_conf", CFS_LOCK_WAIT, polled=True)

    def storage(self, sid: str) -> TimedLock:
        """A shared storage's allocation lock (pve-cluster src/PVE/Cluster.pm cfs_lock_storage)."""
        return self.lock(f"storage-{sid}", CFS_LOCK_WAIT, polled=True)

    def disk(self, node: str) -> TimedLock:
        return self.lock(f"diskmanage-{node}", DISK_LOCK_WAIT)
