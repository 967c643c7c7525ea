"""The one repair a killed run can need in a `file://` state backend: an empty `.attrs` file.

Pulumi's file backend stores a stack as `<root>/.pulumi/stacks/<project>/<stack>.json` through
gocloud.dev's fileblob, which writes the blob to a temporary file and renames it into place, but
writes the attributes beside it (`<stack>.json.attrs`) in place. A SIGKILL in between leaves that file
empty, and every later command on the stack (`pulumi cancel` too) fails with "failed to load
checkpoint: EOF" (measured in the kill drill: destroy killed inside an HA resource delete). fileblob
reads a missing attributes file as no attributes, so removing the empty one is the repair; the
checkpoint itself is whole (it only ever replaces the old one by rename).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse


def file_backend_root(url: str) -> Path | None:
    """The directory of a `file://` backend URL (`file://~` is the home directory); None for others."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.netloc + parsed.path)
    return Path(os.path.expanduser(path or "~"))


def empty_attrs(root: Path) -> list[Path]:
    """The empty attribute files under the backend's stacks: each one breaks its stack."""
    stacks = root / ".pulumi" / "stacks"
    if not stacks.is_dir():
        return []
    return sorted(p for p in stacks.rglob("*.attrs") if p.is_file() and p.stat().st_size == 0)


def backend_url() -> str | None:
    """The backend `pulumi` uses here: PULUMI_BACKEND_URL, else the one `pulumi whoami` names."""
    given = os.environ.get("PULUMI_BACKEND_URL")
    if given:
        return given
    out = subprocess.run(["pulumi", "whoami", "--verbose"], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Backend URL":
            return value.strip()
    return None


def repair() -> list[Path]:
    """Remove the empty attribute files of a file backend; returns what was removed."""
    url = backend_url()
    root = file_backend_root(url) if url else None
    if root is None:
        return []
    removed = empty_attrs(root)
    for path in removed:
        path.unlink()
    return removed
