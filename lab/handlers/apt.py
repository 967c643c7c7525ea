"""/nodes/{node}/apt: each node's APT sources (lab/models/apt.py; what bpg's apt resources use) and package versions."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from fakepve.routing import check_digest

from lab import errors
from lab.handlers.base import LabArea, Route
from lab.models.apt import AptError
from lab.terminal.programs import PACKAGE_VERSION


class AptApi(LabArea):
    def _routes_apt(self) -> list[Route]:
        path = "/nodes/{node}/apt/repositories"
        return [
            ("GET", path, self._apt_get),
            ("PUT", path, self._apt_add),
            ("POST", path, self._apt_change),
            ("GET", "/nodes/{node}/apt/versions", self._apt_versions),
        ]

    async def _apt_versions(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        """Package versions: PVE's own, and Ceph's once `pveceph install` put them on the node.

        The Ceph packages listed are those of the release the install asked for (a representative
        build, lab/terminal/programs.py PACKAGE_VERSION), as the node's dpkg would list them; the
        daemons that run are the host's (Debian's), whose version the MON and OSD lists show.
        """
        pve_version = self.version
        rows = [
            _package("proxmox-ve", pve_version, "The Proxmox Virtual Environment"),
            _package("pve-manager", pve_version, "The Proxmox Virtual Environment"),
        ]
        installed = self.cluster.installed.get(v["node"])
        if installed and self.cluster.is_installed(v["node"]):
            version = PACKAGE_VERSION.get(installed)
            if version is None:
                version = await asyncio.to_thread(host_package_version, "ceph-common")
            rows += [
                _package(name, version, "distributed storage and file system")
                for name in ("ceph", "ceph-common", "ceph-mon", "ceph-mgr", "ceph-osd")
            ]
        return rows

    async def _apt_get(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        return self.apt[v["node"]].as_api()

    async def _apt_add(self, v: dict[str, Any], user: str) -> None:
        node = self.apt[v["node"]]
        check_digest(node.digest(), v.get("digest"))
        try:
            node.add_standard(v["handle"])
        except AptError as exc:
            raise errors.param(handle=str(exc)) from exc

    async def _apt_change(self, v: dict[str, Any], user: str) -> None:
        node = self.apt[v["node"]]
        check_digest(node.digest(), v.get("digest"))
        try:
            node.set_enabled(v["path"], int(v["index"]), bool(v.get("enabled", True)))
        except AptError as exc:
            raise errors.die(str(exc)) from exc


def host_package_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False, timeout=30
    )
    return out.stdout.strip() or "unknown"


def _package(name: str, version: str, title: str) -> dict[str, Any]:
    return {
        "Package": name,
        "Version": version,
        "Title": title,
        "Description": title,
        "Arch": "amd64",
        "CurrentState": "Installed",
        "Origin": "Proxmox" if name.startswith(("proxmox", "pve")) else "Debian",
        "Priority": "optional",
        "Section": "admin",
    }
