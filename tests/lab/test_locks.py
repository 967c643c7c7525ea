"""The lab's cluster locks (lab/models/locks.py): cfs locks taken by tries between pauses, as pve-cluster's."""

from __future__ import annotations

import asyncio
import time

import pytest

from lab.models.locks import CFS_LOCK_WAIT, LockTimeout, TimedLock, cfs_pause


def test_cfs_lock_pauses_follow_pve_clusters_schedule() -> None:
    """src/PVE/Cluster.pm cfs_lock: min(remaining, 10) x 100 ms, remaining counted in whole seconds slept."""
    assert cfs_pause(0.0, CFS_LOCK_WAIT) == pytest.approx(1.0)
    assert cfs_pause(1.0, CFS_LOCK_WAIT) == pytest.approx(0.9)
    assert cfs_pause(5.4, CFS_LOCK_WAIT) == pytest.approx(0.5)
    assert cfs_pause(9.5, CFS_LOCK_WAIT) == pytest.approx(0.1)  # remaining is never below 1 s
    assert cfs_pause(9.95, CFS_LOCK_WAIT) is None  # the next pause would reach 10 whole seconds
    assert cfs_pause(0.0, 1.0) == pytest.approx(0.1) and cfs_pause(0.95, 1.0) is None


async def taken_at(lock: TimedLock, freed_after: float) -> float:
    """Seconds until a waiter has `lock`, which another holds and frees after `freed_after` s."""
    await lock.acquire()
    began = time.monotonic()

    async def free_later() -> None:
        await asyncio.sleep(freed_after)
        lock.release()

    freeing = asyncio.ensure_future(free_later())
    await lock.acquire()
    took = time.monotonic() - began
    lock.release()
    await freeing
    return took


def test_a_freed_cfs_lock_goes_to_a_waiter_at_its_next_try_a_flock_at_once() -> None:
    polled = asyncio.run(taken_at(TimedLock("storage-ceph-vm", CFS_LOCK_WAIT, polled=True), 0.2))
    assert 0.95 <= polled < 1.4  # freed at 0.2 s, tried again after its first pause of 1 s
    handed = asyncio.run(taken_at(TimedLock("diskmanage-pve1", 10.0), 0.2))
    assert 0.15 <= handed < 0.5


def test_a_cfs_lock_not_had_in_time_times_out() -> None:
    async def wait_on_held() -> float:
        lock = TimedLock("file-ceph_conf", 1.0, polled=True)
        await lock.acquire()
        began = time.monotonic()
        with pytest.raises(LockTimeout):
            await lock.acquire()
        return time.monotonic() - began

    assert 0.8 <= asyncio.run(wait_on_held()) < 1.3  # ten 0.1 s pauses: the whole seconds reach 1
