"""Starting and stopping ceph-mon, ceph-mgr and ceph-osd processes, in the foreground, by PID.

Each daemon's data dir holds a `lab.json` (kind, id, node, IP, and for OSDs the disk), so which
node runs what is read from disk and survives a restart of the API process. Processes are started
through the lab's `ProcessTracker`; each command line names the lab's ceph.conf and data dir, which
is what lets the tracker prove later that a PID is still ours. An OSD's addresses are chosen at
each start from ceph.conf's networks, as Ceph does on a node (addresses.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.processes import ProcessTracker, TrackedProcess, is_ours

from . import tuning
from .addresses import NoAddressInNetwork, OsdAddresses
from .errors import CephBackendError
from .layout import DAEMON_KINDS, Layout

META_FILE = "lab.json"


@dataclass(frozen=True)
class DaemonMeta:
    """What the lab knows about one daemon; stored as `lab.json` in its data dir."""

    kind: str  # mon | mgr | osd
    id: str
    node: str
    ip: str
    extra: dict[str, str] = field(default_factory=dict)  # osd: disk, device_class, encrypted, uuid

    @property
    def name(self) -> str:
        """Ceph's entity name (`osd.3`), also the process role in the tracker."""
        return f"{self.kind}.{self.id}"


def write_meta(directory: Path, meta: DaemonMeta) -> None:
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(meta), indent=1))
    os.replace(tmp, directory / META_FILE)


def read_meta(directory: Path) -> DaemonMeta | None:
    """The daemon described by a data dir, or None for a dir without (valid) lab.json."""
    try:
        row = json.loads((directory / META_FILE).read_text())
        return DaemonMeta(
            kind=row["kind"], id=str(row["id"]), node=row["node"], ip=row["ip"], extra=dict(row.get("extra") or {})
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def daemon_env(meta: DaemonMeta) -> dict[str, str]:
    """The daemon's environment: the host's, with the node name as Ceph's idea of the hostname.

    $NODE_NAME is what Ceph's `ceph_get_hostname()` prefers (meant for containers, used for `host`
    defaults); `$CONTAINER_NAME` would add a `container_name` to the daemon metadata that PVE
    nodes do not have.
    """
    env = dict(os.environ)
    env["NODE_NAME"] = meta.node
    env.pop("CONTAINER_NAME", None)
    env.update(tuning.MALLOC_ENV)
    return env


@functools.cache
def _can_unshare_uts() -> bool:
    try:
        return (
            subprocess.run(["unshare", "--uts", "--", "true"], capture_output=True, timeout=10, check=False).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def node_hostname_prefix(node: str) -> list[str]:
    """Run the daemon in its own UTS namespace whose hostname is the lab node.

    `ceph osd|mon|mgr metadata` report `hostname` from uname(), and PVE matches that against the
    node (`OSD '<id>' does not exists on host '<node>'`, the `host` of the MON/MGR lists). `exec`
    keeps the PID, so the tracker records the daemon itself. Without the privilege to unshare
    (not root) the daemons run as they are and report this machine's name.
    """
    if not _can_unshare_uts():
        return []
    return ["unshare", "--uts", "--", "/bin/sh", "-c", 'hostname "$0" && exec "$@"', node]


class Daemons:
    """The lab's Ceph processes: argv construction, start, stop, kill, liveness."""

    def __init__(
        self,
        layout: Layout,
        tracker: ProcessTracker,
        osd_addresses: Callable[[DaemonMeta], OsdAddresses] | None = None,
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.layout = layout
        self.tracker = tracker
        # Where an OSD binds, decided at each start (addresses.py); without it, its node's public IP.
        self.osd_addresses = osd_addresses or (lambda meta: OsdAddresses(public=meta.ip, cluster=meta.ip))
        self.overrides = overrides or {}  # the lab's own settings per kind (tuning.lab_overrides)
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- what exists --------------------------------------------------------------------------------

    def all(self, kind: str | None = None) -> list[DaemonMeta]:
        kinds = [kind] if kind else list(DAEMON_KINDS)
        out = []
        for k in kinds:
            for directory in self.layout.daemon_dirs(k):
                meta = read_meta(directory)
                if meta is not None:
                    out.append(meta)
        return out

    def get(self, kind: str, daemon_id: str | int) -> DaemonMeta | None:
        return read_meta(self.layout.daemon_dir(kind, daemon_id))

    def process(self, meta: DaemonMeta) -> TrackedProcess | None:
        """The live process of a daemon, None when it does not run."""
        self._reap()
        for proc in self.tracker.load():
            if proc.role == meta.name and is_ours(proc):
                return proc
        return None

    def _forget_dead(self, meta: DaemonMeta) -> None:
        """Drop records of this daemon whose process is gone (a crash leaves its record behind)."""
        for proc in self.tracker.load():
            if proc.role == meta.name and not is_ours(proc):
                self.tracker.forget(proc.pid)

    def log_path(self, meta: DaemonMeta) -> Path:
        return self.layout.log / f"{meta.name}.log"

    # -- command lines ------------------------------------------------------------------------------

    def argv(self, meta: DaemonMeta) -> list[str]:
        """The daemon's command line: lab paths and addresses, then the lab tuning."""
        lay = self.layout
        data = lay.daemon_dir(meta.kind, meta.id)
        run = lay.short_run
        osd = self.osd_addresses(meta) if meta.kind == "osd" else None
        argv = [
            *node_hostname_prefix(meta.node),
            f"/usr/bin/ceph-{meta.kind}",
            "-f",
            "--cluster",
            "ceph",
            "--id",
            meta.id,
            "--conf",
            str(lay.conf),
            "--keyring",
            str(data / "keyring"),
            f"--{meta.kind}-data",
            str(data),
            "--log-file",
            str(self.log_path(meta)),
            "--admin-socket",
            str(run / f"{meta.name}.asok"),
            "--run-dir",
            str(run),
            "--crash-dir",
            str(lay.crash),
            "--public-addr",
            osd.public if osd else meta.ip,
        ]
        if meta.kind == "mon":
            # The cluster log (PVE shows it as the Ceph log) would go to /var/log/ceph, shared by all labs;
            # each MON writes every entry to its own node's file, as on separate nodes.
            channels = f"default={lay.log}/{meta.node}.ceph.$channel.log cluster={lay.cluster_log(meta.node)}"
            argv.append(f"--mon_cluster_log_file={channels}")
        if osd is not None:
            argv += ["--cluster-addr", osd.cluster, f"--crush-location=host={meta.node} root=default"]
            # On loopback the kernel gives every outgoing connection the source 127.0.0.1; on a node the
            # route to a peer's cluster address leaves through the NIC holding the node's own, so both
            # ends of replication traffic are in the cluster network. Binding first does the same here.
            argv.append("--ms_bind_before_connect=true")
        return argv + tuning.args_for(meta.kind, self.overrides)

    # -- start / stop -------------------------------------------------------------------------------

    def start(self, meta: DaemonMeta) -> int:
        """Start the daemon unless it runs already; its PID."""
        with self._lock:
            running = self.process(meta)
            if running is not None:
                return running.pid
            self._forget_dead(meta)
            self.layout.ensure_dirs()
            try:
                argv = self.argv(meta)
            except NoAddressInNetwork as exc:
                # The daemon would log this and exit 1 at once; the lab logs it instead of starting it.
                with open(self.log_path(meta), "a") as log:
                    log.write(f"-1 {exc}\n-1 Failed to pick cluster address.\n")
                raise NoAddressInNetwork(f"{meta.name} exited during startup: {exc}") from exc
            popen = self.tracker.spawn(meta.name, argv, self.layout.log / f"{meta.name}.out", env=daemon_env(meta))
            self._children[meta.name] = popen
            return popen.pid

    def stop(self, meta: DaemonMeta, timeout: float = 20.0) -> bool:
        """SIGTERM, then SIGKILL after timeout. True if it was running."""
        proc = self.process(meta)
        if proc is None:
            self._forget_dead(meta)
            return False
        stopped = self.tracker.stop(proc, timeout=timeout)
        self._reap()
        return stopped

    def kill(self, meta: DaemonMeta) -> bool:
        """SIGKILL, as a power loss would. True if it was running."""
        proc = self.process(meta)
        if proc is None:
            self._forget_dead(meta)
            return False
        killed = self.tracker.kill(proc)
        self._reap()
        return killed

    def ensure_alive(self, meta: DaemonMeta) -> None:
        """Raise with the end of the daemon's log when it has exited (used while waiting for it)."""
        if self.process(meta) is None:
            raise CephBackendError(
                f"{meta.name} exited during startup; end of {self.log_path(meta)}:\n" + self.log_tail(meta)
            )

    def log_tail(self, meta: DaemonMeta, lines: int = 15) -> str:
        chunks = []
        for path in (self.layout.log / f"{meta.name}.out", self.log_path(meta)):
            with contextlib.suppress(OSError):
                chunks += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(chunks[-lines:])

    def _reap(self) -> None:
        """Collect our own children that exited, so they do not linger as zombies."""
        for name, popen in list(self._children.items()):
            if popen.poll() is not None:
                self._children.pop(name, None)  # another thread's stop may have reaped it meanwhile
