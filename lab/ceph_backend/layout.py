"""Where a lab's Ceph keeps its files, in one place.

<root>/ceph.conf                       the cluster's ceph.conf (PVE: /etc/pve/ceph.conf)
<root>/priv/ceph.client.admin.keyring  (PVE: /etc/pve/priv/ceph.client.admin.keyring)
<root>/priv/ceph.mon.keyring           (PVE: /etc/pve/priv/ceph.mon.keyring)
<root>/data/<type>/ceph-<id>/          daemon data (PVE: /var/lib/ceph/<type>/ceph-<id>), with lab.json
<root>/disks/<node>-<dev>.img          the sparse file behind each node's disk
<root>/run/                            admin sockets (reached through a short symlink when needed)
<root>/log/                            daemon logs, the cluster log ceph.log and ceph.audit.log
<root>/failed/<node>.json              daemons that ran on a node when `fail_node` cut its power
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from lab.spec import Disk

DAEMON_KINDS = ("mon", "mgr", "osd")
# sun_path holds 108 bytes including the NUL; the longest socket name we create is "mon.<id>.asok"
# with ids of up to ~40 characters, so the run dir must stay well below that.
_MAX_RUN_DIR = 50


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.conf = self.root / "ceph.conf"
        self.lock = self.root / ".conf.lock"
        self.priv = self.root / "priv"
        self.admin_keyring = self.priv / "ceph.client.admin.keyring"
        self.mon_keyring = self.priv / "ceph.mon.keyring"
        self.client_keyring_pattern = str(self.priv / "$cluster.$name.keyring")
        self.data = self.root / "data"
        self.disks = self.root / "disks"
        self.run = self.root / "run"
        self.log = self.root / "log"
        self.crash = self.root / "crash"
        self.failed = self.root / "failed"
        self.tmp = self.root / "tmp"

    def cluster_log(self, node: str) -> Path:
        """A node's cluster log, written by its MON (PVE: /var/log/ceph/ceph.log on that node)."""
        return self.log / f"{node}.ceph.log"

    def daemon_dir(self, kind: str, daemon_id: str | int) -> Path:
        return self.data / kind / f"ceph-{daemon_id}"

    def daemon_dirs(self, kind: str) -> list[Path]:
        base = self.data / kind
        return sorted(p for p in base.glob("ceph-*") if p.is_dir()) if base.is_dir() else []

    def disk_file(self, node: str, disk: Disk) -> Path:
        return self.disks / f"{node}-{disk.name}.img"

    def failed_disk_file(self, node: str, disk: Disk) -> Path:
        """Where a failed disk's file goes (`fail_disk`): the slot is then empty, its reads error."""
        return self.disks / f"{node}-{disk.name}.img.failed"

    def failed_file(self, node: str) -> Path:
        return self.failed / f"{node}.json"

    @property
    def short_run(self) -> Path:
        """The admin socket directory as daemons see it.

        A pytest tmp dir easily makes `<root>/run/mon.pve1.asok` longer than a unix socket path may
        be, so long roots go through a symlink in the temp dir whose name is derived from the root
        (stable across API restarts, distinct per lab).
        """
        if len(str(self.run)) <= _MAX_RUN_DIR:
            return self.run
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"cephlab-{digest}"

    def ensure_dirs(self) -> None:
        for path in (
            self.root,
            self.priv,
            self.data,
            self.disks,
            self.run,
            self.log,
            self.crash,
            self.failed,
            self.tmp,
        ):
            path.mkdir(parents=True, exist_ok=True)
        self.priv.chmod(0o700)
        link = self.short_run
        if link != self.run and not (link.is_symlink() and link.resolve() == self.run):
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            os.symlink(self.run, link)

    def remove_short_run(self) -> None:
        """Drop the socket symlink (on `lab down`); it is recreated when a daemon starts again."""
        link = self.short_run
        if link != self.run and link.is_symlink():
            link.unlink()
