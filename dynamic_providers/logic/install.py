"""CephInstall decisions: inputs, the installer's options, reading the release back. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide

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


@dataclass(frozen=True, kw_only=True)
class InstallOutputs:
    installed_version: str | None = None


SPEC = Spec("CephInstall", InstallInputs, InstallOutputs)


def installer_options(version: str, repository: str) -> str:
    """`cmd-opts` for termproxy cmd=ceph_install, as the GUI's wizard sends them."""
    return f"--version {version} --repository {repository}"


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
