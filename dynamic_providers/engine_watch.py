"""Is the Pulumi engine that asked for the running operation still there? The host's answer, for providers.

`pulumi up` killed by SIGKILL (CI's cancel, the OOM killer, a closed terminal) cannot stop its
plugins: they run in process groups of their own (pulumi's RegisterProcessGroup), so they outlive
it, and before this module a provider went on with a drain and its OSD destroy, unobserved. Two
signals tell a provider the engine is gone, whichever comes first:

- the gRPC call it serves is over: the engine's connection closed (the kernel closes it when the
  engine dies) or the engine cancelled the call (a customTimeout); grpc reports both at once;
- the engine's address stops answering a gRPC health check (what Pulumi's own Go providers and
  language hosts do with `rpcutil.Healthcheck`, sdk/go/common/util/rpcutil/health.go; the engine
  serves grpc.health.v1 from rpcutil.ServeWithOptions). They poll every 5 minutes; we poll every
  second, because an unobserved provider is what we must stop, and one tiny local RPC a second is free.

Providers call `ensure_engine_alive(before=...)` at every safe point: before each poll of a wait,
and (in pve/transport.py) before every request that changes anything. Once the engine is gone it
raises EngineGone, so no new step (an OSD destroy after its drain, a pool or storage delete)
starts for a run nobody watches; the host (host.py) then exits. Outside the host (tests and
scripts calling providers directly) there is no engine to lose, and the check never fires.

Ctrl-C is not "gone": the engine then calls the provider's Cancel and waits for the operations in
flight to finish (Pulumi's rule, which keeps what they did in the state); a second Ctrl-C kills
pulumi, and from there the above applies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import grpc

HEALTH_CHECK = "/grpc.health.v1.Health/Check"  # an empty HealthCheckRequest is zero bytes on the wire
CHECK_EVERY = 1.0  # seconds between health checks of the engine
CHECK_TIMEOUT = 5.0  # a busy engine may be slow; only a refused connection counts as gone
GONE_AFTER = 2  # consecutive refused checks before the engine is taken for gone


class EngineGone(BaseException):
    """The engine that asked for this operation is gone: stop here, start nothing new.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` (or `except
    ProxmoxHciError`) on the way up turns it into a retry or a fallback.
    """


class Health(Enum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # slow or odd answer: neither proof of life nor of death


def probe_engine(channel: grpc.Channel, timeout: float = CHECK_TIMEOUT) -> Health:
    """One gRPC health check of the engine. UNIMPLEMENTED counts as alive, as in rpcutil.Healthcheck."""
    check = channel.unary_unary(HEALTH_CHECK, request_serializer=None, response_deserializer=None)
    try:
        check(b"", timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return Health.ALIVE
        return Health.GONE if code == grpc.StatusCode.UNAVAILABLE else Health.UNKNOWN
    return Health.ALIVE


@dataclass
class Call:
    """The provider RPC running in this thread: whose resource it is, and whether the engine still waits."""

    urn: str
    context: Any = None  # grpc.ServicerContext; None in tests
    ended: threading.Event = field(default_factory=threading.Event)
    last_progress: str = ""  # progress.py: the last message sent, so repeats are not sent again

    def abandoned(self) -> bool:
        if self.ended.is_set():
            return True
        return self.context is not None and not self.context.is_active()


class EngineWatch:
    """The host's view of its engine: the health-check loop, and the calls in flight."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.channel: grpc.Channel | None = None
        self.gone = threading.Event()
        self._local = threading.local()
        self._calls: set[int] = set()
        self._calls_lock = threading.Condition()

    # -- the engine ------------------------------------------------------------------------------

    def attach(self, address: str, interval: float = CHECK_EVERY) -> None:
        """Watch the engine at `address` (the host's first argument) from a daemon thread."""
        self.address = address
        self.channel = grpc.insecure_channel(address)
        channel = self.channel
        threading.Thread(
            target=self.watch, args=(lambda: probe_engine(channel), interval), name="engine-watch", daemon=True
        ).start()

    def watch(self, probe: Callable[[], Health], interval: float) -> None:
        """Probe until the engine is gone (GONE_AFTER refusals in a row), then set `gone`."""
        refused = 0
        while not self.gone.is_set():
            health = probe()
            refused = refused + 1 if health is Health.GONE else 0 if health is Health.ALIVE else refused
            if refused >= GONE_AFTER:
                self.gone.set()
                return
            self.gone.wait(interval)

    # -- the calls -------------------------------------------------------------------------------

    @contextmanager
    def call_scope(self, urn: str, context: Any = None) -> Iterator[Call]:
        call = Call(urn=urn, context=context)
        if context is not None:
            # Runs when the RPC ends for any reason: our return, or the engine's connection closing.
            context.add_callback(call.ended.set)
        previous = getattr(self._local, "call", None)
        self._local.call = call
        with self._calls_lock:
            self._calls.add(id(call))
        try:
            yield call
        finally:
            self._local.call = previous
            with self._calls_lock:
                self._calls.discard(id(call))
                self._calls_lock.notify_all()

    def current_call(self) -> Call | None:
        call: Call | None = getattr(self._local, "call", None)
        return call

    def calls_in_flight(self) -> int:
        with self._calls_lock:
            return len(self._calls)

    def wait_for_calls(self, timeout: float) -> bool:
        """Wait until no call is in flight (each stops at its next safe point); False on timeout."""
        with self._calls_lock:
            return self._calls_lock.wait_for(lambda: not self._calls, timeout)

    def ensure_engine_alive(self, before: str) -> None:
        """Raise EngineGone instead of doing `before` when nobody waits for this operation any more."""
        call = self.current_call()
        if self.gone.is_set():
            why = f"the Pulumi engine at {self.address} no longer answers (pulumi was killed)"
        elif call is not None and call.abandoned():
            why = "the Pulumi engine dropped this call (pulumi was killed, or the operation timed out)"
        else:
            return
        raise EngineGone(f"stopped before {before}: {why}. Nothing more was sent; run `pulumi up` again to carry on")


WATCH = EngineWatch()  # one per provider host process


def ensure_engine_alive(before: str) -> None:
    WATCH.ensure_engine_alive(before)


def current_call() -> Call | None:
    return WATCH.current_call()
