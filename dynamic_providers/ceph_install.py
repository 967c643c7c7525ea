"""CephInstall: Ceph packages on a node, installed through the root@pam terminal as the GUI does it.

PVE has no REST call that installs packages; its wizard opens `POST /nodes/{node}/termproxy`
with `cmd=ceph_install`, and `pveceph install` runs as that terminal's task, which is waited on.
Removing the resource leaves the packages installed: PVE offers no uninstall.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import ProxmoxHciError, PveApiError, TaskFailed
from dynamic_providers.logic import install
from dynamic_providers.logic.install import InstallInputs, InstallOutputs
from dynamic_providers.notices import notice
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.tasks import Upid

INSTALL_TIMEOUT = 1800.0  # apt on a slow mirror
INSTALLED_LINE = re.compile(r"installed ceph (\w+) successfully", re.IGNORECASE)


def probe(client: PveClient, node: str) -> bool:
    """Is Ceph installed on the node? A Ceph GET there says `binary not installed: ...` if not."""
    try:
        client.ceph_cfg_raw(node)
    except PveApiError as exc:
        if "binary not installed" in exc.message:
            return False
        if "not initialized" in exc.message:
            return True
        raise
    return True


def detect_release(client: PveClient, node: str) -> str | None:
    """The installed release, from the package list, else from a MON on the node; None if unreadable."""
    try:
        release = install.release_from_apt(client.apt_versions(node))
        if release:
            return release
    except PveApiError:
        pass
    try:
        return install.release_from_mons(client.mon_list(node), node)
    except PveApiError:  # not initialised yet: no MONs to ask
        return None


def run_installer(client: PveClient, node: str, version: str, repository: str) -> str:
    """Run `pveceph install` in the node's terminal task; returns the release it reports."""
    what = f"installing Ceph {version} on {node}"
    info = client.termproxy(node, "ceph_install", install.installer_options(version, repository))
    upid = str(info.get("upid"))
    try:
        client.wait_task(upid, INSTALL_TIMEOUT, what)
    except TaskFailed as exc:
        raise ProxmoxHciError(
            f"{exc}\nOn a PVE node the installer runs in an interactive terminal; if it needs an answer, run "
            f"`pveceph install {install.installer_options(version, repository)}` on {node} (or use the GUI's Ceph "
            "wizard), then declare this resource with adopt=true"
        ) from exc
    if not probe(client, node):
        raise ProxmoxHciError(
            f"{what}: the installer's task {upid} ended, yet {node} still reports Ceph as not installed"
        )
    found = INSTALLED_LINE.search("\n".join(client.task_log(Upid.parse(upid))))
    return found.group(1).lower() if found else version


class CephInstallProvider(PveProvider[InstallInputs, InstallOutputs]):
    spec = install.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        node, version = inputs.node, inputs.version
        client = self.client()
        installed = probe(client, node)
        release = detect_release(client, node) if installed else None
        take = install.create_action(node, installed, release, version, inputs.adopt)
        if take is None:
            release = run_installer(client, node, version, inputs.repository)
        else:
            notice(take.message)
        return CreateResult(node, self.state(inputs, InstallOutputs(installed_version=release or version)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        client = self.client()
        if not probe(client, old.node):
            return self.gone()
        release = detect_release(client, old.node) or self.load_outputs(props).installed_version
        inputs = self.spec.refreshed(old, version=release or old.version)
        return self.found(id_, inputs, InstallOutputs(installed_version=release))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        old, new = self.load(_olds), self.load(_news)
        release = self.load_outputs(_olds).installed_version
        if new.repository != old.repository:  # re-run the installer: it switches the APT source
            release = run_installer(self.client(), new.node, new.version, new.repository)
        return UpdateResult(self.state(new, InstallOutputs(installed_version=release)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: PVE has no uninstall, and the packages harm nothing."""


class CephInstall(Resource, module="ceph", name="Install"):
    installed_version: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        version: pulumi.Input[str] = "squid",
        repository: pulumi.Input[str] = "no-subscription",
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against InstallInputs).
        super().__init__(CephInstallProvider(), resource_name, CephInstallProvider.spec.props(locals()), opts)
