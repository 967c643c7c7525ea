"""What a PVE cluster knows about itself besides Ceph, VMs and storages: packages, counters, its certificate
(pure).

Which Ceph releases and repositories a node offers is the release's (lab/releases.py); what
`pveceph install` does to a node goes through lab/models/node_install.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lab.spec import LabSpec


@dataclass
class TaskTimes:
    """Wall-clock start and end of a task's body (the UPID only has whole seconds)."""

    start: float | None = None
    end: float | None = None
    lock_wait: float = 0.0  # seconds of the body spent waiting for cluster locks (models/locks.py)


MAX_REQUEST_TIMES = 50_000


@dataclass(frozen=True)
class RequestTime:
    """One API request as the lab answered it: wall-clock arrival, method, schema path template, the
    node in its path (None for cluster-wide paths), and the seconds until its answer was ready."""

    when: float
    method: str
    template: str
    node: str | None
    seconds: float


@dataclass
class ClusterState:
    spec: LabSpec
    # node -> Ceph release whose packages are installed there
    installed: dict[str, str] = field(default_factory=dict)
    # nodes where `pveceph install` left /run/pve-ceph-install-flag (running, or killed while it ran)
    install_flag: set[str] = field(default_factory=set)
    # nodes whose dpkg was interrupted while unpacking (apt wants `dpkg --configure -a`)
    dpkg_interrupted: set[str] = field(default_factory=set)
    # (method, schema path template) -> requests answered
    request_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    # The newest requests, when they came and how long their answers took, for bench/orchestration.py's
    # timeline (which waits polled, where nothing happened, which calls were slow); the oldest go beyond
    # MAX_REQUEST_TIMES.
    request_times: list[RequestTime] = field(default_factory=list)
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
        """pve-manager PVE/Ceph/Tools.pm check_ceph_installed: the binary is there and no install runs
        (the flag file is checked too, since dpkg unpacks the binaries before the install is done)."""
        return node in self.installed and node not in self.install_flag

    def note_request_time(self, noted: RequestTime) -> None:
        self.request_times.append(noted)
        if len(self.request_times) > MAX_REQUEST_TIMES:
            del self.request_times[: len(self.request_times) - MAX_REQUEST_TIMES]
