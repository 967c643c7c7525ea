"""Ceph package installation through the node terminal, as the GUI's Ceph wizard does it.

PVE has no REST call that installs packages: the wizard opens `POST /nodes/{node}/termproxy`
with `cmd=ceph_install` (root@pam only) and `pveceph install` runs in that terminal's
`vncshell` task. The lab runs the install in that task without waiting for a websocket client;
its log carries what `pveceph install` prints. The Ceph binaries themselves are the host's
(Debian's), so what gets "installed" on a node is the right to use them there.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import shutil
import subprocess
from typing import Any

from lab import errors
from lab.errors import TaskError
from lab.handlers.base import LabArea, Route
from lab.models.cluster import CEPH_RELEASES, DEFAULT_RELEASE, REPOSITORIES

HOST_BINARIES = ("ceph", "ceph-mon", "ceph-mgr", "ceph-osd")


def parse_install_options(opts: str, pve_version: int) -> tuple[str, str]:
    """`pveceph install` options -> (release, repository); errors worded like pveceph's."""
    release, repository = DEFAULT_RELEASE[pve_version], "enterprise"
    words = shlex.split(opts or "")
    i = 0
    while i < len(words):
        word = words[i]
        key, _, value = word.partition("=")
        if key in ("--version", "-version", "--repository", "-repository") and not value:
            i += 1
            value = words[i] if i < len(words) else ""
        if key.lstrip("-") == "version":
            release = value
        elif key.lstrip("-") == "repository":
            repository = value
        elif key.lstrip("-") != "allow-experimental":
            raise TaskError(f"Unknown option: {key.lstrip('-')}")
        i += 1
    if release not in CEPH_RELEASES[pve_version]:
        raise TaskError(
            f"value '{release}' does not have a value in the enumeration '{', '.join(CEPH_RELEASES[pve_version])}'"
        )
    if repository not in REPOSITORIES:
        raise TaskError(f"value '{repository}' does not have a value in the enumeration '{', '.join(REPOSITORIES)}'")
    return release, repository


def host_ceph_version() -> str:
    missing = [b for b in HOST_BINARIES if shutil.which(b) is None]
    if missing:
        raise TaskError(f"lab: the host lacks {', '.join(missing)} (apt-get install ceph-mon ceph-mgr ceph-osd)")
    out = subprocess.run(["ceph", "--version"], capture_output=True, text=True, check=False, timeout=30)
    return out.stdout.strip()


class CephInstallApi(LabArea):
    def _routes_ceph_install(self) -> list[Route]:
        return [("POST", "/nodes/{node}/termproxy", self._termproxy_node)]

    async def _termproxy_node(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        node = v["node"]
        cmd = v.get("cmd") or "login"
        # PVE/API2/Nodes.pm: any command other than the login shell is for the root@pam login alone.
        if cmd != "login" and user != "root@pam":
            raise errors.forbidden("user != root@pam")
        if cmd != "ceph_install":
            raise errors.die(f"lab: the node terminal only runs 'ceph_install', not '{cmd}'")
        pve_version = self.cluster.spec.pve_version
        opts = str(v.get("cmd-opts") or "")

        async def body() -> str:
            release, repository = parse_install_options(opts, pve_version)
            version = await asyncio.to_thread(host_ceph_version)
            self.cluster.install(node, release)
            return (
                f"update available package list\nusing repository '{repository}' for Ceph {release}\n"
                f"start installation\ninstalled {version}\n\ninstalled Ceph {release} successfully!"
            )

        upid = await self.task(
            node, "vncshell", "", user, body, lock=False, log=[f"starting termproxy: pveceph install {opts}".rstrip()]
        )
        return {
            "user": user,
            "ticket": "PVEVNC:" + secrets.token_hex(16),
            "port": 5900 + len(self.cluster.installed),
            "upid": upid,
        }
