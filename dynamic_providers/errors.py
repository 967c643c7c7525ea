"""Every error the dynamic providers raise, in one place.

Messages name the node and the object, and say what to do next: they are what a user reads in
`pulumi up` output, usually without a traceback.
"""

from __future__ import annotations

from typing import Any


class ProxmoxHciError(Exception):
    """Base class: a failure the providers understood and explained."""


class ConfigError(ProxmoxHciError):
    """The provider's endpoint or credentials are missing or malformed."""


class MissingCredential(ConfigError):
    """A root@pam-only call was attempted without a root@pam password."""


class PveApiError(ProxmoxHciError):
    """PVE (or a proxy in front of it) answered with an HTTP error."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        message: str,
        errors: dict[str, Any] | None = None,
        html: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message.strip()
        self.errors = errors or {}
        self.html = html  # the body was a proxy's HTML page, not PVE's JSON
        detail = "".join(f"\n  {key}: {str(value).strip()}" for key, value in sorted(self.errors.items()))
        super().__init__(f"{method} {path} failed ({status}): {self.message}{detail}")


class PveAuthError(PveApiError):
    """401: the token or password was refused."""


class PveUnreachable(ProxmoxHciError):
    """The API could not be reached, even after retries."""


def _log_tail(lines: list[str]) -> str:
    return "".join(f"\n  | {line}" for line in lines) or " (empty)"


class TaskFailed(ProxmoxHciError):
    """A PVE worker task ended with an error."""

    def __init__(self, what: str, upid: str, node: str, task: str, exitstatus: str, log_tail: list[str]) -> None:
        self.what = what
        self.upid = upid
        self.node = node
        self.task = task
        self.exitstatus = exitstatus
        self.log_tail = log_tail
        super().__init__(
            f"{what}: task {task} on node {node} failed: {exitstatus}\n"
            f"  task {upid}; last lines of its log:{_log_tail(log_tail)}"
        )


class TaskTimeout(ProxmoxHciError):
    """A PVE worker task did not finish in time (it may still be running)."""

    def __init__(self, what: str, upid: str, node: str, task: str, timeout: float, log_tail: list[str]) -> None:
        self.what = what
        self.upid = upid
        self.node = node
        self.task = task
        self.log_tail = log_tail
        super().__init__(
            f"{what}: task {task} on node {node} still running after {timeout:.0f} s; it was left "
            f"running (task {upid}). Last lines of its log:{_log_tail(log_tail)}"
        )


class WaitTimeout(ProxmoxHciError):
    """Live state did not converge in time (quorum, up+in, active+clean, health)."""


class UnsafeToProceed(ProxmoxHciError):
    """A delete or change was refused because it would risk data or availability."""


class AlreadyExists(ProxmoxHciError):
    """Create found the object already there and `adopt` was not set, or it does not match."""


class NotFound(ProxmoxHciError):
    """An object the inputs refer to (a disk, a VM) does not exist."""
