"""Pure parts of the client: which faults are retried, the backoff, task polling and its verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
import requests

from dynamic_providers.errors import PveApiError, TaskFailed, TaskTimeout
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.retry import RetryPolicy, is_transient, retry_reason, with_retries
from dynamic_providers.pve.tasks import FOLLOW_EVERY, LONG_TASK, Upid, exit_ok, poll_interval, running, wait_task

UPID = "UPID:pve2:00001234:00005678:6B08B6CD:cephcreatemon:mon.pve2:root@pam:"


def api_error(status: int, message: str, html: bool = False) -> PveApiError:
    return PveApiError("POST", "/nodes/pve1/ceph/init", status, message, html=html)


@pytest.mark.parametrize(
    ("exc", "method", "expected"),
    [
        (requests.exceptions.ConnectionError("reset"), "POST", True),  # refused or reset: never reached PVE
        (requests.exceptions.ReadTimeout(), "GET", True),  # a read is safe to repeat
        (requests.exceptions.ReadTimeout(), "POST", False),  # a write may still be running
        (requests.exceptions.SSLError("bad cert"), "GET", False),  # certificates do not heal
        (api_error(595, "No route to host"), "POST", True),  # PVE's proxy could not reach the node
        (api_error(596, "Connection timed out"), "GET", True),
        (api_error(502, "<html>bad gateway</html>", html=True), "POST", True),  # a reverse proxy's page
        (api_error(500, "cfs-lock 'file-ceph_conf' error: got lock request timeout"), "POST", True),
        (api_error(500, "can't lock file '/run/lock/pve-diskmanage.lck' - got timeout"), "POST", True),
        (api_error(500, "'file-ceph_conf'-locked command timed out - aborting"), "POST", False),  # it ran
        (api_error(500, "monitor 'pve1' already exists"), "POST", False),  # a real answer
        # The MONs did not answer a read in time (an election while a MON joins): the read did nothing.
        (api_error(500, "error with 'osd df': mon_cmd failed - timed out"), "GET", True),
        (api_error(500, "rados_connect failed - Connection timed out"), "GET", True),
        (api_error(500, "error with 'osd pool create': mon_cmd failed - timed out"), "POST", False),  # may have run
        (api_error(500, "error with 'osd df': mon_cmd failed - unrecognized pool 'x'"), "GET", False),
        (api_error(400, "Parameter verification failed."), "GET", False),
        (api_error(403, "Permission check failed (user != root@pam)"), "POST", False),
    ],
)
def test_transient_classification(exc: BaseException, method: str, expected: bool) -> None:
    assert is_transient(exc, method) is expected


def test_backoff_is_bounded_and_grows() -> None:
    delays = list(RetryPolicy(attempts=6, first_delay=0.25, factor=2, max_delay=1.0, jitter=0).delays())
    assert delays == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_upid_parse_names_the_task() -> None:
    upid = Upid.parse(UPID)
    assert (upid.node, upid.type, upid.id) == ("pve2", "cephcreatemon", "mon.pve2")
    assert upid.label == "cephcreatemon mon.pve2"


def test_upid_parse_rejects_other_values() -> None:
    with pytest.raises(Exception, match="UPID"):
        Upid.parse(None)


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        ("OK", True),
        ("WARNINGS: 2", True),
        ("monitor address '10.0.0.1' already in use", False),
        ("unexpected status", False),
        (None, False),
    ],
)
def test_exit_status_verdict(status: str | None, ok: bool) -> None:
    assert exit_ok(status) is ok


def test_poll_interval_fast_first_then_backs_off() -> None:
    assert poll_interval(0) <= 0.2 and poll_interval(1.9) <= 0.2
    samples = [poll_interval(t / 10) for t in range(0, 2000)]
    assert samples == sorted(samples)
    assert max(samples) == 2.0


def poll_times(until: float) -> list[float]:
    """When wait_task polls a task's status (elapsed seconds), up to `until`."""
    times, now = [0.0], 0.0
    while now < until:
        now += poll_interval(now)
        times.append(now)
    return times


def test_short_tasks_are_noticed_within_a_tenth_of_a_second_at_the_median() -> None:
    polls = poll_times(3.0)
    ends = [0.3 + i * 0.01 for i in range(171)]  # tasks ending anywhere from 0.3 s to 2.0 s
    delays = sorted(min(t for t in polls if t >= end) - end for end in ends)
    assert delays[len(delays) // 2] <= 0.1
    assert max(delays) <= 0.25


def test_long_tasks_cost_at_most_two_requests_a_second_with_their_log_followed() -> None:
    polls = [t for t in poll_times(120.0) if t >= LONG_TASK]
    for start in range(int(LONG_TASK), 110):
        status = sum(1 for t in polls if start <= t < start + 10) - 1  # n polls in a window span n - 1 intervals
        log_reads = 10 / FOLLOW_EVERY
        assert (status + log_reads) / 10 <= 2.0 + 1e-9, start
    assert len(poll_times(10.0)) <= 30  # a 10 s task: 16 polls in its first 2 s, then 1.5 a second


class FakeTask:
    """A task that stops after `polls` status calls, on a clock that advances by each sleep."""

    def __init__(self, polls: int, exitstatus: str = "OK") -> None:
        self.remaining = polls
        self.exitstatus = exitstatus
        self.now = 0.0
        self.sleeps: list[float] = []

    def status(self, upid: Upid) -> dict[str, Any]:
        self.remaining -= 1
        if self.remaining > 0:
            return {"status": "running"}
        return {"status": "stopped", "exitstatus": self.exitstatus}

    def log(self, upid: Upid) -> list[str]:
        return [f"line {i}" for i in range(30)] + [f"TASK ERROR: {self.exitstatus}"]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def run(task: FakeTask, timeout: float = 60) -> Any:
    return wait_task(
        Upid.parse(UPID),
        status=task.status,
        log_lines=task.log,
        timeout=timeout,
        what="creating mon.pve2",
        sleep=task.sleep,
        clock=task.clock,
    )


def test_wait_task_success_and_warnings() -> None:
    assert run(FakeTask(3)).exitstatus == "OK"
    assert run(FakeTask(1, "WARNINGS: 1")).exitstatus == "WARNINGS: 1"


def test_wait_task_failure_names_task_node_message_and_log_tail() -> None:
    with pytest.raises(TaskFailed) as info:
        run(FakeTask(2, "monitor address '10.0.0.1' already in use"))
    text = str(info.value)
    assert "creating mon.pve2" in text and "cephcreatemon mon.pve2" in text and "node pve2" in text
    assert "already in use" in text and "TASK ERROR" in text
    assert "line 0\n" not in text and "line 29" in text  # only the tail


def test_wait_task_timeout_is_an_error_not_none() -> None:
    task = FakeTask(10_000)
    with pytest.raises(TaskTimeout, match="still running after 5 s"):
        run(task, timeout=5)
    assert 4.9 <= task.now <= 5.0 + 1e-9  # it did not oversleep the deadline


# -- tasks left running by an interrupted run -----------------------------------------------------


def _row(upid_type: str, task_id: str, status: str | None, start: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "upid": f"UPID:pve1:0000{start:04X}:00000000:{start:08X}:{upid_type}:{task_id}:root@pam:",
        "type": upid_type,
        "id": task_id,
        "starttime": start,
    }
    if status is not None:
        row["status"] = status
    return row


def test_running_picks_our_type_and_id_still_running_oldest_first() -> None:
    rows = [
        _row("cephcreatemon", "mon.pve2", "RUNNING", 20),
        _row("cephcreatemon", "mon.pve2", None, 10),  # a lister that leaves the status out of running tasks
        _row("cephcreatemon", "mon.pve2", "OK", 5),  # ended, not archived yet
        _row("cephcreatemon", "mon.pve3", "RUNNING", 30),
        _row("cephdestroymon", "mon.pve2", "RUNNING", 40),
    ]
    assert [Upid.parse(u).raw.split(":")[4] for u in running(rows, "cephcreatemon", "mon.pve2")] == [
        "0000000A",
        "00000014",
    ]
    assert running(rows, "cephcreateosd", "sdb") == []


class _Tasks:
    """A client with two running tasks: the first ends OK, the second fails."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.asked: list[tuple[str, str, bool]] = []
        self.waited: list[str] = []

    def active_tasks(self, node: str, task_type: str, *, vmid: int | None = None, as_root: bool = False) -> Any:
        self.asked.append((node, task_type, as_root))
        return self.rows

    def wait_task(self, upid: str, timeout: float, what: str) -> Any:
        self.waited.append(upid)
        if len(self.waited) == 2:
            raise TaskFailed(what, upid, "pve1", "cephcreateosd sdb", "device busy", [])
        return None


def test_finish_interrupted_waits_for_each_and_reports_a_failure_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [_row("cephcreateosd", "sdb", "RUNNING", 1), _row("cephcreateosd", "sdb", "RUNNING", 2)]
    fake = _Tasks(rows)
    with caplog.at_level("INFO", logger="dynamic_providers.notices"):
        waited = finish_interrupted(cast(PveClient, fake), "pve1", "cephcreateosd", "sdb", "creating", 60, as_root=True)
    assert waited == 2 and fake.waited == [rows[0]["upid"], rows[1]["upid"]]
    assert fake.asked == [("pve1", "cephcreateosd", True)]
    assert "still running" in caplog.text and "failed (device busy)" in caplog.text


def test_finish_interrupted_with_nothing_running_asks_once_and_waits_for_nothing() -> None:
    fake = _Tasks([_row("cephcreateosd", "sdc", "RUNNING", 1)])
    assert finish_interrupted(cast(PveClient, fake), "pve1", "cephcreateosd", "sdb", "creating", 60) == 0
    assert fake.waited == []


def failing(failures: Sequence[BaseException]) -> Any:
    """A call that raises each of `failures` in turn, then answers "done"."""
    left = list(failures)

    def call() -> str:
        if left:
            raise left.pop(0)
        return "done"

    return call


def test_an_unreachable_node_is_waited_for_a_bounded_time_and_each_retry_is_told() -> None:
    policy = RetryPolicy(attempts=3, first_delay=1, max_delay=4, jitter=0, unreachable_for=20)
    slept: list[float] = []
    told: list[tuple[int, str]] = []
    down = [api_error(595, "No route to host") for _ in range(6)]
    result = with_retries(
        failing(down), "POST", "POST /x", policy, slept.append, lambda n, exc, d: told.append((n, retry_reason(exc)))
    )
    assert result == "done"
    assert slept == [1, 2, 4, 4, 4, 4]  # the policy's 2 retries, then max_delay until 20 s were waited
    assert told[0] == (2, "595 No route to host") and told[-1][0] == 7
    # Longer than unreachable_for: PVE's answer after the last try.
    with pytest.raises(PveApiError, match="No route to host"):
        with_retries(failing([api_error(595, "No route to host")] * 9), "POST", "POST /x", policy, slept.append)


def test_other_transient_faults_keep_the_policy_attempts() -> None:
    policy = RetryPolicy(attempts=3, first_delay=1, max_delay=4, jitter=0, unreachable_for=20)
    slept: list[float] = []
    lock = api_error(500, "cfs-lock 'file-ceph_conf' error: got lock request timeout")
    with pytest.raises(PveApiError, match="cfs-lock"):
        with_retries(failing([lock] * 3), "POST", "POST /x", policy, slept.append)
    assert slept == [1, 2]
    assert retry_reason(api_error(502, "<html/>", html=True)) == "502 (a proxy page)"
    assert retry_reason(requests.exceptions.ConnectionError("reset")) == "ConnectionError"
