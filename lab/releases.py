"""What differs between the PVE releases the lab emulates, keyed by pve-manager release X.Y.Z. Pure.

The lab's own table, read in PVE's source; the providers keep theirs apart
(`dynamic_providers/logic/pve_releases.py`), so a lab that agrees with them proves something.
Commits are proxmox/pve-manager unless another repository is named; "9.1.5" means "from the
`bump version to 9.1.5` commit on". docs/pve-compat.md has the same facts in prose.

- Ceph releases per PVE major (`PVE/Ceph/Releases.pm` `available-for-pve-release`): 8.x offers
  quincy, reef and squid (squid's preview flag dropped by 10295f2e, first in 8.3.0, the oldest
  release the lab emulates); 9.x offers squid (87077653, 9.0.0) and tentacle from 9.1.5
  (153e6203), marked `unsupported` (experimental) until 9.1.13 (f3c0665f).
- `pveceph install --version` default (`current-backend-default`): quincy on 8.x (c1689ccb, still on
  stable-8 2606ac85 = 8.4.21), squid on 9.0.0 (40bbbd26), tentacle from 9.1.13 (f3c0665f). The GUI
  wizard's default (`www/manager6/ceph/CephInstallWizard.js` `cephRelease`) is reef on 8.3/8.4,
  squid on 9.0-9.1.12, tentacle from 9.1.13.
- `--repository`: enterprise|no-subscription|test; `manual` from 9.0.11 (9c0ac59e).
- The Ceph APT source: `/etc/apt/sources.list.d/ceph.list`, one-line, bookworm, on 8.x;
  `ceph.sources`, deb822, trixie, on 9.x (405fcbc1, 9.0.0): lab/models/apt.py writes it.
- The "switch to the test repository" prompt for an experimental release from the enterprise
  repository: 9.1.5 (19d91509).
- `GET /nodes/{node}/ceph/releases`: 9.2.7 (6b90b52d).
- `GET /nodes/{node}/ceph/pool/{name}/status?verbose=1` gives the statistics of the *last* pool of
  `ceph df` (`next if !defined($d->{name}) && !$d->{name} ne "$pool"` in `PVE/API2/Ceph/Pool.pm`),
  fixed by b0f4269e in 9.1.12 and never on stable-8.
- `GET /nodes/{node}/ceph/cfg/value` answers only the requested keys of the MON config DB from
  9.1.18 (0ef0aaba); before, a requested section brought all its DB keys (never fixed on stable-8).
- The JSON `message` of an error: proxmox/pve-http-server 9a2112e, first in
  libpve-http-server-perl 5.2.0 (011d2da, 2025-01-28). pve-manager 8.x depends on >= 5.1.1 only
  (`debian/control`), so whether a node has it depends on the package, not on pve-manager: the lab
  pairs each pve-manager release with the newest libpve-http-server-perl published before it (what a
  node updated on that day has), so 8.3.0-8.3.3 (up to 2025-01-20) answer without `message`, and
  only the reason phrase - cut to its first line (`PVE/APIServer/AnyEvent.pm` `response`) -
  carries the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]

# The releases the lab emulates: each X.Y.Z has a `bump version to X.Y.Z` commit in pve-manager.
# 8.3.0 is the first with squid stable; 9.2.11 (f6997e69) the newest read. 9.1.0 was never bumped.
_RELEASES_8 = [(8, 3, z) for z in range(8)] + [(8, 4, z) for z in range(22)]
_RELEASES_9 = [(9, 0, z) for z in range(19)] + [(9, 1, z) for z in range(1, 20)] + [(9, 2, z) for z in range(12)]
KNOWN_RELEASES: tuple[Version, ...] = tuple(_RELEASES_8 + _RELEASES_9)

# pve-manager release -> date of its `bump version` commit, for the releases where the date decides
# something (which libpve-http-server-perl a node has). Only the 8.3 series matters: 5.2.0 was
# published between 8.3.3 (2025-01-20) and 8.3.4 (2025-02-18).
_FIRST_WITH_HTTP_MESSAGE: Version = (8, 3, 4)

CEPH_VERSION = {
    "octopus": "15.2",
    "pacific": "16.2",
    "quincy": "17.2",
    "reef": "18.2",
    "squid": "19.2",
    "tentacle": "20.2",
}
# Every release `PVE/Ceph/Releases.pm` tracks (what `GET ceph/releases` lists, available or not).
KNOWN_CEPH_RELEASES = tuple(CEPH_VERSION)
REPOSITORIES = ("enterprise", "no-subscription", "test")


class ReleaseError(ValueError):
    """A PVE release the lab does not emulate; the message names the option and what is known."""


@dataclass(frozen=True)
class CephOffer:
    """One Ceph release as `PVE::Ceph::Releases` describes it on a PVE release."""

    codename: str
    experimental: bool  # `unsupported => 1`: pveceph asks, or wants --allow-experimental

    @property
    def version(self) -> str:
        return CEPH_VERSION[self.codename]

    @property
    def rendered(self) -> str:
        """pveceph's `$rendered_release`: `19.2 Squid`."""
        return f"{self.version} {self.codename.capitalize()}"


@dataclass(frozen=True)
class PveRelease:
    version: Version

    @property
    def text(self) -> str:
        return ".".join(str(p) for p in self.version)

    @property
    def major(self) -> int:
        return self.version[0]

    @property
    def minor_text(self) -> str:
        """`GET /version`'s `release`: `8.3`."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def suite(self) -> str:
        return "bookworm" if self.major == 8 else "trixie"

    @property
    def ceph_offers(self) -> tuple[CephOffer, ...]:
        """The `--version` enum of `pveceph install` (get_available_ceph_release_codenames(1)), sorted."""
        if self.major == 8:
            return tuple(CephOffer(c, False) for c in ("quincy", "reef", "squid"))
        offers = [CephOffer("squid", False)]
        if self.version >= (9, 1, 5):
            offers.append(CephOffer("tentacle", self.version < (9, 1, 13)))
        return tuple(offers)

    def offer(self, codename: str) -> CephOffer | None:
        return next((o for o in self.ceph_offers if o.codename == codename), None)

    @property
    def default_ceph(self) -> str:
        """`pveceph install` without --version (`current-backend-default`)."""
        if self.major == 8:
            return "quincy"
        return "tentacle" if self.version >= (9, 1, 13) else "squid"

    @property
    def wizard_default_ceph(self) -> str:
        """The GUI wizard's preselected release."""
        if self.major == 8:
            return "reef"
        return "tentacle" if self.version >= (9, 1, 13) else "squid"

    @property
    def repositories(self) -> tuple[str, ...]:
        return (*REPOSITORIES, "manual") if self.version >= (9, 0, 11) else REPOSITORIES

    @property
    def asks_to_switch_to_test(self) -> bool:
        """pveceph offers the test repository for an experimental release from enterprise (19d91509)."""
        return self.version >= (9, 1, 5)

    @property
    def has_ceph_releases_endpoint(self) -> bool:
        return self.version >= (9, 2, 7)

    @property
    def cfg_value_filters_db_keys(self) -> bool:
        """GET ceph/cfg/value checks the key of MON-DB entries, not only the section (0ef0aaba, 9.1.18)."""
        return self.version >= (9, 1, 18)

    @property
    def pool_status_reports_last_pool(self) -> bool:
        """getpool's statistics filter bug: every 8.x and 9.0-9.1.11."""
        return self.version < (9, 1, 12)

    @property
    def errors_carry_message(self) -> bool:
        """Errors have the JSON `message` (libpve-http-server-perl >= 5.2.0 on the node)."""
        return self.version >= _FIRST_WITH_HTTP_MESSAGE


def parse_version(text: str) -> Version:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        raise ReleaseError(f"--pve-release: {text!r} is not a release X.Y.Z (e.g. 8.3.0 or 9.2.11)")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def release(text: str) -> PveRelease:
    """The release named `X.Y.Z`, if the lab emulates it."""
    version = parse_version(text)
    if version not in KNOWN_RELEASES:
        first, last = KNOWN_RELEASES[0], KNOWN_RELEASES[-1]
        raise ReleaseError(
            f"--pve-release: PVE {text} is not a release the lab emulates; it knows "
            f"{'.'.join(map(str, first))} to {'.'.join(map(str, last))} (releases of pve-manager, 9.1.0 excepted)"
        )
    return PveRelease(version)


def newest_of_major(major: int) -> PveRelease:
    """`--pve-version 8|9`: the newest release of that major the lab knows."""
    versions = [v for v in KNOWN_RELEASES if v[0] == major]
    if not versions:
        raise ReleaseError(f"--pve-version: {major} is not 8 or 9")
    return PveRelease(max(versions))
