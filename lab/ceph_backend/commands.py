"""Running Ceph's command-line tools against one lab's ceph.conf.

Every tool gets `--conf <lab conf>` so nothing ever reads /etc/ceph. Failures raise
`CephCommandError` carrying Ceph's own stderr; output is parsed as JSON where the tool gives JSON.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import CephCommandError

ETIMEDOUT = 110

# `rbd` subcommands that take --format (the others reject the option).
_RBD_JSON = {
    ("ls",),
    ("list",),
    ("info",),
    ("du",),
    ("disk-usage",),
    ("status",),
    ("children",),
    ("showmapped",),
    ("snap", "ls"),
    ("snap", "list"),
    ("trash", "ls"),
    ("trash", "list"),
    ("pool", "stats"),
    ("image-meta", "list"),
    ("lock", "ls"),
    ("lock", "list"),
    ("namespace", "ls"),
    ("namespace", "list"),
    ("journal", "info"),
    ("journal", "status"),
    ("group", "ls"),
    ("group", "list"),
    ("config", "pool", "list"),
    ("config", "image", "list"),
    ("mirror", "pool", "info"),
    ("mirror", "pool", "status"),
    ("mirror", "image", "status"),
    ("migration", "status"),
}


def run(argv: Sequence[str], timeout: float, stdin: bytes | None = None) -> str:
    """Run one tool; its stdout on success, CephCommandError (Ceph's stderr) otherwise."""
    try:
        proc = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise CephCommandError(
            -ETIMEDOUT,
            f"Error ETIMEDOUT: '{' '.join(argv[:4])} ...' timed out after {timeout:g} s (no MON quorum?)",
            argv,
        ) from exc
    except FileNotFoundError as exc:
        raise CephCommandError(-2, f"binary not installed: {argv[0]}", argv) from exc
    if proc.returncode != 0:
        raise CephCommandError(proc.returncode, proc.stderr.decode(errors="replace"), argv)
    return proc.stdout.decode(errors="replace")


def parse_output(text: str) -> Any:
    """JSON when the tool printed JSON, None for no output, else the text itself."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _rbd_wants_json(args: Sequence[str]) -> bool:
    words = tuple(a for a in args if not a.startswith("-"))
    return any(words[: len(cmd)] == cmd for cmd in _RBD_JSON)


class CephCli:
    """`ceph`, `rbd` and friends bound to one lab's ceph.conf (the admin keyring is named inside it)."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf

    def ceph(self, *args: str, timeout: float = 30, stdin: bytes | None = None) -> Any:
        """`ceph --conf <conf> <args> --format json`, parsed."""
        # --connect-timeout bounds the wait for a MON; the subprocess timeout bounds everything else.
        connect = max(1, int(timeout))
        argv = ["ceph", "--conf", str(self.conf), "--connect-timeout", str(connect), *args]
        if "--format" not in args and not any(a.startswith("--format=") for a in args):
            argv += ["--format", "json"]
        return parse_output(run(argv, timeout + 5, stdin))

    def rbd(self, *args: str, timeout: float = 60) -> Any:
        """`rbd --conf <conf> <args>`, with `--format json` for the subcommands that support it."""
        argv = ["rbd", "--conf", str(self.conf), *args]
        if _rbd_wants_json(args) and "--format" not in args:
            argv += ["--format", "json"]
        return parse_output(run(argv, timeout))

    def tool(self, *argv: str, timeout: float = 60, stdin: bytes | None = None) -> str:
        """Any other Ceph binary (ceph-authtool, monmaptool, ceph-mon --mkfs ...), stdout as text."""
        return run(argv, timeout, stdin)
