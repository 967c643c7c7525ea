"""A node's APT repository files as PVE's /nodes/{node}/apt/repositories shows them (proxmox-apt).

A fresh node has the Debian repositories and the enterprise ones for PVE and Ceph; adding a
standard repository (PUT handle=...) writes it into the file PVE uses for it, or enables it when it
is already there. PVE 9 writes deb822 `.sources` files, PVE 8 one-line `.list` files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SUITE = {8: "bookworm", 9: "trixie"}
# The Ceph releases whose standard repositories each PVE major offers (its `ceph-<release>-<kind>` handles).
CEPH_REPO_RELEASES = {8: ("quincy", "reef", "squid"), 9: ("squid",)}
KINDS = ("enterprise", "no-subscription", "test")
KIND_NAMES = {"enterprise": "Enterprise", "no-subscription": "No-Subscription", "test": "Test"}


class AptError(ValueError):
    pass


@dataclass
class Repo:
    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    enabled: bool = True
    comment: str = ""

    def as_api(self, file_type: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Types": self.types,
            "URIs": self.uris,
            "Suites": self.suites,
            "Components": self.components,
            "Enabled": 1 if self.enabled else 0,
            "FileType": file_type,
            "Options": [],
        }
        if self.comment:
            out["Comment"] = self.comment + "\n"
        return out


@dataclass
class AptFile:
    path: str
    repos: list[Repo] = field(default_factory=list)

    @property
    def file_type(self) -> str:
        return "sources" if self.path.endswith(".sources") else "list"

    def digest(self) -> str:
        blob = json.dumps([r.__dict__ for r in self.repos], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def _handle_parts(handle: str, pve: int) -> tuple[str | None, str]:
    """'ceph-squid-no-subscription' -> ('squid', 'no-subscription'); 'test' -> (None, 'test')."""
    if handle in KINDS:
        return None, handle
    for release in CEPH_REPO_RELEASES[pve]:
        prefix = f"ceph-{release}-"
        if handle.startswith(prefix) and handle[len(prefix) :] in KINDS:
            return release, handle[len(prefix) :]
    raise AptError(f"unknown handle '{handle}'")


def standard_handles(pve: int) -> list[str]:
    return list(KINDS) + [f"ceph-{r}-{k}" for r in CEPH_REPO_RELEASES[pve] for k in KINDS]


class NodeApt:
    """The repository files of one node."""

    def __init__(self, pve: int) -> None:
        self.pve = pve
        suite = SUITE[pve]
        modern = pve >= 9
        self.files: list[AptFile] = []
        debian = "/etc/apt/sources.list.d/debian.sources" if modern else "/etc/apt/sources.list"
        self.files.append(
            AptFile(
                debian,
                [
                    Repo(
                        ["deb"],
                        ["http://deb.debian.org/debian"],
                        [suite, f"{suite}-updates"],
                        ["main", "contrib", "non-free-firmware"],
                    ),
                    Repo(
                        ["deb"],
                        ["http://security.debian.org/debian-security"],
                        [f"{suite}-security"],
                        ["main", "contrib", "non-free-firmware"],
                    ),
                ],
            )
        )
        self.files.append(AptFile(self._path("enterprise"), [self._repo(None, "enterprise")]))
        default_ceph = CEPH_REPO_RELEASES[pve][0]
        self.files.append(AptFile(self._path("ceph"), [self._repo(default_ceph, "enterprise")]))

    # -- where and what PVE writes -------------------------------------------------------------

    def _path(self, what: str) -> str:
        modern = self.pve >= 9
        if what == "ceph":
            return "/etc/apt/sources.list.d/ceph.sources" if modern else "/etc/apt/sources.list.d/ceph.list"
        if what == "enterprise":
            return (
                "/etc/apt/sources.list.d/pve-enterprise.sources"
                if modern
                else "/etc/apt/sources.list.d/pve-enterprise.list"
            )
        return "/etc/apt/sources.list.d/proxmox.sources" if modern else "/etc/apt/sources.list"

    def _repo(self, ceph: str | None, kind: str) -> Repo:
        suite = SUITE[self.pve]
        host = "https://enterprise.proxmox.com" if kind == "enterprise" else "http://download.proxmox.com"
        if ceph:
            return Repo(["deb"], [f"{host}/debian/ceph-{ceph}"], [suite], [kind])
        component = (
            "pve-enterprise"
            if kind == "enterprise"
            else ("pvetest" if kind == "test" and self.pve < 9 else f"pve-{kind}")
        )
        return Repo(["deb"], [f"{host}/debian/pve"], [suite], [component])

    def _find(self, ceph: str | None, kind: str) -> Repo | None:
        want = self._repo(ceph, kind)
        for f in self.files:
            for repo in f.repos:
                if repo.uris == want.uris and repo.components == want.components:
                    return repo
        return None

    def file(self, path: str) -> AptFile:
        for f in self.files:
            if f.path == path:
                return f
        raise AptError(f"unable to find file '{path}'")

    # -- API operations ------------------------------------------------------------------------

    def add_standard(self, handle: str) -> None:
        ceph, kind = _handle_parts(handle, self.pve)
        existing = self._find(ceph, kind)
        if existing is not None:
            existing.enabled = True
            return
        path = self._path("ceph" if ceph else "enterprise" if kind == "enterprise" else "main")
        try:
            target = self.file(path)
        except AptError:
            target = AptFile(path)
            self.files.append(target)
        target.repos.append(self._repo(ceph, kind))

    def write_ceph_source(self, release: str, kind: str) -> str:
        """`pveceph install` writes the whole Ceph source file itself (`file_set_contents`, pve-manager
        PVE/CLI/pveceph.pm): one entry, whatever was there before. Returns the file's path."""
        path = self._path("ceph")
        try:
            target = self.file(path)
        except AptError:
            target = AptFile(path)
            self.files.append(target)
        target.repos = [self._repo(release, kind)]
        return path

    def set_enabled(self, path: str, index: int, enabled: bool) -> None:
        target = self.file(path)
        if not 0 <= index < len(target.repos):
            raise AptError(f"unable to find repository with index {index} in '{path}'")
        target.repos[index].enabled = enabled

    def digest(self) -> str:
        return hashlib.sha256("".join(f.digest() for f in self.files).encode()).hexdigest()

    def as_api(self) -> dict[str, Any]:
        standard = []
        for handle in standard_handles(self.pve):
            ceph, kind = _handle_parts(handle, self.pve)
            name = f"Ceph {ceph.capitalize()} {KIND_NAMES[kind]}" if ceph else KIND_NAMES[kind]
            item: dict[str, Any] = {
                "handle": handle,
                "name": name,
                "description": f"{name} repository" + (" for Ceph" if ceph else ""),
            }
            repo = self._find(ceph, kind)
            if repo is not None:
                item["status"] = 1 if repo.enabled else 0
            standard.append(item)
        return {
            "digest": self.digest(),
            "errors": [],
            "infos": [],
            "files": [
                {
                    "path": f.path,
                    "file-type": f.file_type,
                    "repositories": [r.as_api(f.file_type) for r in f.repos],
                    "digest": list(bytes.fromhex(f.digest())),
                }
                for f in self.files
            ],
            "standard-repos": standard,
        }
