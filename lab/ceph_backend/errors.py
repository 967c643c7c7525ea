"""The two ways the Ceph layer fails: Ceph said no (`CephCommandError`), or the lab could not do its part."""

from __future__ import annotations

import re
from collections.abc import Sequence

# `ceph` prints "Error ENOENT: unrecognized pool 'x'"; librados callers such as PVE only see the text part.
_ERRNO_PREFIX = re.compile(r"^Error (E[A-Z0-9]+): ?")


class CephBackendError(RuntimeError):
    """The lab could not do something around Ceph (a daemon did not start, a wait timed out, bad input)."""


class CephCommandError(CephBackendError):
    """A Ceph tool (`ceph`, `rbd`, `ceph-osd --mkfs`, ...) failed. The message is the tool's own stderr.

    The API layer shows Ceph's wording to its clients the way PVE does, so the text is kept verbatim;
    `errno_name` and `message` split "Error ENOENT: unrecognized pool 'x'" into its two parts.
    """

    def __init__(self, returncode: int, stderr: str, args: Sequence[str]) -> None:
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.cmd = list(args)  # `args` is taken by BaseException
        super().__init__(self.stderr or f"{' '.join(self.cmd[:3])} failed with exit code {returncode}")

    @property
    def errno_name(self) -> str | None:
        """'ENOENT' for "Error ENOENT: ...", None when Ceph gave no errno name."""
        match = _ERRNO_PREFIX.match(self._last_line())
        return match.group(1) if match else None

    @property
    def message(self) -> str:
        """The last stderr line without the "Error EXXX: " prefix: what librados reports as the error text."""
        return _ERRNO_PREFIX.sub("", self._last_line())

    def _last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else str(self)
