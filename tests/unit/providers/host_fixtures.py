"""Providers for the provider-host tests: each does one thing the host must treat right.

Importable by name, so the host (a separate process, started in the repository) unpickles them
by reference, as it does our real providers. They need no PVE: their `props` say what to do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import UnsafeToProceed
from dynamic_providers.progress import progress
from dynamic_providers.waiting import wait_until

REFUSAL = (
    "refusing to remove osd.3 on pve1: its data has nowhere to go (2 hosts with in OSDs, pool vm-pool needs 3). "
    "Ceph says: OSD(s) 3 have 12 pgs currently mapped to them. Add an OSD on another host first."
)


class Fixture(Resource):
    """A dynamic resource for any provider here (type pulumi-python:dynamic:Resource)."""


class RefusingProvider(ResourceProvider):
    """Raises our own error, the way osd_drain refuses."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        raise UnsafeToProceed(REFUSAL)


class BuggyProvider(ResourceProvider):
    """Has a bug: a genuine Python exception that is no ProxmoxHciError."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        sizes: dict[str, int] = {}
        return CreateResult("x", {"size": sizes[props["pool"]]})  # KeyError


class ChattyProvider(ResourceProvider):
    """Reports progress while it works."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        for step in range(1, 4):
            progress(f"step {step} of 3")
            time.sleep(0.2)
        return CreateResult("chatty", {})


class Clock:
    """What waiting.wait_until needs of a PveClient: real time."""

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


class DrainThenDestroyProvider(ResourceProvider):
    """Waits `wait` seconds in the real waiting.wait_until, then 'destroys': writes the marker file.

    The destroy must never happen once the engine dropped the call.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        deadline = time.monotonic() + float(props["wait"])

        def drained() -> tuple[bool, str]:
            left = deadline - time.monotonic()
            return left <= 0, f"{max(0, round(left * 10))} PGs still mapped"

        wait_until(Clock(), drained, 600, "osd.3 to drain")  # type: ignore[arg-type]
        ensure_engine_alive("destroying osd.3")
        Path(props["marker"]).write_text("destroyed")
        return CreateResult("drained", {})


class RendezvousProvider(ResourceProvider):
    """Arrives (a file in `room`), then waits up to 20 s for `expected` calls to have arrived.

    All of them meet only if the host serves them at once; the answer says how many it saw.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        room = Path(props["room"])
        (room / f"{time.monotonic_ns()}-{id(self)}").touch()
        deadline = time.monotonic() + 20.0
        while len(list(room.iterdir())) < int(props["expected"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return CreateResult("met", {"saw": len(list(room.iterdir()))})
