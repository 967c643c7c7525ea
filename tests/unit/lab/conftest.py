"""The lab's unit tests run asyncio code with asyncio.run, which leaves the main thread without an event
loop; Pulumi's mocks (tests/unit/program) ask for the current one. Each test here hands back a fresh
policy, so whatever runs next finds what a new process would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_event_loop_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)
