"""The one resource bench.killed_runs deploys: a provider that waits like a drain, then "destroys".

It waits `wait` seconds in the real waiting.wait_until (so under our host it stops at a poll once
the engine is gone), then writes the `marker` file: the destroy that must never run for a killed
pulumi. No PVE: only the engine's processes are measured.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.waiting import wait_until


class Clock:
    """What waiting.wait_until needs of a PveClient: real time."""

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


class DrainThenDestroyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        deadline = time.monotonic() + float(props["wait"])

        def drained() -> tuple[bool, str]:
            left = deadline - time.monotonic()
            return left <= 0, f"{max(0, round(left * 10))} PGs still mapped"

        wait_until(Clock(), drained, 600, "osd.3 to drain")  # type: ignore[arg-type]
        ensure_engine_alive("destroying osd.3")
        Path(props["marker"]).write_text("destroyed")
        return CreateResult("drained", {})


class Drain(Resource):
    """Type pulumi-python:dynamic:Resource."""
