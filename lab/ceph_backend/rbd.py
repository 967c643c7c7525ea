"""The `rbd` commands the lab's PVE side runs, one method each, as pve-storage's RBD plugin runs them.

pve-storage src/PVE/Storage/RBDPlugin.pm calls the `rbd` CLI for image work (`rbd_ls`, `alloc_image`,
`clone_image`, `free_image`, `create_base`, `volume_resize`, `volume_size_info`); so does the lab, through
the backend's `rbd(*args)` runner (a real `CephBackend`, or a stand-in in tests). Each method blocks:
call it from a worker thread, except where fakepve's own synchronous task bodies leave no choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from lab.pve_formats import MIB

from .errors import CephBackendError

# The snapshot a template's base image carries; linked clones are made from it (RBDPlugin.pm create_base).
BASE_SNAPSHOT = "__base__"


class RbdError(CephBackendError):
    """An `rbd` command failed; the message is its last stderr line, as PVE's run_rbd_command keeps it."""


class RbdRunner(Protocol):
    """What runs `rbd` against the lab's cluster: `CephBackend.rbd`."""

    def rbd(self, *args: str, timeout: float = 60) -> Any: ...


@dataclass(frozen=True)
class RbdImage:
    """One row of `rbd ls -l --format json`: an image, or one of its snapshots."""

    image: str
    size: int
    snapshot: str | None = None
    # the parent of a clone: (image, snapshot)
    parent: tuple[str, str] | None = None


def image_size_arg(size: int) -> str:
    """`--size` in MiB, rounded up (RBDPlugin.pm alloc_image and volume_resize give rbd sizes in MiB)."""
    return f"{max(1, math.ceil(size / MIB))}M"


class Rbd:
    """`rbd` over one runner. Images are named `pool[/namespace]/image`."""

    def __init__(self, runner: RbdRunner) -> None:
        self._runner = runner

    def _run(self, *args: str) -> Any:
        try:
            return self._runner.rbd(*args)
        except CephBackendError as exc:  # a CephCommandError, or the backend could not run rbd at all
            raise RbdError(_last_line(getattr(exc, "message", "") or str(exc)) or type(exc).__name__) from exc

    # -- listing ------------------------------------------------------------------------------------

    def list_long(self, pool: str, namespace: str | None = None) -> list[RbdImage]:
        """`rbd ls -l --format json POOL [--namespace NS]`: images and their snapshots (RBDPlugin.pm rbd_ls)."""
        args = ["ls", "-l", "--format", "json", pool]
        if namespace:
            args += ["--namespace", namespace]
        rows = self._run(*args) or []
        return [_image(row) for row in rows]

    def image_names(self, pool: str) -> list[str]:
        """`rbd ls -p POOL`: the names of the pool's images."""
        return [str(name) for name in self._run("ls", "-p", pool) or []]

    def size(self, spec: str) -> int:
        """`rbd info --format json SPEC`: the image's size in bytes (RBDPlugin.pm volume_size_info)."""
        return int(self._run("info", "--format", "json", spec)["size"])

    # -- changes --------------------------------------------------------------------------------------

    def create(self, spec: str, size: int) -> None:
        """`rbd create --image-format 2 --size <MiB>M SPEC` (RBDPlugin.pm alloc_image)."""
        self._run("create", "--image-format", "2", "--size", image_size_arg(size), spec)

    def clone(self, parent: str, snapshot: str, spec: str) -> None:
        """`rbd clone PARENT@SNAPSHOT SPEC` (RBDPlugin.pm clone_image)."""
        self._run("clone", f"{parent}@{snapshot}", spec)

    def remove(self, spec: str) -> None:
        """`rbd rm --no-progress SPEC` (RBDPlugin.pm free_image)."""
        self._run("rm", "--no-progress", spec)

    def rename(self, spec: str, new_spec: str) -> None:
        """`rbd rename SPEC NEW` (RBDPlugin.pm create_base)."""
        self._run("rename", spec, new_spec)

    def resize(self, spec: str, size: int) -> None:
        """`rbd resize --size <MiB>M SPEC` (RBDPlugin.pm volume_resize)."""
        self._run("resize", "--size", f"{math.ceil(size / MIB)}M", spec)

    def snap_create(self, spec: str, snapshot: str) -> None:
        self._run("snap", "create", f"{spec}@{snapshot}")

    def snap_protect(self, spec: str, snapshot: str) -> None:
        self._run("snap", "protect", f"{spec}@{snapshot}")

    def snap_unprotect(self, spec: str, snapshot: str) -> None:
        self._run("snap", "unprotect", f"{spec}@{snapshot}")

    def snap_purge(self, spec: str) -> None:
        self._run("snap", "purge", spec)


def _image(row: dict[str, Any]) -> RbdImage:
    parent = row.get("parent") or {}
    return RbdImage(
        image=str(row.get("image", "")),
        size=int(row.get("size") or 0),
        snapshot=row.get("snapshot"),
        parent=(parent["image"], parent["snapshot"]) if parent.get("image") and parent.get("snapshot") else None,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
