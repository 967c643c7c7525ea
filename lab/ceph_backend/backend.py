"""One lab's Ceph cluster: real ceph-mon/mgr/osd daemons on the nodes' loopback IPs.

This is the layer underneath the simulated PVE API: it does what `pveceph` and ceph-volume do on a
real node (write ceph.conf, mkfs, start daemons, wait for Ceph to agree) and nothing of PVE's own
checks and wording, which belong to the API layer. Every method blocks until Ceph shows the effect
(a MON in quorum, an OSD up and in, ...) and is meant to run in a worker thread.

Nothing needed later is kept only in memory: ceph.conf, the data dirs with their `lab.json` and the
process tracker's pids.json are the state, so a restarted API process picks up a running lab.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.processes import ProcessTracker
from lab.spec import Disk, LabSpec

from . import addresses, conf, disks, tuning
from .commands import CephCli
from .daemons import DaemonMeta, Daemons, write_meta
from .errors import CephBackendError, CephCommandError
from .layout import Layout

MON_QUORUM_TIMEOUT = 60.0
LONG_RADOS_TIMEOUT = 60.0  # pve-manager PVE/Ceph/Tools.pm config long_rados_timeout
OSD_UP_TIMEOUT = 90.0
OSD_DOWN_TIMEOUT = 30.0
POLL = 0.3

log = logging.getLogger(__name__)


class CephBackend:
    """The Ceph layer of one lab (see the package docstring for the layout on disk)."""

    def __init__(
        self,
        root: Path,
        spec: LabSpec,
        tracker: ProcessTracker,
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.layout = Layout(root)
        self.spec = spec  # replaced by LabPve when the lab grows a node or a disk is swapped
        self.tracker = tracker
        self.conf_path: Path = self.layout.conf
        self.admin_keyring: Path = self.layout.admin_keyring
        self.cli = CephCli(self.conf_path)
        self.procs = Daemons(self.layout, tracker, osd_addresses=self._osd_addresses, overrides=overrides)
        self._conf_lock = threading.RLock()
        self._node_locks: dict[str, threading.Lock] = {}
        self._node_locks_guard = threading.Lock()

    # -- ceph.conf ----------------------------------------------------------------------------------

    def initialized(self) -> bool:
        return "fsid" in self._read_sections().get("global", {})

    def init(self, public_network: str, cluster_network: str | None, size: int, min_size: int) -> str:
        """`pveceph init`: ceph.conf [global] and [client], the admin and mon keyrings. No daemons.

        A repeat call keeps fsid, auth and pool defaults and only rewrites the networks, as PVE does.
        """
        self.layout.ensure_dirs()
        self._update_conf(
            lambda sections: conf.with_init(
                sections,
                public_network=public_network,
                cluster_network=cluster_network,
                size=size,
                min_size=min_size,
                client_keyring=self.layout.client_keyring_pattern,
            )
        )
        self._ensure_keyrings()
        return self.fsid

    @property
    def fsid(self) -> str:
        return self._require_init()["global"]["fsid"]

    def config(self) -> dict[str, dict[str, str]]:
        """The parsed sections of ceph.conf (for cfg/raw and the MON IP checks)."""
        return self._read_sections()

    def cluster_log(self, node: str) -> Path:
        """The node's cluster log (PVE: /var/log/ceph/ceph.log), written by its MON: absent on a node never with one."""
        return self.layout.cluster_log(node)

    def raw_conf(self) -> str:
        try:
            return self.conf_path.read_text()
        except FileNotFoundError as exc:
            raise CephBackendError(f"ceph not initialized - missing '{self.conf_path}'") from exc

    def _read_sections(self) -> conf.Sections:
        try:
            return conf.parse(self.conf_path.read_text())
        except FileNotFoundError:
            return {}

    def _require_init(self) -> conf.Sections:
        sections = self._read_sections()
        if "fsid" not in sections.get("global", {}):
            raise CephBackendError(f"ceph not initialized - missing '{self.conf_path}'")
        return sections

    def _update_conf(self, change: Callable[[conf.Sections], conf.Sections]) -> None:
        """Read-modify-write ceph.conf under a lock (threads of this process and other processes)."""
        self.layout.ensure_dirs()
        with self._conf_lock, open(self.layout.lock, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                sections = change(self._read_sections())
                tmp = self.conf_path.with_suffix(".tmp")
                tmp.write_text(conf.render(sections))
                os.replace(tmp, self.conf_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ensure_keyrings(self) -> None:
        """client.admin with all caps, and the `mon.` key that every MON shares (PVE creates both)."""
        lay = self.layout
        if not lay.admin_keyring.exists():
            self.cli.tool(
                "ceph-authtool",
                "--create-keyring",
                str(lay.admin_keyring),
                "--gen-key",
                "-n",
                "client.admin",
                "--cap",
                "mon",
                "allow *",
                "--cap",
                "osd",
                "allow *",
                "--cap",
                "mds",
                "allow *",
                "--cap",
                "mgr",
                "allow *",
            )
            lay.admin_keyring.chmod(0o600)
        if not lay.mon_keyring.exists():
            tmp = lay.mon_keyring.with_suffix(".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            self.cli.tool(
                "ceph-authtool", "--create-keyring", str(tmp), "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"
            )
            # The first MON's mkfs seeds the auth database from this keyring, admin key included.
            self.cli.tool("ceph-authtool", str(tmp), "--import-keyring", str(lay.admin_keyring))
            tmp.chmod(0o600)
            os.replace(tmp, lay.mon_keyring)

    # -- commands -----------------------------------------------------------------------------------

    def command(self, *args: str, timeout: float = 30) -> Any:
        """`ceph --conf <conf> <args> --format json`, parsed (None for no output); CephCommandError on failure."""
        return self.cli.ceph(*args, timeout=timeout)

    def rbd(self, *args: str, timeout: float = 60) -> Any:
        """`rbd --conf <conf> <args>` (JSON where rbd supports it)."""
        return self.cli.rbd(*args, timeout=timeout)

    # -- monitors -----------------------------------------------------------------------------------

    def create_mon(self, mon_id: str, node: str, ip: str) -> None:
        """mkfs a MON, add it to ceph.conf and start it; returns once it is started, as PVE's createmon does.

        pve-manager PVE/API2/Ceph/MON.pm createmon: under ceph.conf's lock the worker builds the monmap,
        runs `ceph-mon --mkfs`, writes ceph.conf, starts the daemon (the first MON then gets its settings),
        enables and broadcasts it, and ends. It does not wait for the MON to join the quorum, and it
        undoes nothing after the start: a MON that never joins stays in ceph.conf, for the operator.
        Only a failed mkfs is undone (its data dir is removed). A later MON joins in the background:
        from two MONs on, the cluster has no quorum until it has (clients wait, or time out).

        The first MON gets a new monmap; later ones mkfs with the running cluster's monmap and join
        (they are not in it yet, `--public-addr` tells them their address).
        """
        sections = self._require_init()
        self._check_node(node)
        data = self.layout.daemon_dir("mon", mon_id)
        if data.exists():
            raise CephBackendError(f"monitor filesystem '{data}' already exist")
        meta = DaemonMeta(kind="mon", id=mon_id, node=node, ip=ip)
        first = not conf.mon_host_entries(sections["global"].get("mon_host")) and not self.procs.all("mon")
        monmap = self.layout.tmp / f"monmap.{mon_id}"
        with self._conf_lock:
            try:
                if first:
                    self.cli.tool(
                        "monmaptool",
                        "--create",
                        "--clobber",
                        "--fsid",
                        self.fsid,
                        "--addv",
                        mon_id,
                        conf.mon_addrvec(ip),
                        "--enable-all-features",
                        "--set-min-mon-release",
                        "pacific",
                        str(monmap),
                    )
                else:
                    # The worker's RADOS handle has PVE's long timeout (get_config('long_rados_timeout'), 60 s).
                    self.command("mon", "getmap", "-o", str(monmap), timeout=LONG_RADOS_TIMEOUT)
                data.mkdir(parents=True)
                self.cli.tool(
                    "ceph-mon",
                    "--mkfs",
                    "--cluster",
                    "ceph",
                    "--id",
                    mon_id,
                    "--conf",
                    str(self.conf_path),
                    "--mon-data",
                    str(data),
                    "--monmap",
                    str(monmap),
                    "--keyring",
                    str(self.layout.mon_keyring),
                    "--public-addr",
                    ip,
                    "--log-file",
                    str(self.layout.log / f"mon.{mon_id}.mkfs.log"),
                )
                write_meta(data, meta)
            except BaseException:
                shutil.rmtree(data, ignore_errors=True)  # PVE: File::Path::remove_tree($mondir)
                raise
            finally:
                with contextlib.suppress(FileNotFoundError):
                    monmap.unlink()
            self._update_conf(lambda sections: conf.with_mon(sections, mon_id, ip))
            self.procs.start(meta)
            if first:
                self._first_mon_settings()
        log.info("mon.%s on %s started", mon_id, node)

    def _first_mon_settings(self) -> None:
        """What PVE sets after its first MON, plus the lab's MGR pool name and stats periods. Warn-only, as in PVE.

        PVE runs `ceph config set` through the CLI, which waits for the new MON to answer: so the first
        MON's task ends once it is up (with a quorum of one), unlike the later MONs' tasks.
        """
        settings = (
            # PVE: closes AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED (all clients are current).
            ("mon", "auth_allow_insecure_global_id_reclaim", "false"),
            # Pacific's devicehealth module keeps its data in a pool called `device_health_metrics`;
            # Quincy and later (PVE 8/9) call the MGR's pool `.mgr`. Same pool, the name PVE shows.
            # --force: the option is unknown until a MGR has registered the module.
            ("mgr", "mgr/devicehealth/pool_name", ".mgr", "--force"),
            # The lab's PG-stats periods (tuning.py MGR_CONFIG_DB).
            *(("mgr", key, value) for key, value in tuning.MGR_CONFIG_DB.items()),
        )
        for setting in settings:
            try:
                self.command("config", "set", *setting, timeout=LONG_RADOS_TIMEOUT)
            except CephCommandError as exc:
                log.warning("ceph config set %s: %s", " ".join(setting[:2]), exc)

    def destroy_mon(self, mon_id: str) -> None:
        """`ceph mon remove`, stop the daemon, remove its data dir and its ceph.conf entries."""
        self._require_init()
        meta = self.procs.get("mon", mon_id)
        if meta is None:
            raise CephBackendError(f"no such monitor id '{mon_id}'")
        names = [m["name"] for m in self.command("mon", "dump")["mons"]]
        if mon_id in names:
            if len(names) <= 1:
                raise CephBackendError("can't remove last monitor")
            self.command("mon", "remove", mon_id)
        self.procs.stop(meta)
        shutil.rmtree(self.layout.daemon_dir("mon", mon_id), ignore_errors=True)
        self._update_conf(lambda sections: conf.without_mon(sections, mon_id, meta.ip))

    def _quorum_names(self) -> list[str]:
        return list(self.command("quorum_status", timeout=5)["quorum_names"])

    # -- managers -----------------------------------------------------------------------------------

    def create_mgr(self, mgr_id: str, node: str) -> None:
        """`auth get-or-create mgr.<id>`, keyring, start: PVE's create_mgr (pve-manager PVE/Ceph/Services.pm).

        Done once the daemon is started: PVE neither waits for the MGR to register in the MGR map nor
        undoes anything on a failure (a data dir left behind makes the next create fail with "already
        exists", as there). The MGR registers a few seconds later, with its first beacon.
        """
        self._require_init()
        ip = self._check_node(node)
        data = self.layout.daemon_dir("mgr", mgr_id)
        if data.exists():
            raise CephBackendError(f"ceph manager directory '{data}' already exists")
        meta = DaemonMeta(kind="mgr", id=mgr_id, node=node, ip=ip)
        data.mkdir(parents=True)
        # The worker's RADOS handle has PVE's long timeout (MGR.pm createmgr: long_rados_timeout).
        key = self._get_or_create_key(
            f"mgr.{mgr_id}", "mon", "allow profile mgr", "osd", "allow *", "mds", "allow *", timeout=LONG_RADOS_TIMEOUT
        )
        _write_keyring(data / "keyring", f"mgr.{mgr_id}", key)
        write_meta(data, meta)
        self.procs.start(meta)
        log.info("mgr.%s on %s started", mgr_id, node)

    def destroy_mgr(self, mgr_id: str) -> None:
        """Stop the MGR, remove its data dir and its key (PVE's order)."""
        self._require_init()
        meta = self.procs.get("mgr", mgr_id)
        data = self.layout.daemon_dir("mgr", mgr_id)
        if meta is None:
            raise CephBackendError(f"ceph manager directory '{data}' not found")
        self.procs.stop(meta)
        shutil.rmtree(data, ignore_errors=True)
        with contextlib.suppress(CephCommandError):
            self.command("auth", "del", f"mgr.{mgr_id}")

    def _mgr_names(self) -> list[str]:
        dump = self.command("mgr", "dump", timeout=5)
        names = [s["name"] for s in dump.get("standbys", [])]
        if dump.get("available") or dump.get("active_name"):
            names.append(dump.get("active_name", ""))
        return names

    # -- disks --------------------------------------------------------------------------------------

    def disk_file(self, node: str, disk: Disk) -> Path:
        """The sparse file behind a node's disk, created with the disk's size on first use."""
        self._check_readable(node, disk)
        return disks.ensure(self.layout.disk_file(node, disk), disk.size)

    def disk_in_use(self, node: str, disk: Disk) -> bool:
        """True when the disk's first bytes carry data (a BlueStore label, an OSD's leftovers)."""
        self._check_readable(node, disk)
        return disks.in_use(self.layout.disk_file(node, disk))

    def wipe_disk(self, node: str, disk: Disk) -> None:
        """PVE's wipedisk. Refused while the disk holds an OSD's LV, live or left over (PVE: "has a holder")."""
        self._check_readable(node, disk)
        if self.lv_tags(node, disk) is not None:
            raise CephBackendError(f"disk/partition '{disk.devpath}' has a holder")
        disks.wipe(self.layout.disk_file(node, disk), disk.size)

    def lv_tags(self, node: str, disk: Disk) -> disks.LvTags | None:
        """The OSD LV's tags on this disk, if ceph-volume left one (whether or not the OSD still exists).

        A failed disk's LV stays active in device-mapper, so `ceph-volume lvm list` still names its OSD
        (with read errors on stderr): the LV's record stays where it was."""
        return disks.lv_tags(self.layout.disk_file(node, disk))

    def zap_disk(self, node: str, disk: Disk) -> None:
        """`ceph-volume lvm zap --destroy <dev>` on the node: what clears an OSD's leftover LVs (CLI only)."""
        for osd_id, used in self.osd_ids_on(node).items():
            if used.devpath == disk.devpath:
                raise CephBackendError(f"{disk.devpath} holds the live osd.{osd_id}; destroy it first")
        disks.zap(self.layout.disk_file(node, disk), disk.size)

    # -- disk failure and replacement ---------------------------------------------------------------

    def disk_failed(self, node: str, disk: Disk) -> bool:
        return self.layout.failed_disk_file(node, disk).exists()

    def _check_readable(self, node: str, disk: Disk) -> None:
        if self.disk_failed(node, disk):
            raise CephBackendError(f"error reading {disk.devpath} on {node}: Input/output error")

    def fail_disk(self, node: str, disk: Disk) -> int | None:
        """The disk dies: the OSD on it is killed (BlueStore aborts on EIO) and every later read errors.

        The disk's file moves aside, so the OSD's `block` link dangles and a restart of the OSD
        fails as on a dead disk; the lab's own readers (disks/list, create, wipe) report EIO.
        Returns the id of the OSD that lived on it, if any.
        """
        self._check_node(node)
        if self.disk_failed(node, disk):
            raise CephBackendError(f"{disk.devpath} on {node} has failed already")
        with self._node_lock(node):
            osd_id = next((i for i, d in self.osd_ids_on(node).items() if d.devpath == disk.devpath), None)
            if osd_id is not None:
                self.procs.kill(self._osd_meta(osd_id))
            path = disks.ensure(self.layout.disk_file(node, disk), disk.size)
            os.replace(path, self.layout.failed_disk_file(node, disk))
        log.info("disk %s on %s failed (osd.%s killed)", disk.devpath, node, osd_id)
        return osd_id

    def replace_disk(self, node: str, new: Disk) -> None:
        """A new blank disk goes into the slot of `new.devpath` (the old one, failed or not, is gone).

        Refused while an OSD runs on the old disk: pull a disk only once its OSD is dead or stopped.
        The OSD that lived on the old disk keeps its data dir (as a dead OSD keeps its entry in
        Ceph until destroyed), but no longer counts as being on this device.
        """
        self._check_node(node)
        with self._node_lock(node):
            for meta in self.procs.all("osd"):
                if meta.node != node or meta.extra.get("disk") != new.devpath:
                    continue
                if self.procs.process(meta) is not None:
                    raise CephBackendError(
                        f"{meta.name} still runs on {new.devpath} of {node}; stop it (or fail-disk) first"
                    )
                write_meta(
                    self.layout.daemon_dir("osd", meta.id),
                    DaemonMeta(
                        meta.kind, meta.id, meta.node, meta.ip, {**meta.extra, "disk": "", "lost_disk": new.devpath}
                    ),
                )
            self.layout.failed_disk_file(node, new).unlink(missing_ok=True)
            path = self.layout.disk_file(node, new)
            path.unlink(missing_ok=True)
            disks.ensure(path, new.size)
            disks.zap(path, new.size)  # a new disk carries no LVs: the old disk's record goes with it
        log.info("disk %s on %s replaced by a blank %d-byte disk", new.devpath, node, new.size)

    # -- OSDs ---------------------------------------------------------------------------------------

    def osd_ids_on(self, node: str) -> dict[int, Disk]:
        """OSD id -> disk for the OSDs whose data dir says they live on this node."""
        out = {}
        for meta in self.procs.all("osd"):
            if meta.node == node and meta.extra.get("disk"):  # "": its disk was replaced
                out[int(meta.id)] = self._disk(node, meta.extra["disk"])
        return dict(sorted(out.items()))

    def create_osd(self, node: str, disk: Disk, device_class: str | None, encrypted: bool = False) -> int:
        """What `ceph-volume lvm create` does, with BlueStore directly on the disk file; the new OSD id.

        Returns once the OSD's daemon is started, as `ceph-volume lvm create` does (its activate ends with
        `systemctl start ceph-osd@<id>`, a unit of Type=simple), so PVE's createosd task (pve-manager
        PVE/API2/Ceph/OSD.pm) ends before the OSD boots into the osdmap: up and in come seconds later.
        The CRUSH location is host=<node> under root=default and
        the weight is the disk size in TiB (the OSD sets both when it boots, as on real nodes). The
        device class is the given one or the disk's type (what ceph-volume would detect).
        `encrypted` is only recorded: there is no dm-crypt under a file. On failure nothing is left
        behind (ceph-volume rolls back a failed prepare or activate): the OSD is purged, its data dir
        removed and the disk zeroed again.
        """
        self._require_init()
        ip = self._check_node(node)
        with self._node_lock(node):
            path = self.disk_file(node, disk)
            if disks.in_use(path):
                raise CephBackendError(f"device '{disk.devpath}' is already in use")
            osd_uuid = str(uuid.uuid4())
            secret = self.cli.tool("ceph-authtool", "--gen-print-key").strip()
            cls = device_class or disk.media
            params = json.dumps({"cephx_secret": secret, "crush_device_class": cls}).encode()
            out = self.cli.ceph("osd", "new", osd_uuid, "-i", "-", stdin=params)
            osd_id = int(out["osdid"]) if isinstance(out, dict) else int(out)
            meta = DaemonMeta(
                kind="osd",
                id=str(osd_id),
                node=node,
                ip=ip,
                extra={
                    "disk": disk.devpath,
                    "device_class": cls,
                    "encrypted": "1" if encrypted else "0",
                    "uuid": osd_uuid,
                },
            )
            started = time.monotonic()
            try:
                self._mkfs_osd(meta, secret, path)
                disks.write_lv_tags(path, disks.LvTags(str(osd_id), encrypted))
                self.procs.start(meta)
            except BaseException:
                self._undo_osd(meta, path, disk)  # ceph-volume's rollback_osd
                raise
        log.info("osd.%d on %s:%s started after %.1f s", osd_id, node, disk.devpath, time.monotonic() - started)
        return osd_id

    def _mkfs_osd(self, meta: DaemonMeta, secret: str, block: Path) -> None:
        data = self.layout.daemon_dir("osd", meta.id)
        shutil.rmtree(data, ignore_errors=True)  # leftovers of an earlier OSD with this id
        data.mkdir(parents=True)
        _write_keyring(data / "keyring", meta.name, secret)
        write_meta(data, meta)
        monmap = data / "activate.monmap"
        self.command("mon", "getmap", "-o", str(monmap))
        # mkfs links <data>/block to the disk file; the OSD finds its disk through that link later.
        self.cli.tool(
            "ceph-osd",
            "--mkfs",
            "--cluster",
            "ceph",
            "--id",
            meta.id,
            "--conf",
            str(self.conf_path),
            "--osd-data",
            str(data),
            "--osd-uuid",
            meta.extra["uuid"],
            "--monmap",
            str(monmap),
            "--keyring",
            str(data / "keyring"),
            "--osd-objectstore",
            "bluestore",
            "--bluestore-block-path",
            str(block),
            "--log-file",
            str(self.layout.log / f"{meta.name}.mkfs.log"),
            *tuning.args_for("osd"),
            timeout=120,
        )

    def _undo_osd(self, meta: DaemonMeta, block: Path, disk: Disk) -> None:
        with contextlib.suppress(CephBackendError):
            if self.procs.stop(meta):
                self._wait_down(int(meta.id))  # `osd purge` refuses an OSD that is still up
            self.command("osd", "purge", meta.id, "--yes-i-really-mean-it")
        shutil.rmtree(self.layout.daemon_dir("osd", meta.id), ignore_errors=True)
        disks.zap(block, disk.size)

    def stop_osd(self, osd_id: int) -> None:
        """Stop the daemon; returns once Ceph shows the OSD down (PVE: ceph/stop service=osd.N)."""
        meta = self._osd_meta(osd_id)
        self.procs.stop(meta)
        self._wait_down(osd_id)

    def _wait_down(self, osd_id: int) -> None:
        """After the process is gone: wait until the OSD map shows the OSD down.

        A stopping OSD tells the MONs itself (osd_fast_shutdown_notify_mon) and a killed one is
        reported by its peers; `ceph osd down` covers the case where neither got through.
        """
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and self._osd_state(osd_id)[0]:
            time.sleep(POLL)
        if self._osd_state(osd_id)[0]:
            with contextlib.suppress(CephCommandError):
                self.command("osd", "down", str(osd_id))
        self._wait(lambda: not self._osd_state(osd_id)[0], OSD_DOWN_TIMEOUT, f"osd.{osd_id} to be down")

    def start_osd(self, osd_id: int) -> None:
        """Start the daemon; returns once Ceph shows the OSD up.

        Raises NoAddressInNetwork, without starting it, when the OSD would exit at once because its
        node has no address in a network ceph.conf names (addresses.py).
        """
        meta = self._osd_meta(osd_id)
        self.procs.start(meta)
        self._wait(lambda: self._osd_state(osd_id)[0], OSD_UP_TIMEOUT, f"osd.{osd_id} to be up", meta)

    def destroy_osd(self, osd_id: int, cleanup: bool) -> None:
        """crush remove, auth del, osd rm, data dir gone; `cleanup` also zaps the disk (LV, VG, data).

        Without cleanup the disk keeps its BlueStore label and its LV (tagged with the old id), so it
        stays "in use" and held, as on PVE. PVE's preconditions (out, down, owning node) are the API layer's to check.
        """
        self._require_init()
        meta = self.procs.get("osd", osd_id)
        if meta is None and osd_id not in self._osd_ids():
            raise CephBackendError(f"no such OSD '{osd_id}'")
        if meta is not None and self.procs.stop(meta):
            self._wait_down(osd_id)  # `osd rm` refuses an OSD that is still up
        for args in (
            ("osd", "crush", "remove", f"osd.{osd_id}"),
            ("auth", "del", f"osd.{osd_id}"),
            ("osd", "rm", str(osd_id)),
        ):
            try:
                self.command(*args)
            except CephCommandError as exc:
                if exc.errno_name != "ENOENT":
                    raise
        if meta is not None:
            shutil.rmtree(self.layout.daemon_dir("osd", osd_id), ignore_errors=True)
            devpath = meta.extra.get("disk", "")
            # destroyosd's cleanup: `ceph-volume lvm zap --osd-id <id> --destroy`; a replaced or failed
            # disk has nothing left to zap
            if cleanup and devpath:
                disk = self._disk(meta.node, devpath)
                if not self.disk_failed(meta.node, disk):
                    disks.zap(self.layout.disk_file(meta.node, disk), disk.size)

    def _osd_meta(self, osd_id: int) -> DaemonMeta:
        meta = self.procs.get("osd", osd_id)
        if meta is None:
            raise CephBackendError(f"no such OSD '{osd_id}'")
        return meta

    def _osd_state(self, osd_id: int) -> tuple[bool, bool]:
        """(up, in) from the OSD map; (False, False) for an OSD the map does not have."""
        for osd in self.command("osd", "dump", timeout=10).get("osds", []):
            if osd["osd"] == osd_id:
                return bool(osd["up"]), bool(osd["in"])
        return False, False

    def _osd_ids(self) -> list[int]:
        return [int(i) for i in self.command("osd", "ls") or []]

    def _disk(self, node: str, devpath: str) -> Disk:
        """The spec's Disk for a devpath; a stand-in from the file's size if the spec no longer has it."""
        with contextlib.suppress(KeyError):
            for disk in self.spec.node(node).disks:
                if disk.devpath == devpath:
                    return disk
        path = self.layout.disks / f"{node}-{devpath.rsplit('/', 1)[-1]}.img"
        size = path.stat().st_size if path.exists() else 0
        return Disk(devpath=devpath, size=size)

    # -- nodes and daemons ----------------------------------------------------------------------------

    def fail_node(self, node: str) -> None:
        """Power loss: SIGKILL every daemon of the node; remember which ones ran for `recover_node`."""
        self._check_node(node)
        killed = [meta.name for meta in self.procs.all() if meta.node == node and self.procs.kill(meta)]
        path = self.layout.failed_file(node)
        before = json.loads(path.read_text()) if path.exists() else []
        self.layout.ensure_dirs()
        path.write_text(json.dumps(sorted(set(before) | set(killed))))

    def recover_node(self, node: str) -> None:
        """Power back: start what ran before `fail_node`; returns once its MONs are in quorum and its OSDs up."""
        self._check_node(node)
        path = self.layout.failed_file(node)
        names = json.loads(path.read_text()) if path.exists() else []
        started = []
        for meta in self.procs.all():
            if meta.node == node and meta.name in names:
                try:
                    self.procs.start(meta)
                except addresses.NoAddressInNetwork:
                    continue  # it exits at once on a real node too, and stays down (see start_osd)
                started.append(meta)
        path.unlink(missing_ok=True)
        for meta in started:
            self._wait_started(meta)

    def _wait_started(self, meta: DaemonMeta) -> None:
        """Wait until Ceph shows a started daemon: a MON in quorum, an OSD up (MGRs need no wait)."""
        if meta.kind == "mon":
            self._wait(
                lambda: meta.id in self._quorum_names(), MON_QUORUM_TIMEOUT, f"{meta.name} to rejoin the quorum", meta
            )
        elif meta.kind == "osd":
            self._wait(lambda: self._osd_state(int(meta.id))[0], OSD_UP_TIMEOUT, f"{meta.name} to be up", meta)

    def daemons(self) -> list[dict[str, Any]]:
        """Every daemon with a data dir: kind, id, node, ip, pid (None when stopped), running;
        OSDs also disk (devpath), device_class, encrypted (bool), uuid."""
        out = []
        for meta in self.procs.all():
            proc = self.procs.process(meta)
            row: dict[str, Any] = {
                "kind": meta.kind,
                "id": meta.id,
                "node": meta.node,
                "ip": meta.ip,
                "pid": proc.pid if proc else None,
                "running": proc is not None,
            }
            if meta.kind == "osd":
                row |= {
                    "disk": meta.extra.get("disk"),
                    "device_class": meta.extra.get("device_class"),
                    "encrypted": meta.extra.get("encrypted") == "1",
                    "uuid": meta.extra.get("uuid"),
                }
            out.append(row)
        return out

    def shutdown(self) -> None:
        """Stop every daemon, OSDs first (they tell the MONs), MONs last; SIGTERM, then SIGKILL."""
        for kind in ("osd", "mgr", "mon"):
            metas = self.procs.all(kind)
            threads = [threading.Thread(target=self.procs.stop, args=(m, 15.0)) for m in metas]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        # Records whose data dir is gone (a half-created daemon) are stopped by role as well.
        for proc in self.tracker.load():
            if proc.role.split(".", 1)[0] in ("mon", "mgr", "osd"):
                self.tracker.stop(proc, timeout=15.0)
        self.layout.remove_short_run()

    # -- helpers ------------------------------------------------------------------------------------

    def _osd_addresses(self, meta: DaemonMeta) -> addresses.OsdAddresses:
        """Where the OSD binds now: ceph.conf's networks over its node's addresses (addresses.py)."""
        try:
            node_addresses = self.spec.node(meta.node).addresses
        except KeyError:
            node_addresses = (meta.ip,)
        return addresses.osd_addresses(self._read_sections(), meta.id, node_addresses)

    def _check_node(self, node: str) -> str:
        try:
            return self.spec.node(node).ip
        except KeyError:
            raise CephBackendError(f"no such node '{node}' in this lab") from None

    def _node_lock(self, node: str) -> threading.Lock:
        with self._node_locks_guard:
            return self._node_locks.setdefault(node, threading.Lock())

    def _get_or_create_key(self, entity: str, *caps: str, timeout: float = 30) -> str:
        out = self.command("auth", "get-or-create", entity, *caps, timeout=timeout)
        return str(out[0]["key"])

    def _wait(self, done: Callable[[], bool], timeout: float, what: str, meta: DaemonMeta | None = None) -> None:
        """Poll `done` until true; a Ceph error counts as "not yet". Fails early if the daemon died."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                if done():
                    return
            except CephCommandError as exc:
                last_error = str(exc)
            if meta is not None:
                self.procs.ensure_alive(meta)
            if time.monotonic() > deadline:
                detail = f" (last error: {last_error})" if last_error else ""
                raise CephBackendError(f"timeout after {timeout:g} s waiting for {what}{detail}")
            time.sleep(POLL)


def _write_keyring(path: Path, entity: str, key: str) -> None:
    path.write_text(f"[{entity}]\n\tkey = {key}\n")
    path.chmod(0o600)
