"""One authenticated HTTP session to the PVE API: proxmoxer's auth and session, our request loop.

proxmoxer builds the session (token header, or ticket cookie plus CSRF header, ticket renewal).
Requests go through `request()` here instead of proxmoxer's `_request`, because PVE's message
is in the JSON body (proxmoxer keeps only the truncated reason phrase), proxy HTML pages must be
told apart from PVE's answers, and every call needs retries and an explicit timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import requests
from proxmoxer import AuthenticationError
from proxmoxer.backends.https import Backend

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import PveApiError, PveAuthError
from dynamic_providers.notices import notice
from dynamic_providers.pve.credentials import Credentials
from dynamic_providers.pve.retry import RetryPolicy, retry_reason, with_retries

Auth = Literal["token", "ticket"]
# (connect, read) seconds. Synchronous Ceph calls can sit behind a 10 s lock plus a 60 s RADOS timeout.
DEFAULT_TIMEOUT = (10.0, 90.0)


class Transport:
    def __init__(
        self,
        creds: Credentials,
        auth: Auth,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._creds = creds
        self._auth: Auth = auth
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        self._session: requests.Session | None = None
        self._base_url = ""

    @contextlib.contextmanager
    def without_unreachable_wait(self) -> Iterator[None]:
        """Calls in the block give up on an unreachable node after the usual tries (the caller has another)."""
        policy = self._policy
        self._policy = dataclasses.replace(policy, unreachable_for=0.0)
        try:
            yield
        finally:
            self._policy = policy

    def request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """Send one API call; returns PVE's `data`. Transient faults are retried per the policy."""
        what = f"{method} {path}"

        def retrying(tries: int, failure: BaseException, delay: float) -> None:
            # Kept in the run's output, so an operator (and bench/faults_up.py) sees what was retried.
            notice(f"retrying {what} after {retry_reason(failure)}: try {tries} in {delay:.1f} s")

        return with_retries(
            lambda: self._once(method, path, _clean(params)), method, what, self._policy, self._sleep, retrying
        )

    def _once(self, method: str, path: str, params: dict[str, Any]) -> Any:
        if method != "GET":
            # No change of any kind (an OSD destroy, a pool or storage delete) for a pulumi run that is
            # gone; checked before every try, retries included (engine_watch.py).
            ensure_engine_alive(f"{method} {path}")
        session = self._connect()
        url = self._base_url + path
        if method in ("GET", "DELETE"):
            response = session.request(method, url, params=params, timeout=self._timeout)
        else:
            response = session.request(method, url, data=params, timeout=self._timeout)
        return parse_response(method, path, response)

    def _connect(self) -> requests.Session:
        """The session, logging in on first use (a ticket login is a request that may be retried too)."""
        if self._session is None:
            creds = self._creds
            try:
                if self._auth == "token" and creds.api_token is not None:
                    backend = Backend(
                        creds.host_port,
                        user=creds.api_token.user,
                        token_name=creds.api_token.name,
                        token_value=creds.api_token.value,
                        verify_ssl=creds.verify,
                        timeout=self._timeout,
                        path_prefix=creds.path_prefix,
                    )
                else:
                    backend = Backend(
                        creds.host_port,
                        user=creds.username,
                        password=creds.password,
                        verify_ssl=creds.verify,
                        timeout=self._timeout,
                        path_prefix=creds.path_prefix,
                    )
            except AuthenticationError as exc:
                if "TFA" in str(exc):
                    raise PveAuthError("POST", "/access/ticket", 401, tfa_message(creds.username)) from exc
                raise PveAuthError(
                    "POST",
                    "/access/ticket",
                    401,
                    f"login as {creds.username} was refused ({exc}); check proxmoxve:password / PROXMOX_VE_PASSWORD",
                ) from exc
            self._session = backend.get_session()
            self._base_url = backend.get_base_url()
        return self._session

    def login_ticket(self) -> tuple[str, str]:
        """(user, ticket) of this ticket session, for what takes the cookie itself (the terminal's websocket)."""
        if self._auth != "ticket":
            raise ValueError("an API token session has no login ticket")
        session = self._connect()
        ticket = session.cookies.get("PVEAuthCookie") or ""
        auth = getattr(session, "auth", None)
        if not ticket and auth is not None and hasattr(auth, "get_tokens"):
            ticket = str(auth.get_tokens()[0])
        return str(self._creds.username), str(ticket)


def tfa_message(username: str | None) -> str:
    """pve-access-control API2/AccessControl.pm: with a second factor on the user, /access/ticket answers the
    password with a partial ticket (`PVE:!tfa!...`, `NeedTFA`) good for nothing but the challenge."""
    return (
        f"{username} has two-factor authentication on: PVE answers its password with a partial ticket (NeedTFA), "
        "and an unattended run has no second factor to give. The root-only steps (the Ceph install terminal, OSD "
        "create and destroy, wiping a disk) need a full root@pam ticket: remove root@pam's second factor on the "
        "automation's cluster (`pveum user tfa delete root@pam`), or do those steps by hand and take them over "
        "with adoptExisting; an API token cannot make those calls"
    )


def parse_response(method: str, path: str, response: requests.Response) -> Any:
    """PVE's `data`, or PveApiError with PVE's full message (or a proxy page's status)."""
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    html = "html" in content_type or text.lstrip().startswith("<")
    if response.status_code >= 400:
        body = _json(text) if not html else None
        message = ""
        errors = None
        if isinstance(body, dict):
            message = str(body.get("message") or "")
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
        message = message or response.reason or ""
        if html and not message:
            message = text.strip()[:200]
        error = PveAuthError if response.status_code == 401 else PveApiError
        raise error(method, path, response.status_code, message, errors, html=html)
    body = _json(text)
    if not isinstance(body, dict):
        raise PveApiError(
            method,
            path,
            response.status_code,
            f"the answer is not PVE's JSON (content type {content_type!r}): {text.strip()[:200]}",
            html=html,
        )
    return body.get("data")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    """Drop unset values; PVE wants booleans as 0/1."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = int(value) if isinstance(value, bool) else value
    return out
