"""Which failures are worth another try, and how long to wait between tries. Pure.

Only faults that say nothing about the request itself are retried: the network, PVE's own
proxy between nodes (595/596), a reverse proxy's HTML error page, a lock that could not be
acquired in time (the locked operation never ran), and a read the MONs did not answer in time (a
MON election, e.g. while a MON joins: `error with 'osd df': mon_cmd failed - timed out`, PVE's
RADOS timeout being 5 s). A 4xx, or any other 5xx that carries PVE's JSON message, is a real
answer and is never retried.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import requests

from dynamic_providers.errors import PveApiError, PveUnreachable

T = TypeVar("T")

# PVE's proxy: 595 connection establishment failed, 596 TLS/request sending failed (AnyEvent::HTTP).
PROXY_STATUSES = frozenset({595, 596})
# Lock acquisition timeouts: cfs `cfs-lock 'file-ceph_conf' error: got lock request timeout`,
# flock `can't lock file '/run/lock/pve-diskmanage.lck' - got timeout`. The operation did not run.
# (A held lock that ran too long, "-locked command timed out - aborting", is NOT here.)
LOCK_TIMEOUT = re.compile(r"(cfs-lock '[^']+' error: got lock request timeout|can't lock file '[^']+' - got timeout)")
# PVE::RADOS's wording for MONs that did not answer (pve-ceph-api.md, "RADOS errors"): a mon command
# (`mon_cmd failed`, `mon_command failed` in older builds) or the connection itself timed out.
MON_TIMEOUT = re.compile(r"\b(mon_cmd|mon_command|rados_connect) failed - .*timed out")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    first_delay: float = 0.25  # seconds before the second try
    factor: float = 2.0
    max_delay: float = 4.0
    jitter: float = 0.2  # +- this fraction, so parallel providers do not retry in lockstep
    # PVE's proxy could not reach the node (595/596): a node rebooting or its pvedaemon restarting is
    # back within a minute or two, so these go on at max_delay until this many seconds have passed.
    unreachable_for: float = 120.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits between tries: attempts - 1 of them, growing, capped."""
        rand = rng or random.Random()
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            yield min(self.max_delay, delay) * (1 + rand.uniform(-self.jitter, self.jitter))
            delay *= self.factor


def is_lock_timeout(message: str) -> bool:
    return bool(LOCK_TIMEOUT.search(message or ""))


def is_transient(exc: BaseException, method: str) -> bool:
    """Would trying the same request again be safe and possibly succeed?"""
    if isinstance(exc, PveApiError):
        if exc.status in PROXY_STATUSES:
            return True
        if exc.status >= 500 and exc.html:  # a reverse proxy's page: PVE never answered
            return True
        if exc.status >= 500 and method == "GET" and MON_TIMEOUT.search(exc.message or ""):
            return True  # a read that did nothing: safe to repeat once the MONs answer again
        return exc.status >= 500 and is_lock_timeout(exc.message)
    if isinstance(exc, requests.exceptions.SSLError):  # a certificate problem does not heal
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):  # refused, reset, DNS
        return True
    # A read timeout on a write may mean PVE is still doing it: only reads are repeated.
    return isinstance(exc, requests.exceptions.Timeout) and method == "GET"


def retry_reason(exc: BaseException) -> str:
    """A retried failure in a few words, for the operator's output."""
    if isinstance(exc, PveApiError):
        return f"{exc.status} {'(a proxy page)' if exc.html else exc.message}"
    return type(exc).__name__


def with_retries(
    call: Callable[[], T],
    method: str,
    what: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run call(); repeat it after transient failures, as the policy allows.

    A node PVE's proxy cannot reach (595/596) is waited for until `policy.unreachable_for` seconds
    of waits have passed, however many tries that takes. `on_retry(try_number, failure, delay)` is
    told of each retry before its wait. A final transport failure becomes PveUnreachable; a final PVE
    answer is re-raised as is.
    """
    delays = policy.delays()
    waited = 0.0
    tries = 1
    while True:
        try:
            return call()
        except (PveApiError, requests.exceptions.RequestException) as exc:
            delay = next(delays, None) if is_transient(exc, method) else None
            unreachable = isinstance(exc, PveApiError) and exc.status in PROXY_STATUSES
            if delay is None and unreachable and waited < policy.unreachable_for:
                delay = policy.max_delay
            if delay is None:
                if isinstance(exc, requests.exceptions.RequestException):
                    tried = f" after {tries} tries" if is_transient(exc, method) else ""
                    raise PveUnreachable(f"{what}: {type(exc).__name__}{tried}: {exc}") from exc
                raise
            tries += 1
            if on_retry is not None:
                on_retry(tries, exc, delay)
            sleep(delay)
            waited += delay
