"""CephInstall decisions: inputs, the release rule, reading the release back. Pure.

Which release and repository `pveceph install` takes on which PVE release is logic/pve_releases.py's;
here it becomes the inputs' rule (with `pve_release` declared) and the plan for the node's actual release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import pve_releases, rules
from dynamic_providers.logic.spec import Failure, Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide
from dynamic_providers.values import is_unknown

RELEASES = rules.CEPH_RELEASES  # PVE 8: quincy, reef, squid; PVE 9: squid, tentacle
RELEASE_OF_MAJOR = {17: "quincy", 18: "reef", 19: "squid", 20: "tentacle"}
REPOSITORIES = rules.REPOSITORIES


@resource_inputs
class InstallInputs:
    node: str = param(on_change="replace", validate=rules.node_name)
    version: str = param(
        default="squid",
        on_change="refuse",
        validate=rules.ceph_release,
        refuse_reason="moving an installed node to another Ceph release is an upgrade procedure (noout, "
        "restart MONs, MGRs then OSDs one by one); do it by hand, then set the new version "
        "with adopt=true on a fresh resource",
        refuse_unless_changed=("node",),
    )
    repository: str = param(default="no-subscription", validate=rules.repository)
    adopt: bool = param(default=False)
    # The PVE release the stack says the node runs (X.Y.Z); None: whatever it runs, read at check.
    pve_release: str | None = param(default=None, validate=pve_releases.pve_release_format)
    # Install a release PVE marks as a technology preview (--allow-experimental); None is no.
    allow_experimental: bool | None = param(default=None)


@dataclass(frozen=True, kw_only=True)
class InstallOutputs:
    installed_version: str | None = None


def _rules(inputs: InstallInputs) -> list[Failure]:
    """With `pve_release` declared, the release table decides before any request."""
    values = (inputs.pve_release, inputs.version, inputs.repository, inputs.allow_experimental)
    if inputs.pve_release is None or any(is_unknown(v) for v in values):
        return []
    version = pve_releases.parse_pve_version(inputs.pve_release)
    if version is None:
        return []  # the field's own validator said so
    reason = release_problem(version, inputs, f"node {inputs.node} (pve_release)")
    return [("version", f"CephInstall.{reason}")] if reason else []


def release_problem(
    version: pve_releases.PveVersion, inputs: InstallInputs, where: str, offers: Any = None
) -> str | None:
    return pve_releases.release_problem(
        version,
        inputs.version,
        inputs.repository,
        bool(inputs.allow_experimental),
        offers,
        where,
        pve_releases.PROVIDER_KEYS,
    )


SPEC = Spec("CephInstall", InstallInputs, InstallOutputs, rules=_rules)


def installer_options(plan: pve_releases.InstallPlan) -> str:
    """`cmd-opts` for termproxy cmd=ceph_install, NUL-separated as the GUI's wizard sends them: PVE splits
    on NUL only (pve-manager PVE/API2/Nodes.pm get_shell_command), so a space-joined string is one word."""
    return "\0".join(plan.options)


def manual_command(plan: pve_releases.InstallPlan) -> str:
    """What to run on the node by hand instead."""
    return "pveceph install " + " ".join(plan.options)


def release_of(version: Any) -> str | None:
    """`19.2.1-pve3`, `ceph version 19.2.1 (...) squid (stable)` or `19.2.1` -> `squid`; None if unreadable."""
    match = re.search(r"(?:^|\s)(\d+)\.\d+\.\d+", str(version or ""))
    return RELEASE_OF_MAJOR.get(int(match.group(1))) if match else None


def release_from_apt(packages: list[dict[str, Any]]) -> str | None:
    """The release of the installed `ceph` (or `ceph-common`) package in GET /nodes/{node}/apt/versions."""
    for name in ("ceph", "ceph-common"):
        for row in packages:
            if row.get("Package") == name and row.get("CurrentState", "Installed") == "Installed":
                release = release_of(row.get("Version"))
                if release:
                    return release
    return None


def release_from_mons(mons: list[dict[str, Any]], node: str) -> str | None:
    """The release a MON on this node runs, if there is one (the mon list carries versions)."""
    for mon in mons:
        if mon.get("host") == node:
            release = release_of(mon.get("ceph_version_short") or mon.get("ceph_version"))
            if release:
                return release
    return None


def create_action(node: str, installed: bool, release: str | None, wanted: str, adopt: bool) -> Takeover | None:
    """None: run the installer. Else the takeover of what is installed: the declared release is what
    the installer would leave; a release that cannot be read needs adopt=true; another one is refused."""
    if not installed:
        return None
    if release is None:
        difference = Difference("version", "installed, release not readable", wanted, adoptable=True)
    else:
        difference = Difference("version", release, wanted)
    return decide(
        f"the Ceph packages on {node}",
        [] if release == wanted else [difference],
        adopt=adopt,
        fix=f"Set version={release!r}, or upgrade the node by hand first",
        facts=f"Ceph {release}",
    )
