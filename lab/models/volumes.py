"""VM disks on RBD storages as real images: fakepve's volume table kept in step with the Ceph pool.

fakepve keeps each storage's volumes in `storages[sid]["volumes"]` and allocates them inside its own task
bodies (qm create, clone, destroy, template) through `QemuApi._qm_alloc`, `_qm_free` and
`_qm_rename_volume`. On an RBD storage the lab also makes, removes and renames the image, as pve-storage's
RBD plugin does (src/PVE/Storage/RBDPlugin.pm): `rbd create` or `rbd clone` of base@__base__ when a volume
is allocated, `rbd rm` when it is freed, and the pool's listing is what the storage holds.

PVE allocates under the storage's cluster lock (pve-storage src/PVE/Storage.pm vdisk_alloc ->
cluster_lock_storage -> pve-cluster src/PVE/Cluster.pm cfs_lock_storage, `storage-<id>`, 10 s to get it):
the pool is listed (find_free_diskname) and the image made while it is held, so concurrent creates on one
storage queue there, and one that waits too long fails with "cfs-lock 'storage-<id>' error: got lock
request timeout". Each PVE task is its own worker process; the lab's tasks share one event loop, and
the `rbd` CLI takes about 100 ms a call. So no `rbd` call may run on the loop:

- the lab's own tasks (move_disk, resize, config updates, content listing) use the `*_async` methods,
  which run `rbd` in a worker thread under the storage lock;
- fakepve's qm create and clone bodies call the synchronous `_qm_alloc` hook. Such a task takes the lock
  of each RBD storage its request names and lists the pool when it begins (`begin_scope`); inside the
  body the hook only reserves the volume name in the table, and the images are made when the body then
  calls `ceph_io` (fakepve's hook for a VM's Ceph I/O, awaited right after the drives are allocated), in
  a worker thread, before the locks are let go. So the lock is held over listing and `rbd create`, as in
  PVE (for all of a VM's disks on the storage at once, where PVE takes it per disk). A failure (the lock
  not had, the pool not listed, `rbd create`) fails the body, which frees the volumes it allocated.

- fakepve's qm destroy body frees each disk through the synchronous `_qm_free` hook. Inside the lab's
  destroy handler (`deferring_frees`) the hook only notes the volume, and the task removes the images when
  the body is done (`free_deferred`), each under the storage's lock in a worker thread, as vdisk_free does
  (pve-storage src/PVE/Storage.pm vdisk_free: free_image inside cluster_lock_storage). A disk that cannot
  be removed stays, and the task only warns, as qemu-server's destroy_vm does ("Could not remove disk
  '<volid>', check manually: ...", src/PVE/QemuServer.pm).

fakepve's template body still runs its `rbd rename` on the loop (rare, one disk at a time).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from fakepve.qemu import QemuApi, volume_ref

from lab import errors
from lab.ceph_backend.rbd import BASE_SNAPSHOT, Rbd, RbdError
from lab.errors import TaskError
from lab.models.fakepve_model import PveModel
from lab.models.locks import ClusterLocks, LockTimeout, TimedLock
from lab.models.task_warnings import log_warn, warn
from lab.worker import in_thread

# PVE's own image names (RBDPlugin.pm rbd_ls): `vm-<vmid>-...` and `base-<vmid>-...`; others are not listed.
PVE_IMAGE = re.compile(r"^(?:vm|base)-(\d+)-")
# Storage types that are shared by nature, whatever storage.cfg says (pve-storage src/PVE/Storage/Plugin.pm
# @SHARED_STORAGE: parse_config sets `shared` for them).
SHARED_TYPES = ("iscsi", "nfs", "cifs", "rbd", "cephfs", "iscsidirect", "glusterfs", "zfs", "drbd", "pbs")


def is_shared(store: dict[str, Any]) -> bool:
    """A storage every node sees the same (RBD, NFS, ... or `shared 1`); the others are each node's own disks."""
    return str(store.get("shared", "0")) in ("1", "true") or store.get("type") in SHARED_TYPES


def image_name(volname: str) -> str:
    """The RBD image of a volume name: a linked clone is `base-100-disk-0/vm-101-disk-0`."""
    return volname.rsplit("/", 1)[-1]


def volume_name(volid: str) -> str:
    return volid.split(":", 1)[1]


@dataclass(frozen=True)
class Reservation:
    """A volume fakepve's task body has allocated whose RBD image is not made yet."""

    sid: str
    volid: str
    size: int
    base: str | None  # a linked clone's base image


@dataclass
class AllocationScope:
    """The RBD allocations of one fakepve qm create or clone task (see the module's docstring)."""

    storages: frozenset[str]  # the RBD storages the request names: locked and listed when the task begins
    begun: bool = False
    failures: dict[str, str] = field(default_factory=dict)  # storage -> why nothing can be allocated there
    held: list[TimedLock] = field(default_factory=list)
    reserved: list[Reservation] = field(default_factory=list)


# Set around fakepve's qm create/clone handler, so the task it starts (asyncio copies the context into
# it) finds its scope; requests outside those handlers see None and allocate synchronously.
_scope: ContextVar[AllocationScope | None] = ContextVar("rbd_allocation_scope", default=None)
# Set around fakepve's qm destroy handler: the RBD volumes its task body frees, removed after the body.
_deferred_frees: ContextVar[list[str] | None] = ContextVar("rbd_deferred_frees", default=None)


class VolumeTable(Protocol):
    """fakepve's bookkeeping of volumes in the storage table (volume names, sizes, free space)."""

    def alloc(self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None = None) -> tuple[str, str]:
        """PVE::Storage::vdisk_alloc's bookkeeping: (volume id, format)."""
        ...

    def free(self, volid: str) -> None: ...

    def rename_to_base(self, volid: str) -> str:
        """vdisk_create_base's rename: vm-<id>-disk-<n> becomes base-<id>-disk-<n>; the new volume id."""
        ...


class FakepveVolumeTable:
    """fakepve's own implementation (fakepve.qemu.QemuApi), called past the lab's RBD hooks on the same server."""

    def __init__(self, pve: Any) -> None:
        self._pve = pve

    def alloc(self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None = None) -> tuple[str, str]:
        volid, fmt = QemuApi._qm_alloc(self._pve, sid, vmid, fmt, size, linked_from)
        return str(volid), str(fmt)

    def free(self, volid: str) -> None:
        QemuApi._qm_free(self._pve, volid)

    def rename_to_base(self, volid: str) -> str:
        return str(QemuApi._qm_rename_volume(self._pve, volid))


class RbdVolumes:
    """The volumes of every storage, with those on RBD storages backed by images in their pool."""

    def __init__(self, pve: PveModel, rbd: Rbd, table: VolumeTable, locks: ClusterLocks) -> None:
        self.pve = pve
        self.rbd = rbd
        self.table = table
        self.locks = locks
        # (storage, volume name) reserved by a task whose image is not made yet: a listing of the pool
        # keeps them in the table, so no other allocation takes the name meanwhile.
        self._unmade: set[tuple[str, str]] = set()

    # -- where an image is ---------------------------------------------------------------------------

    def is_rbd(self, sid: str | None) -> bool:
        return sid is not None and self.pve.storages.get(sid, {}).get("type") == "rbd"

    def spec(self, sid: str, volname: str) -> str:
        """`pool[/namespace]/image` of a volume on an RBD storage."""
        store = self.pve.storages[sid]
        parts = [store.get("pool") or "rbd", store.get("namespace"), image_name(volname)]
        return "/".join(p for p in parts if p)

    def is_local(self, sid: str | None) -> bool:
        store = self.pve.storages.get(sid or "")
        return store is not None and not is_shared(store)

    # -- which node holds a volume of a node-local storage ---------------------------------------------
    #
    # fakepve keeps one volume table per storage; a node-local storage (dir, lvmthin, zfspool, ...) has one
    # per node in PVE, and GET /nodes/{node}/storage/{storage}/content (pve-storage src/PVE/API2/Storage/
    # Content.pm index, `proxyto => 'node'`) lists that node's disks only. The lab notes the node in the
    # volume's entry: where its VM was when it was allocated, and where a migration took it.

    def place(self, volid: str, node: str | None) -> None:
        """Note the node a volume of a node-local storage is on (nothing for a shared storage)."""
        sid, volname = volume_ref(volid)
        vol = self.known(sid, volname)
        if vol is not None and node is not None and self.is_local(sid):
            vol["node"] = node

    def _guest_node(self, vmid: int) -> str | None:
        guest = self.pve.vm(vmid)
        if guest is None:
            guest = next((ct for ct in getattr(self.pve, "cts", []) if ct.vmid == vmid), None)
        return getattr(guest, "node", None)

    def visible_on(self, sid: str, volname: str, node: str) -> bool:
        """Whether a node's content listing shows the volume: a shared storage's everywhere, a local one's
        on its node (volumes with no node noted, such as uploaded ISOs from before, everywhere)."""
        vol = self.known(sid, volname) or {}
        return not self.is_local(sid) or vol.get("node") in (None, node)

    def known(self, sid: str | None, volname: str) -> dict[str, Any] | None:
        """The table's entry of a volume, if it has one."""
        entry: dict[str, Any] | None = self.pve.storages.get(sid or "", {}).get("volumes", {}).get(volname)
        return entry

    # -- the pool and the table (blocking) -----------------------------------------------------------

    def listing(self, sid: str) -> dict[str, dict[str, Any]]:
        """The pool's images as PVE's rbd_ls reads them: PVE-named images only, linked clones as base/image."""
        store = self.pve.storages[sid]
        out: dict[str, dict[str, Any]] = {}
        for item in self.rbd.list_long(store.get("pool") or "rbd", store.get("namespace")):
            found = PVE_IMAGE.match(item.image)
            if item.snapshot is not None or not found:
                continue
            base = item.parent[0] if item.parent and item.parent[1] == BASE_SNAPSHOT else None
            volname = f"{base}/{item.image}" if base else item.image
            out[volname] = {"content": "images", "format": "raw", "size": item.size, "vmid": int(found.group(1))}
        return out

    def apply(self, sid: str, listing: dict[str, dict[str, Any]]) -> None:
        """Make the storage's volume table what the pool holds (ctime and notes kept)."""
        volumes = self.pve.storages[sid].setdefault("volumes", {})
        for name in [n for n in volumes if n not in listing and (sid, n) not in self._unmade]:
            del volumes[name]
        for name, vol in listing.items():
            volumes[name] = {**volumes.get(name, {"ctime": int(time.time())}), **vol}

    def create_image(self, sid: str, volname: str, size: int, base: str | None) -> None:
        """alloc_image (`rbd create`, size rounded up to MiB) or clone_image (`rbd clone` of base@__base__)."""
        name = image_name(volname)
        try:
            if base:
                self.rbd.clone(self.spec(sid, base), BASE_SNAPSHOT, self.spec(sid, name))
            else:
                self.rbd.create(self.spec(sid, name), size)
        except RbdError as exc:
            raise TaskError(f"rbd {'clone' if base else 'create'} '{name}' error: {exc}") from exc

    def remove_image(self, sid: str, volname: str) -> None:
        """free_image: `rbd rm`, after unprotect + `snap purge` when the image has snapshots. It dies as
        RBDPlugin's run_rbd_command does ("rbd rm '<name>' error: ..."); each caller of vdisk_free decides
        what that means (destroy_vm warns, a disk move's cleanup prints it, an unlink fails)."""
        spec = self.spec(sid, volname)
        try:
            self.rbd.remove(spec)
            return
        except RbdError as exc:
            if "No such file" in str(exc):
                return
            if "has snapshots" not in str(exc):
                raise TaskError(f"rbd rm '{volname}' error: {exc}") from exc
        with contextlib.suppress(RbdError):  # only a template's base image has a protected snapshot
            self.rbd.snap_unprotect(spec, BASE_SNAPSHOT)
        for verb, step in (("snap purge", self.rbd.snap_purge), ("rm", self.rbd.remove)):  # RBDPlugin's errmsg
            try:
                step(spec)
            except RbdError as exc:
                raise TaskError(f"rbd {verb} '{volname}' error: {exc}") from exc

    def _reserve(
        self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None
    ) -> tuple[str, str, str | None]:
        """fakepve's bookkeeping of a new volume: (volume id, format, base image of a linked clone)."""
        volid, fmt = self.table.alloc(sid, vmid, fmt, size)
        name = volume_name(volid)
        if not linked_from:
            return volid, fmt, None
        base = image_name(linked_from)  # PVE names a linked clone's volume <base>/<image>
        volumes = self.pve.storages[sid]["volumes"]
        volumes[f"{base}/{name}"] = volumes.pop(name)
        return f"{sid}:{base}/{name}", fmt, base

    # -- fakepve's allocation hooks (synchronous, inside fakepve's task bodies) -----------------------

    def alloc(self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None = None) -> tuple[str, str]:
        """PVE::Storage::vdisk_alloc; on RBD the pool is listed first, as find_free_diskname does. Inside
        a qm create or clone task only the name is reserved: the task makes the image in `make_reserved`."""
        if not self.is_rbd(sid):
            volid, fmt = self.table.alloc(sid, vmid, fmt, size, linked_from)
            self.place(volid, self._guest_node(vmid))
            return volid, fmt
        scope = _scope.get()
        if scope is not None and scope.begun and sid in scope.storages:
            return self._reserve_in(scope, sid, vmid, fmt, size, linked_from)
        try:
            self.apply(sid, self.listing(sid))
        except RbdError as exc:
            raise errors.die(f"rbd error: {exc}") from exc
        volid, fmt, base = self._reserve(sid, vmid, fmt, size, linked_from)
        try:
            self.create_image(sid, volume_name(volid), size, base)
        except TaskError as exc:
            self.table.free(volid)
            raise errors.die(str(exc)) from exc
        return volid, fmt

    def free(self, volid: str) -> None:
        """PVE::Storage::vdisk_free (a reserved volume whose image was never made has nothing to remove).

        In a qm destroy task (`deferring_frees`) an RBD volume is only noted: `free_deferred` removes it."""
        sid, volname = volume_ref(volid)
        deferred = _deferred_frees.get()
        if (sid, volname) in self._unmade:
            self._unmade.discard((sid, volname))
        elif self.is_rbd(sid) and self.known(sid, volname) is not None:
            if deferred is not None:
                deferred.append(volid)
                return
            try:
                self.remove_image(sid, volname)
            except TaskError as exc:  # a failed create's cleanup: `warn $@ if $@` (qemu-server API2/Qemu.pm)
                warn(str(exc))
                return
        self.table.free(volid)

    def rename_to_base(self, volid: str) -> str:
        """create_base for a template: `rbd rename` to base-..., snapshot `__base__`, protect it."""
        sid, volname = volume_ref(volid)
        new = self.table.rename_to_base(volid)
        if sid is not None and self.is_rbd(sid) and new != volid:
            old_spec, new_spec = self.spec(sid, volname), self.spec(sid, volume_name(new))
            try:
                self.rbd.rename(old_spec, new_spec)
                self.rbd.snap_create(new_spec, BASE_SNAPSHOT)
                self.rbd.snap_protect(new_spec, BASE_SNAPSHOT)
            except RbdError as exc:
                raise TaskError(f"rbd rename '{volname}' error: {exc}") from exc
        return new

    # -- fakepve's qm create and clone: names reserved in the body, images made off the event loop -----

    @contextlib.contextmanager
    def scoped(self, storages: Iterable[str | None]) -> Iterator[None]:
        """Around fakepve's qm create or clone handler: the task it starts allocates on RBD in a scope."""
        rbd = frozenset(sid for sid in storages if sid is not None and self.is_rbd(sid))
        token = _scope.set(AllocationScope(rbd) if rbd else None)
        try:
            yield
        finally:
            _scope.reset(token)

    async def begin_scope(self) -> None:
        """When a scoped task begins: take the lock of each RBD storage its request names (in order, so two
        tasks cannot deadlock) and list its pool, which find_free_diskname in the hook then reads. What
        fails there fails an allocation on that storage only."""
        scope = _scope.get()
        if scope is None or scope.begun:
            return
        scope.begun = True
        for sid in sorted(scope.storages):
            lock = self.locks.storage(sid)
            try:
                await lock.acquire()
            except LockTimeout:
                scope.failures[sid] = str(errors.cfs_lock_timeout(lock.name))
                continue
            scope.held.append(lock)
            if self.pve.ceph.get("down"):  # fakepve's own scenario: its ceph_io fails the task
                continue
            try:
                self.apply(sid, await in_thread(self.listing, sid))
            except TaskError as exc:
                scope.failures[sid] = f"rbd error: {exc}"

    def end_scope(self) -> None:
        """The scoped task's images are made (or it failed): its storage locks go."""
        scope = _scope.get()
        while scope is not None and scope.held:
            scope.held.pop().release()

    def _reserve_in(
        self, scope: AllocationScope, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None
    ) -> tuple[str, str]:
        if sid in scope.failures:
            raise errors.die(scope.failures[sid])
        volid, fmt, base = self._reserve(sid, vmid, fmt, size, linked_from)
        self._unmade.add((sid, volume_name(volid)))
        scope.reserved.append(Reservation(sid, volid, size, base))
        return volid, fmt

    async def make_reserved(self) -> None:
        """Make the images the running scoped task has reserved (under the locks it holds), then let the
        locks go."""
        scope = _scope.get()
        if scope is None:
            return
        try:
            while scope.reserved:
                item = scope.reserved.pop(0)
                key = (item.sid, volume_name(item.volid))
                if key not in self._unmade:  # freed by the body meanwhile
                    continue
                try:
                    await in_thread(self.create_image, item.sid, key[1], item.size, item.base)
                finally:
                    self._unmade.discard(key)
        finally:
            self.end_scope()

    # -- the same for the lab's own tasks, off the event loop -----------------------------------------

    @contextlib.asynccontextmanager
    async def _storage_lock(self, sid: str) -> AsyncIterator[None]:
        """cluster_lock_storage of a shared storage (RBD always is): PVE's words when it is not had in time."""
        try:
            async with self.locks.storage(sid).hold():
                yield
        except LockTimeout:
            raise errors.cfs_lock_timeout(f"storage-{sid}") from None

    async def alloc_async(self, sid: str, vmid: int, fmt: str | None, size: int) -> tuple[str, str]:
        if not self.is_rbd(sid):
            volid, fmt = self.table.alloc(sid, vmid, fmt, size)
            self.place(volid, self._guest_node(vmid))
            return volid, fmt
        async with self._storage_lock(sid):
            try:
                self.apply(sid, await in_thread(self.listing, sid))
            except TaskError as exc:
                raise TaskError(f"rbd error: {exc}") from exc
            volid, fmt, _base = self._reserve(sid, vmid, fmt, size, None)
            try:
                await in_thread(self.create_image, sid, volume_name(volid), size, None)
            except TaskError:
                self.table.free(volid)
                raise
        return volid, fmt

    @contextlib.contextmanager
    def deferring_frees(self) -> Iterator[None]:
        """Around fakepve's qm destroy handler: the task it starts removes its RBD images after its body."""
        token = _deferred_frees.set([])
        try:
            yield
        finally:
            _deferred_frees.reset(token)

    async def free_deferred(self) -> None:
        """The RBD volumes the running destroy task's body freed, each as vdisk_free does (free_async). One
        that cannot be removed stays, with destroy_vm's warning."""
        deferred = _deferred_frees.get()
        while deferred:
            volid = deferred.pop(0)
            try:
                await self.free_async(volid)
            except TaskError as exc:
                log_warn(f"Could not remove disk '{volid}', check manually: {exc}")

    async def free_async(self, volid: str) -> None:
        """vdisk_free: an RBD volume's image removed in a worker thread under its storage's cluster lock
        (pve-storage src/PVE/Storage.pm vdisk_free, cluster_lock_storage around free_image). TaskError
        in PVE's words when the lock is not had in time or `rbd` fails; the volume then stays."""
        sid, volname = volume_ref(volid)
        if self.is_rbd(sid) and self.known(sid, volname) is not None:
            assert sid is not None
            async with self._storage_lock(sid):
                await in_thread(self.remove_image, sid, volname)
        self.table.free(volid)

    async def refresh(self, sid: str) -> None:
        """Before a content listing: an RBD storage lists what is in its pool (PVE's rbd_ls)."""
        if not self.is_rbd(sid) or self.pve.ceph.get("down"):
            return
        try:
            listing = await in_thread(self.listing, sid)
        except TaskError as exc:
            raise errors.die(f"rbd error: {exc}") from exc
        self.apply(sid, listing)

    async def resize_image(self, sid: str, volname: str, size: int) -> None:
        """volume_resize: `rbd resize`, in a worker thread."""
        try:
            await in_thread(self.rbd.resize, self.spec(sid, volname), size)
        except TaskError as exc:
            raise TaskError(f"rbd resize '{volname}' error: {exc}") from exc

    async def image_size(self, sid: str, volname: str) -> int:
        """volume_size_info: `rbd info`, in a worker thread."""
        try:
            return await in_thread(self.rbd.size, self.spec(sid, volname))
        except TaskError as exc:
            raise TaskError(f"Could not determine current size of volume '{sid}:{volname}'") from exc
