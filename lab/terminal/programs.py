"""The commands a lab terminal runs: `pveceph install` and `/bin/login`, as state machines on a Tty.

`pveceph install` follows `PVE/CLI/pveceph.pm` `install` of the release the lab emulates (see
lab/releases.py for the commits): option parsing as pve-common's `JSONSchema::get_options`
(Getopt::Long, prefix `--` or `-`) and `RESTHandler::cli_handler`, its warnings, its own prompts
(`This will install Ceph ... - continue (y/N)?` only without --version; the technology-preview and
switch-to-test prompts where they exist), the repository file, `apt-get -q update` (stdout dropped,
stderr shown), the install flag `/run/pve-ceph-install-flag` that makes Ceph calls answer
`binary not installed` while apt runs, apt-get's own `Do you want to continue? [Y/n]` (apt 2.6 and
3.0 keep that wording for apt-get: APT::Output-Version 30 is set for `apt` only,
apt-private/private-cmndline.cc), and the daemons' reload. Package names, versions and sizes in
apt's listing are representative, not read from a repository.

What the lab does to a node goes through `InstallTarget`, so the programs stay free of HTTP and of
the lab's state classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from lab.releases import PveRelease
from lab.terminal.tty import Hangup, Interrupted, Tty

PVECEPH_PACKAGES = ("ceph", "ceph-common", "ceph-fuse", "ceph-mds", "ceph-volume", "gdisk", "nvme-cli")
# Representative package builds per release, for apt's listing only.
PACKAGE_VERSION = {"quincy": "17.2.8-pve2", "reef": "18.2.7-pve1", "squid": "19.2.3-pve1", "tentacle": "20.2.0-pve1"}
DEPENDENCIES = (
    "ceph-base",
    "ceph-mgr",
    "ceph-mgr-modules-core",
    "ceph-mon",
    "ceph-osd",
    "libcephfs2",
    "libradosstriper1",
    "librgw2",
    "python3-ceph-argparse",
    "python3-ceph-common",
    "python3-cephfs",
    "python3-rados",
    "python3-rbd",
    "python3-rgw",
)
UPGRADED = ("librados2", "librbd1", "python3-ceph-argparse", "python3-rados", "python3-rbd")
USAGE = "pveceph install  [OPTIONS]"
# What the install steps take on a small node with a good mirror (lab seconds before time scaling).
APT_UPDATE_SECONDS = 2.0
FETCH_SECONDS = 6.0
UNPACK_SECONDS = 10.0
RELOAD_SECONDS = 2.0
RELOAD_AT_LEAST = 0.2


class InstallTarget(Protocol):
    """What `pveceph install` changes on the node it runs on."""

    node: str
    has_subscription: bool

    def installed_release(self) -> str | None: ...

    def write_ceph_source(self, codename: str, repository: str) -> None:
        """The Ceph APT source file, rewritten with this one entry (`ceph.list` on 8.x, `ceph.sources` on 9.x)."""

    def dpkg_interrupted(self) -> bool: ...

    def begin_install(self) -> None:
        """`start installation`: the install flag exists (Ceph calls answer `binary not installed`)."""

    def finish_install(self, codename: str) -> None:
        """apt succeeded: packages present, flag removed, dpkg consistent."""

    def abort_install(self) -> None:
        """apt failed cleanly (answered n, nothing to install): flag removed, nothing changed."""

    def interrupt_install(self, dpkg_broken: bool) -> None:
        """Killed by SIGHUP/SIGINT after `start installation`: the flag stays; dpkg is left half done
        (`dpkg --configure -a` needed) if it was unpacking."""

    def reload_daemons(self) -> None:
        """`systemctl try-reload-or-restart pvedaemon.service pveproxy.service`."""


class Die(Exception):
    """A Perl die: the message goes to the terminal (stderr) and pveceph exits 255."""


@dataclass(frozen=True)
class InstallArgs:
    version: str | None = None
    repository: str | None = None
    allow_experimental: bool = False


def parse_install_args(argv: list[str], release: PveRelease) -> InstallArgs:
    """get_options + the schema check of `pveceph install`'s parameters; raises Die with pveceph's text."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        match = re.fullmatch(r"(?:--|-)([^=]+)(?:=(.*))?", word, re.DOTALL)
        if not match:
            raise Die(f"400 too many arguments\n{USAGE}\n")
        name, inline = match.group(1), match.group(2)
        if name not in ("version", "repository", "allow-experimental"):
            unknown.append(name)
            i += 1
            continue
        if inline is not None:
            values[name] = inline
        elif name == "allow-experimental":  # boolean: `:s`, an optional value
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is not None and not nxt.startswith("-"):
                values[name] = nxt
                i += 1
            else:
                values[name] = "1"
        else:
            if i + 1 >= len(argv):
                raise Die(f"Option {name} requires an argument\n400 unable to parse option\n{USAGE}\n")
            values[name] = argv[i + 1]
            i += 1
        i += 1
    if unknown:
        warnings = "".join(f"Unknown option: {name}\n" for name in unknown)
        raise Die(f"{warnings}400 unable to parse option\n{USAGE}\n")
    errors = []
    offers = [o.codename for o in release.ceph_offers]
    if "version" in values and values["version"] not in offers:
        errors.append(
            f"version: value '{values['version']}' does not have a value in the enumeration '{', '.join(offers)}'"
        )
    if "repository" in values and values["repository"] not in release.repositories:
        errors.append(
            f"repository: value '{values['repository']}' does not have a value in the enumeration "
            f"'{', '.join(release.repositories)}'"
        )
    experimental = values.get("allow-experimental")
    if experimental is not None and experimental.lower() not in (
        "",
        "0",
        "1",
        "yes",
        "no",
        "on",
        "off",
        "true",
        "false",
    ):
        errors.append(f"allow-experimental: type check ('boolean') failed - got '{experimental}'")
    if errors:
        raise Die("400 Parameter verification failed.\n" + "".join(f"{e}\n" for e in errors) + f"{USAGE}\n")
    return InstallArgs(
        version=values.get("version"),
        repository=values.get("repository"),
        allow_experimental=(experimental or "0").lower() in ("", "1", "yes", "on", "true"),
    )


def _yes(answer: str | None) -> bool:
    """pveceph's own prompts: `m/^\\s*y(?:es)?\\s*$/i`, no answer is no."""
    return answer is not None and re.fullmatch(r"\s*y(?:es)?\s*", answer, re.IGNORECASE) is not None


class PvecephInstall:
    """One run of `/usr/bin/pveceph install ARGS` on a node; `run` returns the exit code."""

    def __init__(self, argv: list[str], release: PveRelease, target: InstallTarget) -> None:
        self.argv = argv
        self.release = release
        self.target = target
        self._flag_created = False
        self._dpkg_busy = False

    async def run(self, tty: Tty) -> int:
        try:
            await self._install(tty)
        except Die as exc:
            tty.write(str(exc))
            return 255
        except (Interrupted, Hangup) as exc:
            # SIGINT/SIGHUP end Perl and apt alike: the flag stays, and dpkg is left half done if it ran.
            if self._flag_created:
                self.target.interrupt_install(dpkg_broken=self._dpkg_busy)
            return 130 if isinstance(exc, Interrupted) else 129
        return 0

    async def _install(self, tty: Tty) -> None:
        release, target = self.release, self.target
        args = parse_install_args(self.argv, release)
        codename = args.version or release.default_ceph
        offer = release.offer(codename)
        if offer is None:  # only reachable through the default, which is always offered
            raise Die(f"unsupported ceph version: {codename} at /usr/share/perl5/PVE/CLI/pveceph.pm line 160.\n")
        repo = await self._repository_notes(tty, offer.experimental, args.repository or "enterprise")
        if args.version is None:
            tty.write(f"This will install Ceph {offer.rendered} - continue (y/N)? ")
            if not _yes(await tty.readline()):
                raise Die("Aborting installation as requested\n")
        if repo != "manual":
            target.write_ceph_source(codename, repo)
            if offer.experimental:
                if args.allow_experimental:
                    tty.write(f"NOTE: installing experimental/tech-preview Ceph release {offer.rendered}!\n")
                else:
                    tty.write(
                        f"Ceph {offer.rendered} is currently considered a technology preview for Proxmox VE - "
                        "continue (y/N)? "
                    )
                    if not _yes(await tty.readline()):
                        raise Die("Aborting installation as requested\n")
        tty.write("update available package list\n")
        await tty.pause(APT_UPDATE_SECONDS)
        unreachable = repo == "enterprise" and not target.has_subscription
        if unreachable:
            url = f"https://enterprise.proxmox.com/debian/ceph-{codename}"
            tty.write(
                f"E: Failed to fetch {url}/dists/{release.suite}/InRelease  401  Unauthorized [IP: 51.91.38.34 443]\n"
                f"E: The repository '{url} {release.suite} InRelease' is not signed.\n"
            )
        if repo == "manual":
            # The lab's nodes have no hand-made Ceph repository: the base repository's ceph-common is all.
            available = PACKAGE_VERSION["squid" if release.major == 9 else "quincy"]
            if not available.startswith(offer.version):
                raise Die(
                    f"Selected Ceph version '{offer.version}' does not match the available version in the "
                    f"repository '{available}' \n"
                )
            tty.write(
                "\nUsing the following manual repository:\nSite:\t\t download.proxmox.com\n"
                "Component:\t pve-no-subscription\n\n"
            )
        tty.write("start installation\n")
        target.begin_install()
        self._flag_created = True
        code = await self._apt_get_install(tty, codename, unreachable)
        if code != 0:
            target.abort_install()
            self._flag_created = False
            raise Die(f"apt failed during ceph installation ({code * 256})\n")
        target.finish_install(codename)
        tty.write(f"\ninstalled Ceph {offer.rendered} successfully!\n")
        self._flag_created = False
        tty.write("\nreloading API to load new Ceph RADOS library...\n")
        target.reload_daemons()
        # systemctl prints nothing and takes real time: termproxy then sees a quiet hangup (session.py)
        await tty.pause(RELOAD_SECONDS, at_least=RELOAD_AT_LEAST)

    async def _repository_notes(self, tty: Tty, experimental: bool, repo: str) -> str:
        """The warnings before anything is written; from 9.1.5 the offer to switch to the test repository.
        Returns the repository pveceph goes on with."""
        target, release = self.target, self.release
        if experimental and repo == "enterprise" and release.asks_to_switch_to_test:
            tty.write(
                "\nWARN: Enterprise repository selected, but Ceph release is still marked as experimental, "
                "repository might not (yet) be useable!\n\n"
            )
            tty.write("Do you want to switch to the test repository (Y/n)? ")
            answer = (await tty.readline() or "").strip()
            if not answer or re.fullmatch(r"\s*y(?:es)?\s*", answer, re.IGNORECASE):
                return "test"
        elif target.has_subscription:
            if repo != "enterprise":
                tty.write(
                    "\nNOTE: The node has an active subscription but a non-production Ceph repository selected.\n\n"
                )
        elif repo == "enterprise":
            tty.write("\nWARN: Enterprise repository selected, but no active subscription!\n\n")
        elif repo == "no-subscription":
            tty.write(
                "\nHINT: The no-subscription repository is not the best choice for production setups.\n"
                "Proxmox recommends using the enterprise repository with a valid subscription.\n"
            )
        elif repo == "manual":
            tty.write(
                "\nHINT: The manual repository option expects that the Ceph repository is already correctly "
                "configured. For example, when used in combination with Proxmox Offline Mirror.\n"
            )
        else:
            tty.write(
                "\nWARN: The test repository should only be used for test setups or after consulting the "
                "official Proxmox support!\n\n"
            )
        return repo

    async def _apt_get_install(self, tty: Tty, codename: str, unreachable: bool) -> int:
        """`apt-get --no-install-recommends -o Dpkg::Options::=--force-confnew install -- ceph ...`."""
        target = self.target
        tty.write(
            "Reading package lists... Done\nBuilding dependency tree... Done\nReading state information... Done\n"
        )
        if target.dpkg_interrupted():
            tty.write("E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. \n")
            return 100
        if unreachable:
            tty.write("E: Package 'ceph' has no installation candidate\n")
            return 100
        version = PACKAGE_VERSION[codename]
        installed = target.installed_release()
        if installed == codename:
            for name in PVECEPH_PACKAGES[:5]:
                tty.write(f"{name} is already the newest version ({version}).\n")
            tty.write("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
            return 0
        new = sorted({*PVECEPH_PACKAGES, *DEPENDENCIES} - set(UPGRADED))
        tty.write("The following additional packages will be installed:\n")
        tty.write(_columns(sorted(set(DEPENDENCIES) | set(UPGRADED))))
        tty.write("Suggested packages:\n  ceph-mgr-dashboard ceph-mgr-diskprediction-local\n")
        tty.write("The following NEW packages will be installed:\n")
        tty.write(_columns(new))
        tty.write("The following packages will be upgraded:\n")
        tty.write(_columns(sorted(UPGRADED)))
        tty.write(
            f"{len(UPGRADED)} upgraded, {len(new)} newly installed, 0 to remove and 0 not upgraded.\n"
            "Need to get 58.3 MB of archives.\nAfter this operation, 231 MB of additional disk space will be used.\n"
        )
        # YnPrompt: tcflush first, so an answer typed ahead of the question is lost.
        tty.flush_input()
        tty.write("Do you want to continue? [Y/n] ")
        answer = await tty.readline()
        if answer is None or (answer.strip() and not re.match(r"^[yY]", answer)):
            tty.write("Abort.\n")
            return 1
        repo_url = f"http://download.proxmox.com/debian/ceph-{codename}"
        packages = sorted(set(new) | set(UPGRADED))
        for n, name in enumerate(packages, 1):
            tty.write(
                f"Get:{n} {repo_url} {self.release.suite}/no-subscription amd64 {name} amd64 {version} [1,024 kB]\n"
            )
            await tty.pause(FETCH_SECONDS / len(packages))
        tty.write(f"Fetched 58.3 MB in {int(FETCH_SECONDS)}s (9,716 kB/s)\n")
        self._dpkg_busy = True
        for name in packages:
            tty.write(f"Preparing to unpack .../{name}_{version}_amd64.deb ...\nUnpacking {name} ({version}) ...\n")
            await tty.pause(UNPACK_SECONDS / (2 * len(packages)))
        for name in packages:
            tty.write(f"Setting up {name} ({version}) ...\n")
            await tty.pause(UNPACK_SECONDS / (2 * len(packages)))
        self._dpkg_busy = False
        tty.write(
            "Processing triggers for man-db (2.11.2-2) ...\nProcessing triggers for libc-bin (2.36-9+deb12u10) ...\n"
        )
        return 0


def _columns(names: list[str]) -> str:
    """apt's package lists: two-space indent, wrapped before 80 columns."""
    lines, line = [], " "
    for name in names:
        if len(line) + 1 + len(name) > 79:
            lines.append(line)
            line = " "
        line += " " + name
    lines.append(line)
    return "\n".join(lines) + "\n"


LOGIN_TIMEOUT = 60.0  # login(1): LOGIN_TIMEOUT in /etc/login.defs, 60 on Debian
LOGIN_FAIL_DELAY = 3.0  # FAIL_DELAY


class Login:
    """`/bin/login` without `-f`: what a non-root user (any API token included) gets from termproxy.

    The lab has no local accounts to log in to, so every attempt is `Login incorrect`; a real node
    would let a Unix account in with its password.
    """

    def __init__(self, node: str) -> None:
        self.node = node

    async def run(self, tty: Tty) -> int:
        try:
            for _attempt in range(3):
                tty.write(f"{self.node} login: ")
                if await tty.readline() is None:
                    return 1
                tty.write("Password: ")
                if await tty.readline() is None:
                    return 1
                await tty.pause(LOGIN_FAIL_DELAY)
                tty.write("\nLogin incorrect\n")
        except (Hangup, Interrupted):
            return 1
        return 1
