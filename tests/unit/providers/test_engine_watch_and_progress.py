"""engine_watch (is the engine still there?), progress, and the shared waits that use both, in process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dynamic_providers import engine_watch
from dynamic_providers.engine_watch import GONE_AFTER, EngineGone, EngineWatch, Health
from dynamic_providers.errors import PveApiError
from dynamic_providers.progress import MAX_CHARS, Every, one_line, progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.tasks import FOLLOW_AFTER, FOLLOW_EVERY, FOLLOW_LINES, LogFollower, Upid, wait_task
from dynamic_providers.waiting import wait_until

UPID = Upid.parse("UPID:pve1:00001234:00005678:6B08B6CD:cephcreateosd:sdb:root@pam:")


class FakeContext:
    """The part of grpc.ServicerContext the call scope uses."""

    def __init__(self) -> None:
        self.active = True
        self.callbacks: list[Any] = []

    def is_active(self) -> bool:
        return self.active

    def add_callback(self, callback: Any) -> bool:
        self.callbacks.append(callback)
        return True

    def drop(self) -> None:
        """What grpc does when the engine's connection closes: inactive, callbacks run."""
        self.active = False
        for callback in self.callbacks:
            callback()


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineWatch]:
    fresh = EngineWatch()
    monkeypatch.setattr(engine_watch, "WATCH", fresh)
    yield fresh


# -- the engine's health ----------------------------------------------------------------------------


def probes(*answers: Health) -> Any:
    it = iter(answers)
    return lambda: next(it)


def test_gone_after_consecutive_refusals_only(watch: EngineWatch) -> None:
    watch.watch(probes(Health.GONE, Health.ALIVE, Health.GONE, Health.UNKNOWN, Health.GONE), interval=0)
    assert watch.gone.is_set()  # GONE, UNKNOWN, GONE: a slow answer neither proves life nor resets the count


def test_a_slow_engine_is_not_taken_for_gone(watch: EngineWatch) -> None:
    answers = [Health.GONE, Health.ALIVE] * 3 + [Health.UNKNOWN] * 3

    def probe() -> Health:
        if not answers:
            watch.gone.set()  # end the loop; what matters is that it did not decide by itself
            return Health.ALIVE
        return answers.pop(0)

    watch.watch(probe, interval=0)
    assert not answers and GONE_AFTER == 2


def test_probe_reads_grpc_status_codes() -> None:
    import grpc

    from dynamic_providers.engine_watch import probe_engine

    with grpc.insecure_channel("127.0.0.1:1") as channel:  # nothing listens on port 1
        assert probe_engine(channel, timeout=2) is Health.GONE


# -- the guard --------------------------------------------------------------------------------------


def test_outside_the_host_the_guard_never_fires(watch: EngineWatch) -> None:
    engine_watch.ensure_engine_alive("deleting the pool")  # no call scope, no engine: nothing to lose


def test_a_dropped_call_refuses_its_next_step(watch: EngineWatch) -> None:
    context = FakeContext()
    with watch.call_scope("urn:x", context):
        engine_watch.ensure_engine_alive("waiting")
        context.drop()
        with pytest.raises(EngineGone, match="stopped before DELETE /storage/ceph-vm: the Pulumi engine dropped"):
            engine_watch.ensure_engine_alive("DELETE /storage/ceph-vm")


def test_a_gone_engine_refuses_every_call(watch: EngineWatch) -> None:
    watch.address = "127.0.0.1:4242"
    watch.gone.set()
    with watch.call_scope("urn:x", FakeContext()), pytest.raises(EngineGone, match=r"127\.0\.0\.1:4242 no longer"):
        engine_watch.ensure_engine_alive("destroying osd.3")


def test_engine_gone_is_not_swallowed_by_except_exception() -> None:
    assert not issubclass(EngineGone, Exception)


def test_calls_in_flight_are_counted_and_awaited(watch: EngineWatch) -> None:
    entered, leave = threading.Event(), threading.Event()

    def call() -> None:
        with watch.call_scope("urn:y"):
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=call)
    thread.start()
    entered.wait(5)
    assert watch.calls_in_flight() == 1 and not watch.wait_for_calls(0.05)
    leave.set()
    assert watch.wait_for_calls(5) and watch.calls_in_flight() == 0
    thread.join()


# -- the write guard in the transport, against fakepve ---------------------------------------------


def test_no_write_reaches_pve_once_the_call_is_dropped(client: PveClient, watch: EngineWatch, seen: Any) -> None:
    context = FakeContext()
    with watch.call_scope("urn:storage", context):
        client.storage_list()  # a read
        context.drop()
        with pytest.raises(EngineGone):
            client.storage_delete("ceph-vm")
    assert seen("DELETE") == [] and seen("GET", "/storage") == [("GET", "/storage")]


# -- progress ---------------------------------------------------------------------------------------


def test_progress_outside_the_host_is_logged(watch: EngineWatch, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dynamic_providers.progress"):
        progress("waiting for Ceph reaching HEALTH_OK: 12/64 PGs active+clean")
    assert [r.getMessage() for r in caplog.records] == ["waiting for Ceph reaching HEALTH_OK: 12/64 PGs active+clean"]


def test_progress_is_one_readable_line() -> None:
    assert one_line("  move disk\n\n  transferred 1.0 GiB of 4.0 GiB (25.00%)\n") == (
        "move disk | transferred 1.0 GiB of 4.0 GiB (25.00%)"
    )
    long = one_line("x" * 1000)
    assert len(long) == MAX_CHARS and long.endswith("…")


def test_every_throttles() -> None:
    now = [0.0]
    every = Every(1.0, lambda: now[0])
    seen = []
    for t in (0.0, 0.4, 0.9, 1.0, 1.5, 2.1):
        now[0] = t
        seen.append(every.due())
    assert seen == [True, False, False, True, False, True]


# -- the shared waits report ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_until_reports_what_it_sees(monkeypatch: pytest.MonkeyPatch, watch: EngineWatch) -> None:
    reported: list[str] = []
    monkeypatch.setattr("dynamic_providers.waiting.progress", reported.append)
    client = FakeClock()
    states = iter([(False, f"{n}/64 PGs active+clean") for n in range(0, 64, 4)] + [(True, "64/64")])
    wait_until(client, lambda: next(states), 600, "Ceph reaching HEALTH_OK")  # type: ignore[arg-type]
    assert reported[0] == "waiting for Ceph reaching HEALTH_OK: 0/64 PGs active+clean"
    assert 1 < len(reported) < 16  # throttled to one a second, polls come faster
    assert all(r.startswith("waiting for Ceph reaching HEALTH_OK: ") for r in reported)


def test_wait_until_stops_at_its_next_poll_once_dropped(watch: EngineWatch) -> None:
    context = FakeContext()
    polls = []

    def probe() -> tuple[bool, str]:
        polls.append(1)
        if len(polls) == 3:
            context.drop()
        return False, "draining"

    with watch.call_scope("urn:z", context), pytest.raises(EngineGone, match=r"waiting for osd\.3 to drain"):
        wait_until(FakeClock(), probe, 600, "osd.3 to drain")  # type: ignore[arg-type]
    assert len(polls) == 3


# -- task logs, followed ----------------------------------------------------------------------------


class TaskLog:
    """A task log that grows; read_from honours PVE's start offset."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.reads: list[int] = []

    def read_from(self, upid: Upid, start: int) -> list[str]:
        self.reads.append(start)
        return self.lines[start : start + 50] or (["no content"] if not self.lines else [])


def test_follower_shows_only_new_lines_and_waits_before_reading() -> None:
    log, shown = TaskLog(), list[str]()
    follower = LogFollower(UPID, log.read_from, shown.append)
    follower.poll(0.5)
    assert log.reads == []  # young tasks cost no request
    follower.poll(FOLLOW_AFTER)
    assert shown == [] and follower.seen == 0  # PVE's "no content" placeholder is no line
    log.lines += ["create OSD on /dev/sdb (bluestore)", "wiping block device /dev/sdb"]
    follower.poll(FOLLOW_AFTER + FOLLOW_EVERY / 2)  # throttled
    follower.poll(FOLLOW_AFTER + FOLLOW_EVERY)
    log.lines += ["Running command: /usr/sbin/ceph-volume lvm create"]
    follower.poll(FOLLOW_AFTER + 2 * FOLLOW_EVERY)
    assert shown == [
        "cephcreateosd sdb: create OSD on /dev/sdb (bluestore)",
        "cephcreateosd sdb: wiping block device /dev/sdb",
        "cephcreateosd sdb: Running command: /usr/sbin/ceph-volume lvm create",
    ]
    assert log.reads == [0, 0, 2]


def test_follower_summarises_a_burst() -> None:
    log, shown = TaskLog(), list[str]()
    log.lines = [f"line {n}" for n in range(1, 21)]
    LogFollower(UPID, log.read_from, shown.append).poll(FOLLOW_AFTER)
    assert shown[0] == f"cephcreateosd sdb: ... {20 - FOLLOW_LINES} more log lines"
    assert shown[1:] == [f"cephcreateosd sdb: line {n}" for n in range(21 - FOLLOW_LINES, 21)]


def test_follower_shrugs_off_an_unreadable_log() -> None:
    def broken(upid: Upid, start: int) -> list[str]:
        raise PveApiError("GET", "/nodes/pve1/tasks/x/log", 500, "boom")

    LogFollower(UPID, broken, pytest.fail).poll(FOLLOW_AFTER)


def test_wait_task_follows_a_long_tasks_log(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr("dynamic_providers.pve.tasks.progress", shown.append)
    clock = FakeClock()
    log = TaskLog()

    def status(upid: Upid) -> dict[str, Any]:
        log.lines.append(f"at {clock.now:.1f}s")
        return {"status": "stopped", "exitstatus": "OK"} if clock.now > 10 else {"status": "running"}

    result = wait_task(
        UPID,
        status=status,
        log_lines=lambda upid: log.lines,
        timeout=60,
        what="creating an OSD",
        sleep=clock.sleep,
        clock=clock.clock,
        log_from=log.read_from,
    )
    assert result.exitstatus == "OK"
    assert shown and all(s.startswith("cephcreateosd sdb: ") for s in shown)
    assert len(log.reads) <= 10 / FOLLOW_EVERY + 1  # throttled, not one read per status poll
