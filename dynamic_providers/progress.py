"""Live progress from a provider method into `pulumi up`'s output, on the row of its resource.

`progress(message)` sends the message to the engine's log service (pulumirpc.Engine/Log, at the
address the engine gave the provider host) with the URN of the resource whose operation runs in
this thread, as an *ephemeral* (status) message: the engine turns it into a diagnostic event for
that resource (pkg/host/host_server.go Log -> LogStatus), and the display shows it at once as the
resource's status, on its own line in non-interactive output (CI logs) and in the row's info
column in a terminal (pkg/backend/display/rows.go getInfoColumn). Status messages are not
repeated in the final "Diagnostics:" section, which keeps that for errors and warnings.

The Python SDK's own `pulumi.log` cannot do this from a dynamic provider: the provider host has
no engine configured for it and no URN. Outside the host (integration tests, scripts) messages go
to the `dynamic_providers.progress` logger instead.

Callers throttle (`Every`); progress() itself only drops a message equal to the previous one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from dynamic_providers import engine_watch

log = logging.getLogger(__name__)

MAX_CHARS = 240  # the display cuts a status at its first newline; a long line is unreadable anyway
LOG_TIMEOUT = 5.0


def progress(message: str) -> None:
    """Show `message` now, as the status of the resource being created/updated/deleted in this thread."""
    text = one_line(message)
    call = engine_watch.current_call()
    channel = engine_watch.WATCH.channel
    if call is None or not call.urn or channel is None:
        log.info("%s", text)
        return
    if text == call.last_progress:
        return
    call.last_progress = text
    request = engine_pb2.LogRequest(severity=engine_pb2.INFO, message=text, urn=call.urn, ephemeral=True)
    try:
        engine_pb2_grpc.EngineStub(channel).Log(request, timeout=LOG_TIMEOUT)
    except grpc.RpcError as exc:  # progress is best effort; a gone engine is engine_watch's business
        log.debug("progress not delivered: %s", exc)


def warn(message: str) -> None:
    """A warning of the resource whose call runs in this thread, kept by the engine: the display lists it
    under the resource in "Diagnostics:" (the same Log RPC, not ephemeral). Used by diff, so that a
    preview says what an update will do that its property diff cannot show. Outside the host: the
    `dynamic_providers.progress` logger."""
    text = " ".join(message.split())
    call = engine_watch.current_call()
    channel = engine_watch.WATCH.channel
    if call is None or not call.urn or channel is None:
        log.warning("%s", text)
        return
    request = engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=text, urn=call.urn, ephemeral=False)
    try:
        engine_pb2_grpc.EngineStub(channel).Log(request, timeout=LOG_TIMEOUT)
    except grpc.RpcError as exc:  # the plan itself is unchanged; the warning is best effort
        log.warning("%s (not delivered to the engine: %s)", text, exc)


def one_line(message: str) -> str:
    text = " | ".join(part.strip() for part in message.strip().splitlines() if part.strip())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


class Every:
    """A throttle: `due()` is true at most once every `seconds` (the first call included)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True
