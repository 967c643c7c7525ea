"""CephInstall: Ceph packages on a node, installed through the node's terminal as the GUI's wizard does it.

PVE has no REST call that installs packages. The wizard (pve-manager www/manager6/ceph/CephInstallWizard.js)
opens `POST /nodes/{node}/termproxy` with `cmd=ceph_install` and NUL-separated `cmd-opts`, connects the
terminal's websocket within termproxy's 10 s, and shows `pveceph install` there; it never looks at the
terminal's task and decides by `GET /nodes/{node}/ceph/status`. This does the same (pve/terminal.py,
install_driver.py): root@pam's ticket, apt's question answered, every terminal line shown as progress,
`--allow-experimental` only when the stack opts in, the daemons' reload ridden out, and success read from
ceph/status. Which release and repository a node takes is checked at preview against the release it
runs (logic/pve_releases.py). Removing the resource leaves the packages installed: PVE has no uninstall.
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers import install_driver
from dynamic_providers.base import PveProvider, from_wire
from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import ProxmoxHciError, PveApiError, PveUnreachable
from dynamic_providers.logic import install, pve_releases
from dynamic_providers.logic import install_dialogue as dialogue
from dynamic_providers.logic.install import InstallInputs, InstallOutputs
from dynamic_providers.notices import notice
from dynamic_providers.progress import progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.retry import RetryPolicy
from dynamic_providers.pve.terminal import Terminal, TerminalError, TerminalTicket
from dynamic_providers.values import is_unknown

INSTALL_TIMEOUT = 1800.0  # apt on a slow mirror
RELOAD_GRACE = 5.0  # seconds given to pveceph's `systemctl try-reload-or-restart` before hanging up

# (endpoint, node) -> the node's PVE release, read once per provider process (one pulumi run).
_RELEASES: dict[tuple[str, str], pve_releases.PveVersion | None] = {}
_RELEASES_GUARD = threading.Lock()
# A preview asks once and moves on: a failed node must not hold it up for the retries.
PREVIEW_POLICY = RetryPolicy(attempts=1)


class ReleaseRefused(ProxmoxHciError):
    """The node's PVE release does not take what the inputs ask for, or is not the declared one."""


def status_error(client: PveClient, node: str) -> str | None:
    """`GET /nodes/{node}/ceph/status`, as the wizard reads it: None for an answer, else PVE's words."""
    try:
        client.ceph_status(node)
    except PveApiError as exc:
        return exc.message
    except PveUnreachable as exc:
        return str(exc)
    return None


def probe(client: PveClient, node: str) -> bool:
    """Is Ceph installed on the node? As the wizard counts it: ceph/status answers, or says `not initialized`
    or `rados_connect failed`; `binary not installed` (also while an install runs) is no."""
    try:
        client.ceph_status(node)
    except PveApiError as exc:
        verdict = install_driver.classify_status(exc.message)
        if verdict == "unknown":
            raise
        return verdict == "installed"
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


def node_release(client: PveClient, node: str) -> pve_releases.PveVersion | None:
    """The PVE release the node runs (GET /nodes/{node}/version; any user may ask), once per run."""
    key = (client.endpoint, node)
    with _RELEASES_GUARD:
        if key in _RELEASES:
            return _RELEASES[key]
    version = pve_releases.parse_pve_version(client.node_version(node).get("version"))
    with _RELEASES_GUARD:
        _RELEASES[key] = version
    return version


def node_offers(
    client: PveClient, node: str, version: pve_releases.PveVersion
) -> tuple[pve_releases.Offered, ...] | None:
    """What the node's `GET ceph/releases` offers (9.2.7+: the truth for its architecture), else None."""
    if version < pve_releases.RELEASES_ENDPOINT_FROM:
        return None
    try:
        return pve_releases.offered_by_node(client.ceph_releases(node))
    except PveApiError as exc:
        if exc.status == 501:  # not there after all (a node between packages)
            return None
        raise


def plan_for(client: PveClient, inputs: InstallInputs) -> pve_releases.InstallPlan:
    """The installer's options for the release the node runs; ProxmoxHciError naming the fix if there are none."""
    node = inputs.node
    version = node_release(client, node)
    if version is None:
        raise ProxmoxHciError(f"{node} does not say which PVE release it runs (GET /nodes/{node}/version)")
    if inputs.pve_release is not None:
        mismatch = pve_releases.release_mismatch(inputs.pve_release, node, version, pve_releases.PROVIDER_KEYS)
        if mismatch:
            raise ReleaseRefused(f"CephInstall.{mismatch}")
    try:
        return pve_releases.plan_install(
            version,
            inputs.version,
            inputs.repository,
            bool(inputs.allow_experimental),
            node_offers(client, node, version),
            f"node {node}",
            pve_releases.PROVIDER_KEYS,
        )
    except ValueError as exc:
        raise ReleaseRefused(f"CephInstall.{exc}") from None


def run_installer(client: PveClient, node: str, plan: pve_releases.InstallPlan, was_installed: bool) -> str:
    """Run `pveceph install` in the node's terminal to its end; returns the release installed."""
    operation = f"installing Ceph {plan.release} on {node} through its terminal"
    manual = install.manual_command(plan)
    progress(f"opening the terminal of {node} (termproxy, cmd=ceph_install)")
    reply = TerminalTicket.from_api(client.termproxy(node, "ceph_install", install.installer_options(plan)))
    _user, cookie = client.root_ticket(operation)
    try:
        terminal = Terminal.open(client.endpoint, node, reply, cookie, client.verify)
    except TerminalError as exc:
        raise ProxmoxHciError(f"{operation}: {exc}\nto install by hand, run on {node}: {manual}") from exc
    answers = dialogue.Answers(allow_experimental=plan.experimental)
    try:
        transcript = install_driver.drive(
            terminal, answers, progress, INSTALL_TIMEOUT, client.clock, alive=lambda before: ensure_engine_alive(before)
        )
        if transcript.finished:
            progress(f"pveceph install on {node} reloads the API daemons")
            install_driver.linger(terminal, RELOAD_GRACE, client.clock)
    finally:
        terminal.close()
    verdict, last = install_driver.probe_until_settled(lambda: status_error(client, node), client.sleep)
    succeeded = verdict == "installed" and not transcript.login_prompt and (transcript.finished or not was_installed)
    if not succeeded:
        raise ProxmoxHciError(install_driver.failure_message(node, transcript, verdict, manual, last))
    return transcript.release or detect_release(client, node) or plan.release


class CephInstallProvider(PveProvider[InstallInputs, InstallOutputs]):
    spec = install.SPEC

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """The spec's check, then - where something would be installed - the release the node runs.

        Not pure: it asks each node once per run for its release (GET /nodes/{node}/version, and
        ceph/releases from 9.2.7), which any API token may read, so a preview needs no root. A node that
        cannot be asked (failed, unreachable, no credentials in this process) is not checked now; create
        checks again.
        """
        result = super().check(_olds, news)
        if result.failures:
            return result
        failure = self._live_check(from_wire(_olds), result.inputs)
        if failure is None:
            return result
        return CheckResult(result.inputs, [CheckFailure(*failure)])

    def _live_check(self, olds: dict[str, Any], checked: dict[str, Any]) -> tuple[str, str] | None:
        if any(is_unknown(checked.get(key)) for key in ("node", "version", "repository", "pve_release")):
            return None
        inputs = self.spec.load(checked)
        installs = not olds or any(olds.get(key) != checked.get(key) for key in ("node", "version", "repository"))
        if not installs and inputs.pve_release is None:
            return None  # nothing to install, no release declared: nothing to ask the node
        try:
            client = self.client(PREVIEW_POLICY)
            if installs:
                plan_for(client, inputs)
            else:  # nothing to install: only drift of the declared release matters
                version = node_release(client, inputs.node)
                mismatch = version and pve_releases.release_mismatch(
                    str(inputs.pve_release), inputs.node, version, pve_releases.PROVIDER_KEYS
                )
                if mismatch:
                    return ("pve_release", f"CephInstall.{mismatch}")
        except ReleaseRefused as exc:
            return ("pve_release" if "pve_release is" in str(exc) else "version", str(exc))
        except ProxmoxHciError:
            return None  # the node could not be asked now (no credentials here, failed, unreachable)
        return None

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        node, version = inputs.node, inputs.version
        client = self.client()
        installed = probe(client, node)
        release = detect_release(client, node) if installed else None
        take = install.create_action(node, installed, release, version, inputs.adopt)
        if take is None:
            client.require_root(f"installing Ceph on {node} through its terminal")  # before any request changes
            release = run_installer(client, node, plan_for(client, inputs), was_installed=False)
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
        if new.repository != old.repository:  # re-run the installer: it rewrites the Ceph APT source
            client = self.client()
            release = run_installer(client, new.node, plan_for(client, new), was_installed=True)
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
        pve_release: pulumi.Input[str] | None = None,
        allow_experimental: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against InstallInputs).
        super().__init__(CephInstallProvider(), resource_name, CephInstallProvider.spec.props(locals()), opts)
