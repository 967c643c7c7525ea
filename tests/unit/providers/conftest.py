"""Fixtures for the provider unit tests: credentials for fakepve, and a client that records its sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import Credentials
from dynamic_providers.pve.retry import RetryPolicy

TOKEN_SECRET = "0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff"


class Sleeps(list[float]):
    """Stands in for time.sleep: records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def token_creds(fakepve: Any, fakepve_cafile: str) -> Credentials:
    """Only an API token, as most stacks configure it."""
    fakepve.apitokens["root@pam!ci"] = TOKEN_SECRET
    return Credentials(endpoint=fakepve.url, api_token=_token(), ca_bundle=fakepve_cafile)


@pytest.fixture
def full_creds(fakepve: Any, fakepve_cafile: str) -> Credentials:
    """The token plus a root@pam password, for the root-only calls."""
    fakepve.apitokens["root@pam!ci"] = TOKEN_SECRET
    return Credentials(
        endpoint=fakepve.url, api_token=_token(), username="root@pam", password="secret", ca_bundle=fakepve_cafile
    )


@pytest.fixture
def client(token_creds: Credentials, sleeps: Sleeps) -> PveClient:
    return PveClient(token_creds, policy=RetryPolicy(attempts=4, jitter=0), sleep=sleeps)


def _token() -> Any:
    from dynamic_providers.pve.credentials import parse_token

    return parse_token(f"root@pam!ci={TOKEN_SECRET}")


@pytest.fixture
def seen(fakepve: Any) -> Any:
    """seen(method=None, suffix="") -> the (method, path) pairs fakepve received under /api2/json."""

    def requests(method: str | None = None, suffix: str = "") -> list[tuple[str, str]]:
        out = []
        for req_method, path, _body in fakepve.requests:
            path = path.removeprefix("/api2/json")
            if (method is None or req_method == method) and path.endswith(suffix):
                out.append((req_method, path))
        return out

    return requests
