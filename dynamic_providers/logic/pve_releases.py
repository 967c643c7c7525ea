"""Which Ceph release and repository `pveceph install` takes on which PVE release. Pure.

The providers' own reading of proxmox/pve-manager, kept apart from the lab's table (lab/releases.py)
on purpose: the lab is what the providers are tested against, so it must not share their beliefs.
Rows are ranges of pve-manager releases, each with the commit it rests on:

| pve-manager        | `--version` (`PVE/Ceph/Releases.pm`)            | commits              |
|--------------------|-------------------------------------------------|----------------------|
| 8.3.0 - 8.4.x      | quincy, reef, squid                             | 10295f2e (squid out of preview, 8.3.0) |
| 9.0.0 - 9.1.4      | squid                                           | 87077653             |
| 9.1.5 - 9.1.12     | squid; tentacle experimental                    | 153e6203             |
| 9.1.13 and later   | squid, tentacle (the default)                   | f3c0665f             |

`--repository`: enterprise, no-subscription, test (`PVE/CLI/pveceph.pm` install schema); `manual`
from 9.0.11 (9c0ac59e). `--allow-experimental` exists on every one of them (it is in 8.3.0's
schema). An experimental release from `enterprise` makes pveceph ask to switch to `test` from 9.1.5
(19d91509) and warns that the repository "might not (yet) be useable". `GET /nodes/{node}/ceph/releases`
answers from 9.2.7 (6b90b52d) and then is the truth for that node (it also drops releases with no
packages for the node's architecture, e6d3cd9d: squid on arm64).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PveVersion = tuple[int, int, int]

OLDEST_SUPPORTED: PveVersion = (8, 3, 0)
REPOSITORIES_BASE = ("enterprise", "no-subscription", "test")
MANUAL_FROM: PveVersion = (9, 0, 11)
RELEASES_ENDPOINT_FROM: PveVersion = (9, 2, 7)


@dataclass(frozen=True)
class Offered:
    """A Ceph release `pveceph install` accepts on some PVE release."""

    release: str
    experimental: bool = False


# (first pve-manager release of the row, what it offers); each row holds until the next one.
_ROWS: tuple[tuple[PveVersion, tuple[Offered, ...]], ...] = (
    ((8, 3, 0), (Offered("quincy"), Offered("reef"), Offered("squid"))),
    ((9, 0, 0), (Offered("squid"),)),
    ((9, 1, 5), (Offered("squid"), Offered("tentacle", experimental=True))),
    ((9, 1, 13), (Offered("squid"), Offered("tentacle"))),
)


def parse_pve_version(text: Any) -> PveVersion | None:
    """`GET /version`'s `version` (`8.3.0`, `9.2.11`); None if it is not X.Y.Z."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?\s*", str(text or ""))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def version_text(version: PveVersion) -> str:
    return ".".join(str(part) for part in version)


def offered(version: PveVersion) -> tuple[Offered, ...]:
    """What `pveceph install --version` takes on this PVE release (empty before 8.3.0)."""
    current: tuple[Offered, ...] = ()
    for first, offers in _ROWS:
        if version >= first:
            current = offers
    return current


def offered_in_major(major: int) -> tuple[str, ...]:
    """Every Ceph release some supported PVE release of this major offers (the check without pveRelease)."""
    names: list[str] = []
    for first, offers in _ROWS:
        if first[0] == major:
            names.extend(o.release for o in offers if o.release not in names)
    return tuple(names)


def repositories(version: PveVersion) -> tuple[str, ...]:
    return (*REPOSITORIES_BASE, "manual") if version >= MANUAL_FROM else REPOSITORIES_BASE


def offered_by_node(rows: Sequence[dict[str, Any]]) -> tuple[Offered, ...]:
    """`GET /nodes/{node}/ceph/releases` (9.2.7+): the releases marked available on that node."""
    out = []
    for row in rows:
        if _flag(row.get("available")):
            out.append(Offered(str(row.get("release")), experimental=_flag(row.get("unsupported"))))
    return tuple(out)


def _flag(value: Any) -> bool:
    return value in (1, True, "1", "true")


@dataclass(frozen=True)
class Keys:
    """What each side calls the three values a release rule relates: the stack config's keys by default,
    the CephInstall inputs as `PROVIDER_KEYS`. A reason names them so that it reads after either."""

    version: str = "cephVersion"
    repository: str = "repository"
    experimental: str = "cephAllowExperimental"
    pve_release: str = "pveRelease"


CONFIG_KEYS = Keys()
PROVIDER_KEYS = Keys("version", "repository", "allow_experimental", "pve_release")


@dataclass(frozen=True)
class InstallPlan:
    """What the installer is run with: `cmd-opts` words and the answers it will need."""

    release: str
    repository: str
    experimental: bool

    @property
    def options(self) -> list[str]:
        words = ["--version", self.release, "--repository", self.repository]
        if self.experimental:
            words.append("--allow-experimental")
        return words


def plan_install(
    version: PveVersion,
    release: str,
    repository: str,
    allow_experimental: bool,
    node_offers: tuple[Offered, ...] | None = None,
    where: str = "the node",
    keys: Keys = CONFIG_KEYS,
) -> InstallPlan:
    """The installer's options for this PVE release, or ValueError naming what to change.

    `node_offers` (from `ceph/releases`, where the node has it) wins over the table.
    """
    pve = version_text(version)
    if version < OLDEST_SUPPORTED:
        raise ValueError(
            f"{where} runs PVE {pve}; the program supports PVE 8.3.0 and later (upgrade the node, "
            "or install Ceph there by hand and adopt it)"
        )
    offers = node_offers if node_offers is not None else offered(version)
    names = [o.release for o in offers]
    offer = next((o for o in offers if o.release == release), None)
    if offer is None:
        source = "its ceph/releases" if node_offers is not None else f"pveceph install on PVE {pve}"
        raise ValueError(
            f"{keys.version} {release!r}: {where} runs PVE {pve}, where {source} offers "
            f"{', '.join(names) or 'nothing'}; set {keys.version} to one of those"
        )
    allowed = repositories(version)
    if repository not in allowed:
        raise ValueError(
            f"{keys.repository} {repository!r}: pveceph install on PVE {pve} takes {', '.join(allowed)}; "
            "set one of those"
        )
    if offer.experimental:
        if not allow_experimental:
            raise ValueError(
                f"{keys.version} {release!r} is a technology preview on PVE {pve}: set {keys.experimental}: true to "
                "install it anyway, or choose a supported release"
            )
        if repository == "enterprise":
            raise ValueError(
                f"{keys.repository} 'enterprise' has no packages for the preview release {release!r} on PVE {pve} "
                f"(pveceph warns it 'might not (yet) be useable'): set {keys.repository} to 'test' or 'no-subscription'"
            )
    return InstallPlan(release, repository, offer.experimental)


def release_problem(
    version: PveVersion,
    release: str,
    repository: str,
    allow_experimental: bool,
    node_offers: tuple[Offered, ...] | None = None,
    where: str = "the node",
    keys: Keys = CONFIG_KEYS,
) -> str | None:
    """plan_install as a rule (rules.py's style): None when the combination is fine, else the reason."""
    try:
        plan_install(version, release, repository, allow_experimental, node_offers, where, keys)
    except ValueError as exc:
        return str(exc)
    return None


def pve_release_format(value: Any) -> str | None:
    """A release as `GET /nodes/{node}/version` names it: X.Y.Z."""
    if re.fullmatch(r"\d+\.\d+\.\d+", str(value).strip()) is None:
        return f"{value!r} is not a PVE release X.Y.Z (e.g. 8.3.0 or 9.2.11; `pveversion` on a node)"
    return None


def release_mismatch(declared: str, node: str, running: PveVersion, keys: Keys = CONFIG_KEYS) -> str | None:
    """The stack says which release the nodes run; a node that runs another one is drift, never silent."""
    actual = version_text(running)
    if parse_pve_version(declared) == running:
        return None
    return (
        f"{keys.pve_release} is {declared}, but {node} runs PVE {actual} (GET /nodes/{node}/version): the node was "
        f"upgraded or the key is wrong; check what PVE {actual} offers (docs/pve-compat.md), then set "
        f"{keys.pve_release} to {actual} (or leave it unset while nodes are upgraded one by one)"
    )


def pool_status_reports_last_pool(version: PveVersion | None) -> bool:
    """PVE/API2/Ceph/Pool.pm getpool: `next if !defined($d->{name}) && !$d->{name} ne "$pool"` lets every
    pool through, so `statistics` is the last pool's: on all of 8.x and on 9.0.0-9.1.11 (fixed by
    b0f4269e in 9.1.12). An unknown version is treated as affected."""
    return version is None or version < (9, 1, 12)
