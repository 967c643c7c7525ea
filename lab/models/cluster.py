"""What a PVE cluster knows about itself besides Ceph, VMs and storages: packages, counters, its certificate
(pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lab.spec import LabSpec

# Ceph releases each PVE major version offers (pve-manager PVE/Ceph/Releases.pm, available-for-pve-release)
# and `pveceph install`'s repositories (pve-manager PVE/CLI/pveceph.pm, install's --repository enum).
CEPH_RELEASES = {8: ("quincy", "reef", "squid"), 9: ("squid", "tentacle")}
DEFAULT_RELEASE = {8: "quincy", 9: "squid"}
# Each release's version series (`release` in pve-manager PVE/Ceph/Releases.pm).
CEPH_RELEASE_NUMBERS = {"quincy": "17.2", "reef": "18.2", "squid": "19.2", "tentacle": "20.2"}


def ceph_package_version(release: str) -> str | None:
    """The version a node lists for the ceph packages of `release` (X.2.0-lab), None for a release PVE does not ship."""
    number = CEPH_RELEASE_NUMBERS.get(release)
    return f"{number}.0-lab" if number else None


REPOSITORIES = ("enterprise", "no-subscription", "test")


@dataclass
class TaskTimes:
    """Wall-clock start and end of a task's body (the UPID only has whole seconds)."""

    start: float | None = None
    end: float | None = None


MAX_REQUEST_TIMES = 50_000


@dataclass
class ClusterState:
    spec: LabSpec
    # node -> Ceph release whose packages are installed there
    installed: dict[str, str] = field(default_factory=dict)
    # (method, schema path template) -> requests answered
    request_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (wall-clock time, method, schema path template) of the newest requests, for bench/orchestration.py's
    # timeline (which waits polled, where nothing happened); the oldest go beyond MAX_REQUEST_TIMES.
    request_times: list[tuple[float, str, str]] = field(default_factory=list)
    task_times: dict[str, TaskTimes] = field(default_factory=dict)
    # SHA-256 fingerprint of the certificate the API serves (set when it starts): every node's pve-ssl.pem
    ssl_fingerprint: str = ""
    # node -> monotonic time until which PVE's proxy cannot reach it (the node itself keeps running)
    unreachable_until: dict[str, float] = field(default_factory=dict)

    def make_unreachable(self, node: str, until: float) -> None:
        self.unreachable_until[node] = until

    def is_unreachable(self, node: str, now: float) -> bool:
        """Does a request for `node` get 595 at `now`? The window ends by itself."""
        until = self.unreachable_until.get(node)
        if until is not None and now >= until:
            del self.unreachable_until[node]
        return until is not None and now < until

    def install(self, node: str, release: str) -> None:
        self.installed[node] = release

    def is_installed(self, node: str) -> bool:
        return node in self.installed

    def note_request_time(self, when: float, method: str, template: str) -> None:
        self.request_times.append((when, method, template))
        if len(self.request_times) > MAX_REQUEST_TIMES:
            del self.request_times[: len(self.request_times) - MAX_REQUEST_TIMES]
