"""VM migrate, move_disk and resize (qemu-server PVE/API2/Qemu.pm), and VM disks on RBD as real images.

fakepve answers these three endpoints generically (a UPID, nothing changes); here the VM really moves,
its drive strings change, and a disk on an RBD storage is an image in the Ceph pool: created by
`rbd create` when fakepve allocates a volume (qm create, clone, move_disk) and removed by `rbd rm`
when it frees one (qm destroy, move_disk with delete=1).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fakepve.qemu import drives_of, is_cdrom, join_drive, split_drive, volume_ref
from fakepve.storage import spec_of

from lab import errors
from lab.errors import PveError, TaskError
from lab.handlers.base import CephHelpers
from lab.pve_formats import format_size, parse_size, resized, split_list

Route = tuple[str, str, Any]
log = logging.getLogger("lab.qemu")
# PVE seconds a migration and a disk copy take in the lab (fakepve's migrate() also uses 20).
MIGRATE_SECS = 20
COPY_SECS_PER_GIB = 1
# Storage types QemuMigrate can move a local disk between nodes (scan_local_volumes).
MIGRATABLE_LOCAL = ("dir", "btrfs", "zfspool", "lvmthin", "lvm")
ROOT_ONLY_MIGRATE = ("force", "migration_type", "migration_network")
# Storage types that are shared by nature, whatever storage.cfg says (PVE::Storage::Plugin @SHARED_STORAGE).
SHARED_TYPES = ("iscsi", "nfs", "cifs", "rbd", "cephfs", "iscsidirect", "glusterfs", "zfs", "drbd", "pbs")
UNUSED = re.compile(r"^unused(\d+)$")
# Passthrough devices that tie a VM to its node (PVE::QemuMigrate::Helpers::check_local_resources).
LOCAL_DEVICE = re.compile(r"^(hostpci\d+|usb\d+|serial\d+|parallel\d+|virtiofs\d+)$")


def drive_size(props: dict[str, str]) -> int:
    return parse_size(props.get("size", "0")) or 0


def local_resources(config: dict[str, Any]) -> list[str]:
    """Devices that keep a VM on its node: passthrough PCI/USB, serial or parallel ports, virtiofs."""
    found = []
    for key, value in sorted(config.items()):
        if not LOCAL_DEVICE.match(key):
            continue
        text = str(value)
        if key.startswith("usb") and (text.startswith("spice") or "mapping=" in text):
            continue
        if key.startswith("serial") and text == "socket":
            continue
        found.append(key)
    return found


def free_unused_key(config: dict[str, Any]) -> str:
    used = {int(m.group(1)) for m in (UNUSED.match(k) for k in config) if m}
    n = 0
    while n in used:
        n += 1
    return f"unused{n}"


class QemuExtraApi(CephHelpers):
    storages: dict[str, dict[str, Any]]
    vms: list[Any]
    tasks: dict[str, dict[str, Any]]
    tasklog: list[dict[str, Any]]

    if TYPE_CHECKING:  # fakepve's Model, StorageApi and QemuApi; HaApi

        def find(self, node: str, vmid: Any) -> Any: ...
        def vm(self, vmid: int) -> Any: ...
        def require(self, user: str, path: str, priv: str) -> None: ...
        def _check_enabled(self, name: str, node: str) -> dict[str, Any]: ...
        def _check_lock(self, vm: Any, allow: tuple[str, ...] = ()) -> None: ...
        async def pause(self, secs: float) -> None: ...
        async def ceph_io(self, vm: Any, keys: Any = None) -> None: ...
        async def ha_queue_motion(self, sid: str, target: str, kind: str) -> None: ...

    def _routes_qemu_extra(self) -> list[Route]:
        one = "/nodes/{node}/qemu/{vmid}"
        return [
            ("GET", one + "/migrate", self._qm_migrate_check),
            ("POST", one + "/migrate", self._qm_migrate),
            ("POST", one + "/move_disk", self._qm_move_disk),
            ("PUT", one + "/resize", self._qm_resize),
        ]

    def _running_task_log(self, holder: dict[str, str]) -> list[str]:
        """The log of the task whose body is running. At time_scale 0 fakepve runs a body before task()
        returns its UPID; the task's record is then the newest one (it is added just before the body runs)."""
        upid = holder.get("upid")
        log_lines: list[str] = self.tasks[upid]["log"] if upid else self.tasklog[-1]["log"]
        return log_lines

    # -- migrate: preconditions --------------------------------------------------------------------

    def _storage_problems(self, vm: Any, node: str) -> list[str]:
        """check_local_storage_availability for one node: storages of the VM's drives that are disabled
        there or whose `nodes` leave it out."""
        bad = set()
        for _key, volume, _props in drives_of(vm.config):
            sid = volume_ref(volume)[0]
            store = self.storages.get(sid or "")
            if store is None:
                continue
            nodes = split_list(str(store.get("nodes") or ""))
            if store.get("disable") or (nodes and node not in nodes):
                bad.add(sid)
        return sorted(s for s in bad if s)

    def _local_disks(self, vm: Any) -> list[dict[str, Any]]:
        """Volumes on storages that are not shared (check_vm_disks_local), with the attributes PVE adds."""
        out: dict[str, dict[str, Any]] = {}
        drives = {k for k, _v, _p in drives_of(vm.config)}
        for key in sorted(vm.config):
            if not (UNUSED.match(key) or key in drives):
                continue
            volume, props = split_drive(vm.config[key])
            sid = volume_ref(volume)[0]
            store = self.storages.get(sid or "", {})
            if sid is None or store.get("shared") or store.get("type") in SHARED_TYPES or props.get("shared") == "1":
                continue
            attr = out.setdefault(volume, {"volid": volume, "referenced_in_config": 1})
            attr["drivename"] = key
            if UNUSED.match(key):
                attr["is_unused"] = 1
            if is_cdrom(volume, props):
                attr["cdrom"] = 1
            vol = self.storages.get(sid, {}).get("volumes", {}).get(volume.split(":", 1)[1], {})
            attr["size"] = int(vol.get("size") or drive_size(props))
        return list(out.values())

    async def _qm_migrate_check(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.need_quorum()
        node = v["node"]
        vm = self.find(node, v["vmid"])
        self._check_lock(vm)
        allowed, not_allowed = [], {}
        for other in sorted(self.nodes):
            if other == node:
                continue
            problems = self._storage_problems(vm, other)
            if problems:
                not_allowed[other] = {"unavailable_storages": problems}
            else:
                allowed.append(other)
        answer: dict[str, Any] = {
            "running": int(vm.status == "running"),
            "allowed_nodes": allowed,
            "not_allowed_nodes": not_allowed,
            "local_disks": self._local_disks(vm),
            "local_resources": local_resources(vm.config),
            "mapped-resources": [],
            "mapped-resource-info": {},
        }
        if self.cluster.spec.pve_version >= 9:
            answer["has-dbus-vmstate"] = 1
            if vm.ha_state is not None:
                answer["dependent-ha-resources"] = []  # resource-affinity is not modelled
        return answer

    # -- migrate -------------------------------------------------------------------------------------

    async def _qm_migrate(self, v: dict[str, Any], user: str) -> str:
        node, target = v["node"], v["target"]
        if target == node:
            raise errors.param(target="target is local node.")
        self.need_quorum()
        if target not in self.nodes:
            raise errors.die(f"no such cluster node '{target}'")
        if self.cluster.spec.pve_version < 9 and "with-conntrack-state" in v:
            raise errors.param(
                **{
                    "with-conntrack-state": "property is not defined in schema and the schema does "
                    "not allow additional properties"
                }
            )
        for opt in ROOT_ONLY_MIGRATE:
            if v.get(opt) and user != "root@pam":
                raise errors.param(**{opt: "Only root may use this option."})
        vm = self.find(node, v["vmid"])
        self._check_lock(vm)
        running = vm.status == "running"
        if running and not v.get("online"):
            raise errors.die("can't migrate running VM without --online")
        storagemap = self._storage_map(str(v["targetstorage"]), target, user) if v.get("targetstorage") else None
        if storagemap is None or storagemap.get("1"):
            for _key, volume, _props in drives_of(vm.config):
                sid = volume_ref(volume)[0]
                if sid is not None and sid in self.storages:
                    self._check_enabled(sid, node)
                    self._check_enabled(sid, target)
        notes = ["VM isn't running. Doing offline migration instead."] if v.get("online") and not running else []
        if vm.ha_state is not None:
            return await self._ha_migrate_task(vm, target, user)
        return await self.qm_migrate(
            vm,
            target,
            user,
            online=running,
            with_local_disks=bool(v.get("with-local-disks")),
            storagemap=storagemap,
            log=notes,
        )

    def _storage_map(self, text: str, target: str, user: str) -> dict[str, str]:
        """A storage-pair-list ('store', 'src:dst,...' or '1' for identity), its targets checked on the target."""
        mapping: dict[str, str] = {}
        for item in split_list(text):
            src, sep, dst = item.partition(":")
            mapping[src if sep else "default"] = dst if sep else src
        for key, dst in mapping.items():
            if key == "default" and dst == "1":
                mapping = {"1": "1"}
                break
            self.require(user, "/storage/" + dst, "Datastore.AllocateSpace")
            store = self._check_enabled(dst, target)
            if "images" not in str(store.get("content", "")):
                raise errors.die(f"storage '{dst}' does not support vm images")
        return mapping

    async def _ha_migrate_task(self, vm: Any, target: str, user: str) -> str:
        """An HA-managed VM: the API only asks the CRM (`ha-manager migrate`) in a task that ends at once."""
        sid = f"vm:{vm.vmid}"

        async def body() -> None:
            try:
                await self.ha_queue_motion(sid, target, "migrate")
            except PveError as exc:
                raise TaskError(f"command 'ha-manager migrate {sid} {target}' failed: exit code 255") from exc

        return await self.task(
            vm.node,
            "hamigrate",
            vm.vmid,
            user,
            body,
            lock=False,
            log=[f"Requesting HA migration for VM {vm.vmid} to node {target}"],
        )

    async def qm_migrate(
        self,
        vm: Any,
        target: str,
        user: str,
        online: bool,
        with_local_disks: bool = False,
        storagemap: dict[str, str] | None = None,
        log: Any = (),
    ) -> str:
        """A `qmigrate` task: PVE::QemuMigrate's checks inside the worker, then the VM lives on `target`.

        Local disks stay in fakepve's (node-less) storage table, or move to the mapped target storage.
        """
        source = vm.node
        ip = self.cluster.spec.node(target).ip if target in self.cluster.spec.node_names else target
        lines = [*log, f"starting migration of VM {vm.vmid} to node '{target}' ({ip})"]

        holder: dict[str, str] = {}

        async def body() -> str:
            start = time.monotonic()
            record = self._running_task_log(holder)
            if not self.nodes.get(target, {}).get("online", True):
                record.append("ERROR: Can't connect to destination address using public key")
                raise TaskError("migration aborted")
            problem = self._scan_local_volumes(vm, online, with_local_disks, storagemap, record)
            if problem:
                record.append(f"ERROR: Problem found while scanning volumes - {problem}")
                raise TaskError("migration aborted")
            vm.lock = "migrate"
            vm.config["lock"] = "migrate"
            try:
                await self.ceph_io(vm)
                await self._move_local_volumes(vm, storagemap, record)
                await self.pause(MIGRATE_SECS)
                if vm.node != source:  # the VM moved away meanwhile (HA recovery of a failed source)
                    raise TaskError("migration aborted")
                vm.node = target
            finally:
                vm.lock = None
                vm.config.pop("lock", None)
            took = time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - start))
            return f"migration finished successfully (duration {took})"

        holder["upid"] = await self.task(source, "qmigrate", vm.vmid, user, body, vm=vm, log=lines)
        return holder["upid"]

    def _scan_local_volumes(
        self, vm: Any, online: bool, with_local_disks: bool, storagemap: dict[str, str] | None, record: list[str]
    ) -> str | None:
        """QemuMigrate scan_local_volumes: what is wrong with the local disks, or None."""
        attached = {volume for _k, volume, props in drives_of(vm.config) if not is_cdrom(volume, props)}
        abort = False
        for disk in self._local_disks(vm):
            volid = disk["volid"]
            if disk.get("cdrom"):
                continue
            kind = "attached" if volid in attached else "unused"
            record.append(f"found local disk '{volid}' ({kind})")
            if kind == "attached" and online and not with_local_disks:
                record.append(
                    f"WARN: can't migrate local disk '{volid}': can't live migrate attached local disks "
                    "without with-local-disks option"
                )
                abort = True
        if abort:
            return "can't migrate VM - check log"
        for disk in self._local_disks(vm):
            sid = volume_ref(disk["volid"])[0] or ""
            kind = self.storages.get(sid, {}).get("type", "dir")
            if not disk.get("cdrom") and kind not in MIGRATABLE_LOCAL:
                return f"can't migrate '{disk['volid']}' - storage type '{kind}' not supported"
        return None

    async def _move_local_volumes(self, vm: Any, storagemap: dict[str, str] | None, record: list[str]) -> None:
        """With `targetstorage`, local disks land on the mapped storage of the target (new volume, old freed)."""
        if not storagemap or storagemap.get("1"):
            return
        for disk in self._local_disks(vm):
            key, volid = disk["drivename"], disk["volid"]
            sid = volume_ref(volid)[0] or ""
            dest = storagemap.get(sid) or storagemap.get("default")
            if disk.get("cdrom") or not dest or dest == sid:
                continue
            record.append(f"mapped: {key} from {volid} to storage {dest}")
            await self._copy_volume(vm, key, dest, None, delete=True, record=record)

    # -- move_disk -------------------------------------------------------------------------------------

    def _drive_for_move(
        self, vm: Any, disk: str, storage: str, fmt: str | None, digest: str | None, delete: bool
    ) -> tuple[str, dict[str, str]]:
        """move_vm_disk's $load_and_check_move: (old volume id, drive options)."""
        self._check_lock(vm)
        if digest and digest != vm.digest():
            raise errors.die("detected modified configuration - file changed by other user? Try again.")
        if not vm.config.get(disk):
            raise errors.die(f"disk '{disk}' does not exist")
        volume, props = split_drive(vm.config[disk])
        if not volume or volume == "none":
            raise errors.die(f"disk '{disk}' has no associated volume")
        if is_cdrom(volume, props):
            raise errors.die("you can't move a cdrom")
        old_sid, volname = volume_ref(volume)
        old_fmt = (self.storages.get(old_sid or "", {}).get("volumes", {}).get(volname) or {}).get("format")
        if old_sid == storage and (not fmt or not old_fmt or old_fmt == fmt):
            raise errors.die("you can't move to the same storage with same format")
        store = self._check_enabled(storage, vm.node)  # exists, enabled, and configured for this node
        if "images" not in str(store.get("content", "")):
            raise errors.param(storage=f"storage '{storage}' does not support vm images")
        snapshotted = any(volume in str(snap.get(disk, "")) for snap in vm.snapshots.values())
        if snapshotted and delete:
            raise errors.die("you can't move a disk with snapshots and delete the source")
        return volume, props

    async def _qm_move_disk(self, v: dict[str, Any], user: str) -> str:
        storage, target_vmid = v.get("storage"), v.get("target-vmid")
        if storage and target_vmid:
            msg = "either set 'storage' or 'target-vmid', but not both"
            raise errors.param(**{"target-vmid": msg, "storage": msg})
        if target_vmid:
            raise PveError(501, "lab: moving a disk to another VM (target-vmid) is not modelled")
        if not storage:
            msg = "both 'storage' and 'target-vmid' missing, either needs to be set"
            raise errors.param(**{"target-vmid": msg, "storage": msg})
        self.require(user, "/storage/" + storage, "Datastore.AllocateSpace")
        vm = self.find(v["node"], v["vmid"])
        disk, fmt, delete = v["disk"], v.get("format"), bool(v.get("delete"))
        self._drive_for_move(vm, disk, storage, fmt, v.get("digest"), delete)
        holder: dict[str, str] = {}

        async def body() -> None:
            try:  # again, under the config lock
                self._drive_for_move(vm, disk, storage, fmt, v.get("digest"), delete)
            except PveError as exc:
                raise TaskError(exc.message) from exc
            await self._copy_volume(vm, disk, storage, fmt, delete, self._running_task_log(holder))

        holder["upid"] = await self.task(vm.node, "qmmove", vm.vmid, user, body, vm=vm)
        return holder["upid"]

    def _target_format(self, storage: str, wanted: str | None, source: str | None) -> str:
        """resolve_dst_disk_format: the asked (or source) format if the storage takes it, else its default."""
        spec = spec_of(self.storages[storage]) or {}
        supported = spec.get("formats") or ["raw"]
        for fmt in (wanted, source):
            if fmt and fmt in supported:
                return fmt
        return str(self.storages[storage].get("format") or spec.get("format") or "raw")

    async def _copy_volume(
        self, vm: Any, key: str, storage: str, fmt: str | None, delete: bool, record: list[str]
    ) -> None:
        """clone_disk + config update: a new volume of the same size on `storage` replaces the old one."""
        old_volid, props = split_drive(vm.config[key])
        old_sid, old_name = volume_ref(old_volid)
        old = (self.storages.get(old_sid or "", {}).get("volumes", {}).get(old_name)) or {}
        size = int(old.get("size") or drive_size(props))
        record.append(f"copying volume '{old_volid}' from current storage '{old_sid}' to target storage '{storage}'")
        await self.ceph_io(vm)
        new_fmt = self._target_format(storage, fmt, old.get("format"))
        try:
            new_volid, _ = await self.volumes.alloc_async(storage, vm.vmid, new_fmt, size)
        except (PveError, TaskError) as exc:
            raise TaskError(f"storage migration failed: {getattr(exc, 'message', None) or exc}") from exc
        await self.pause(max(2, COPY_SECS_PER_GIB * size / 1024**3))
        if not UNUSED.match(key):
            new_props = dict(props, size=format_size(size)) if size else dict(props)
            new_props.pop("format", None)
            vm.config[key] = join_drive(new_volid, new_props)
        else:
            vm.config[key] = new_volid
        if delete:
            record.append(f"removing source volume '{old_volid}' after successful copy")
            await self.volumes.free_async(old_volid)
        else:
            unused = free_unused_key(vm.config)
            vm.config[unused] = old_volid
            record.append(f"adding source volume '{old_volid}' as '{unused}' to config")

    # -- resize ------------------------------------------------------------------------------------------

    async def _qm_resize(self, v: dict[str, Any], user: str) -> str:
        node, vmid = v["node"], int(v["vmid"])
        if v.get("skiplock") and user != "root@pam":
            raise errors.param(skiplock="Only root may use this option.")
        vm = self.vm(vmid)
        if vm is None or vm.node != node:

            async def missing() -> None:
                raise TaskError(f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")

            return await self.task(node, "resize", vmid, user, missing)
        return await self.task(node, "resize", vmid, user, self._resize_body(vm, v, user), vm=vm)

    def _resize_body(self, vm: Any, v: dict[str, Any], user: str) -> Callable[[], Awaitable[None]]:
        disk, text = v["disk"], str(v["size"])

        async def body() -> None:
            if v.get("digest") and v["digest"] != vm.digest():
                raise TaskError("checksum mismatch (file change by other user?)")
            if not v.get("skiplock") and vm.lock:
                raise TaskError(f"VM is locked ({vm.lock})")
            if not vm.config.get(disk):
                raise TaskError(f"disk '{disk}' does not exist")
            volume, props = split_drive(vm.config[disk])
            if not volume or volume == "none":
                raise TaskError(f"disk '{disk}' has no associated volume")
            if is_cdrom(volume, props):
                raise TaskError("you can't resize a cdrom")
            sid, volname = volume_ref(volume)
            try:
                self.require(user, f"/storage/{sid}", "Datastore.AllocateSpace")
            except PveError as exc:
                raise TaskError(exc.message) from exc
            size = await self._volume_size(sid, volname, props)
            new_size = resized(size, text)
            assert new_size is not None  # the schema's pattern
            if new_size < size:
                raise TaskError("shrinking disks is not supported")
            if new_size == size:
                return
            await self.ceph_io(vm, [disk])
            if self.volumes.is_rbd(sid):
                assert sid is not None
                await self.volumes.resize_image(sid, volname, new_size)
            vol = self.storages.get(sid or "", {}).get("volumes", {}).get(volname)
            if vol is not None:
                vol["size"] = new_size
            vm.config[disk] = join_drive(volume, dict(props, size=format_size(new_size)))

        return body

    async def _volume_size(self, sid: str | None, volname: str, props: dict[str, str]) -> int:
        """volume_size_info: `rbd info` for an RBD image, fakepve's table (or the drive's size=) otherwise."""
        if self.volumes.is_rbd(sid):
            assert sid is not None
            return await self.volumes.image_size(sid, volname)
        vol = self.storages.get(sid or "", {}).get("volumes", {}).get(volname) or {}
        return int(vol.get("size") or drive_size(props))
