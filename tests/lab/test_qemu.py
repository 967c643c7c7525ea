"""VM migrate, move_disk and resize on the lab, and VM disks on RBD storages as real images.

The first part runs the lab's API in-process (see tests/lab/test_ha.py) with a stand-in for `rbd`
that keeps images in a dict, so PVE's wire behaviour is checked in seconds. The `lab`-marked part
runs against a lab with real Ceph daemons and checks the pool with the real `rbd` CLI.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ceph_backend.errors import CephCommandError
from lab.pytest_plugin import Lab, LabFactory
from tests.lab.inprocess import InProcessLab, error_of, wait_for, wait_task

GIB = 1024**3
MIB = 1024**2


class FakeRbd:
    """The backend's `rbd(*args)` over a dict of images, failing with rbd's own messages."""

    conf_path = Path("/nonexistent/ceph.conf")
    admin_keyring = Path("/nonexistent/ceph.client.admin.keyring")

    def __init__(self, pools: tuple[str, ...] = ("vms",)) -> None:
        self.pools = set(pools)
        self.images: dict[str, dict[str, Any]] = {}  # "pool/name" -> size, parent, snaps
        self.calls: list[tuple[str, ...]] = []
        # Set `hold` to make each `rbd create` wait for it, counting those waiting in `creating`.
        self.hold: threading.Event | None = None
        self.creating = 0
        # Likewise `rm_hold` for each `rbd rm`, counting those waiting in `removing`.
        self.rm_hold: threading.Event | None = None
        self.removing = 0
        self.rm_error: str | None = None  # set: each `rbd rm` fails with it

    def initialized(self) -> bool:
        return True

    def fail_node(self, node: str) -> None:
        pass

    def recover_node(self, node: str) -> None:
        pass

    def _fail(self, args: tuple[str, ...], message: str) -> CephCommandError:
        return CephCommandError(2, message, ["rbd", *args])

    def _image(self, args: tuple[str, ...], spec: str) -> dict[str, Any]:
        if spec.split("/")[0] not in self.pools:
            raise self._fail(args, f"rbd: error opening pool '{spec.split('/')[0]}': (2) No such file or directory")
        if spec not in self.images:
            raise self._fail(args, f"rbd: error opening image {spec.split('/')[-1]}: (2) No such file or directory")
        return self.images[spec]

    def rbd(self, *args: str, timeout: float = 60) -> Any:
        self.calls.append(args)
        words = [a for a in args if a not in ("--no-progress",)]
        verb = words[0] if words[0] != "snap" else "snap " + words[1]
        if verb == "ls":
            pool = words[-1]
            if pool not in self.pools:
                raise self._fail(args, f"rbd: error opening pool '{pool}': (2) No such file or directory")
            return [
                {
                    "image": s.split("/")[-1],
                    "size": i["size"],
                    "format": 2,
                    **({"parent": i["parent"]} if i.get("parent") else {}),
                }
                for s, i in sorted(self.images.items())
                if s.startswith(pool + "/")
            ]
        if verb == "create":
            if self.hold is not None:
                self.creating += 1
                self.hold.wait(20)
                self.creating -= 1
            spec, size = words[-1], int(words[words.index("--size") + 1].rstrip("M")) * MIB
            if spec.split("/")[0] not in self.pools:
                raise self._fail(args, f"rbd: error opening pool '{spec.split('/')[0]}': (2) No such file or directory")
            if spec in self.images:
                raise self._fail(args, "rbd: create error: (17) File exists")
            self.images[spec] = {"size": size, "snaps": set()}
            return None
        if verb == "clone":
            parent, snap = words[1].split("@")
            base = self._image(args, parent)
            pool, _, image = parent.partition("/")
            self.images[words[2]] = {
                "size": base["size"],
                "snaps": set(),
                "parent": {"pool": pool, "image": image, "snapshot": snap},
            }
            return None
        if verb == "rm":
            if self.rm_hold is not None:
                self.removing += 1
                self.rm_hold.wait(20)
                self.removing -= 1
            found = self._image(args, words[1])
            if self.rm_error:
                raise self._fail(args, self.rm_error)
            if found["snaps"]:
                raise self._fail(
                    args,
                    "rbd: image has snapshots - these must be deleted with 'rbd snap purge' "
                    "before the image can be removed.",
                )
            del self.images[words[1]]
            return None
        if verb == "info":
            return {"name": words[-1].split("/")[-1], "size": self._image(args, words[-1])["size"], "format": 2}
        if verb == "resize":
            self._image(args, words[-1])["size"] = int(words[words.index("--size") + 1].rstrip("M")) * MIB
            return None
        if verb == "rename":
            self.images[words[2]] = self.images.pop(words[1])
            return None
        if verb in ("snap create", "snap protect", "snap unprotect"):
            spec, snap = words[2].split("@")
            if verb == "snap create":
                self._image(args, spec)["snaps"].add(snap)
            return None
        if verb == "snap purge":
            self._image(args, words[2])["snaps"].clear()
            return None
        raise AssertionError(f"FakeRbd: unexpected rbd {' '.join(args)}")


@pytest.fixture
def rbd() -> FakeRbd:
    return FakeRbd()


@pytest.fixture
def inproc(tmp_path: Path, rbd: FakeRbd) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path, backend=rbd)
    lab.pve.storages["ceph-vm"]["pool"] = "vms"
    yield lab
    lab.stop()


@pytest.fixture
def api(inproc: InProcessLab) -> Any:
    return inproc.api()


def create_vm(api: Any, node: str, vmid: int, **disks: str) -> None:
    upid = api.nodes(node).qemu.post(vmid=vmid, memory=512, **disks)
    assert wait_task(api, upid)[0] == "OK"


def config(api: Any, node: str, vmid: int) -> dict[str, Any]:
    return dict(api.nodes(node).qemu(vmid).config.get())


def volids(api: Any, node: str, storage: str) -> set[str]:
    return {item["volid"] for item in api.nodes(node).storage(storage).content.get()}


# -- RBD volumes ---------------------------------------------------------------------------------------


def test_create_and_destroy_allocate_and_free_rbd_images(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:2", scsi1="local-lvm:1")
    assert config(api, "pve1", 100)["scsi0"] == "ceph-vm:vm-100-disk-0,size=2G"
    assert rbd.images["vms/vm-100-disk-0"]["size"] == 2 * GIB
    assert ("create", "--image-format", "2", "--size", "2048M", "vms/vm-100-disk-0") in rbd.calls
    assert volids(api, "pve1", "ceph-vm") == {"ceph-vm:vm-100-disk-0"}
    assert wait_task(api, api.nodes("pve1").qemu(100).delete())[0] == "OK"
    assert rbd.images == {}
    assert volids(api, "pve1", "ceph-vm") == set()


def test_creates_on_one_rbd_storage_queue_on_its_lock_and_leave_the_api_answering(
    api: Any, inproc: InProcessLab, rbd: FakeRbd
) -> None:
    """PVE lists the pool and makes each image under the storage's cfs lock, in the task's own worker: the
    API keeps answering while `rbd create` runs, and a second create on the storage waits for the first."""
    rbd.hold = threading.Event()
    first = api.nodes("pve1").qemu.post(vmid=100, memory=512, scsi0="ceph-vm:1", scsi1="ceph-vm:1")
    wait_for("the first rbd create to start", lambda: rbd.creating == 1)
    second = api.nodes("pve2").qemu.post(vmid=101, memory=512, scsi0="ceph-vm:1")
    assert api.version.get()["version"]  # answered while an rbd create is under way
    status = [api.nodes(n).tasks(u).status.get()["status"] for n, u in (("pve1", first), ("pve2", second))]
    assert status == ["running", "running"]
    # the second waits for the storage lock before it lists the pool, as PVE's vdisk_alloc does
    assert [c[0] for c in rbd.calls] == ["ls", "create"] and rbd.creating == 1
    released = time.time()
    rbd.hold.set()
    assert wait_task(api, first)[0] == "OK" and wait_task(api, second)[0] == "OK"
    assert set(rbd.images) == {"vms/vm-100-disk-0", "vms/vm-100-disk-1", "vms/vm-101-disk-0"}
    assert config(api, "pve1", 100)["scsi1"] == "ceph-vm:vm-100-disk-1,size=1G"
    # the second's wait is counted apart from its work: it lasted until the first let the lock go
    record = next(t for t in inproc.pve.task_records() if t["type"] == "qmcreate" and t["id"] == "101")
    assert record["start"] + record["lock_wait"] >= released


def test_a_create_that_cannot_get_the_storage_lock_fails_with_pves_words(
    api: Any, inproc: InProcessLab, rbd: FakeRbd
) -> None:
    lock = inproc.run(lambda: inproc.pve.locks.lock("storage-ceph-vm", 0.3))  # PVE waits 10 s; 0.3 here
    inproc.call(inproc.pve.locks.held_by_another(lock, 5))
    upid = api.nodes("pve1").qemu.post(vmid=100, memory=512, scsi0="local-lvm:1", scsi1="ceph-vm:1")
    assert (
        wait_task(api, upid)[0]
        == "unable to create VM 100 - cfs-lock 'storage-ceph-vm' error: got lock request timeout"
    )
    assert rbd.images == {} and volids(api, "pve1", "ceph-vm") == set() and volids(api, "pve1", "local-lvm") == set()
    assert 100 not in [int(vm["vmid"]) for vm in api.cluster.resources.get(type="vm")]


def test_a_failed_rbd_create_frees_the_disks_made_before_it(api: Any, inproc: InProcessLab, rbd: FakeRbd) -> None:
    inproc.run(lambda: inproc.pve.add_ceph_storage("ceph-b", "b"))
    rbd.pools.add("b")
    rbd.hold = threading.Event()
    upid = api.nodes("pve1").qemu.post(vmid=100, memory=512, scsi0="ceph-vm:1", scsi1="ceph-b:1")
    wait_for("the first rbd create to start", lambda: rbd.creating == 1)
    rbd.pools.discard("b")  # gone after the task listed it
    rbd.hold.set()
    assert wait_task(api, upid)[0] == (
        "unable to create VM 100 - rbd create 'vm-100-disk-0' error: "
        "rbd: error opening pool 'b': (2) No such file or directory"
    )
    assert rbd.images == {} and volids(api, "pve1", "ceph-vm") == set()


def test_a_destroy_removes_its_images_under_the_storage_lock_and_leaves_the_api_answering(
    api: Any, inproc: InProcessLab, rbd: FakeRbd
) -> None:
    """vdisk_free removes each image under the storage's cfs lock, in the destroy task's worker: the API
    answers meanwhile, the disks stay listed until they are gone, and a create on the storage waits."""
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1", scsi1="ceph-vm:1")
    rbd.rm_hold = threading.Event()
    destroy = api.nodes("pve1").qemu(100).delete()
    wait_for("the first rbd rm to start", lambda: rbd.removing == 1)
    assert api.version.get()["version"]  # answered while an rbd rm is under way
    assert volids(api, "pve1", "ceph-vm") == {"ceph-vm:vm-100-disk-0", "ceph-vm:vm-100-disk-1"}
    calls = len(rbd.calls)
    create = api.nodes("pve2").qemu.post(vmid=101, memory=512, scsi0="ceph-vm:1")
    time.sleep(0.2)
    assert api.nodes("pve2").tasks(create).status.get()["status"] == "running"
    assert len(rbd.calls) == calls  # the create waits for the lock before it lists the pool
    rbd.rm_hold.set()
    assert wait_task(api, destroy)[0] == "OK" and wait_task(api, create)[0] == "OK"
    assert set(rbd.images) == {"vms/vm-101-disk-0"}
    assert volids(api, "pve1", "ceph-vm") == {"ceph-vm:vm-101-disk-0"}


def test_a_destroy_that_cannot_get_the_storage_lock_leaves_the_disk_to_check_manually(
    api: Any, inproc: InProcessLab, rbd: FakeRbd
) -> None:
    """qemu-server's destroy_vm only warns when vdisk_free fails (log_warn): the VM goes, its image stays in
    the pool, and the task ends with PVE's count of warnings."""
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    lock = inproc.run(lambda: inproc.pve.locks.storage("ceph-vm"))
    lock.wait = 0.3  # PVE waits 10 s
    inproc.call(inproc.pve.locks.held_by_another(lock, 5))
    status, log = wait_task(api, api.nodes("pve1").qemu(100).delete())
    assert status == "WARNINGS: 1"
    assert log[-2:] == [
        "WARN: Could not remove disk 'ceph-vm:vm-100-disk-0', check manually: "
        "cfs-lock 'storage-ceph-vm' error: got lock request timeout",
        "TASK WARNINGS: 1",
    ]
    assert 100 not in [int(vm["vmid"]) for vm in api.cluster.resources.get(type="vm")]
    assert set(rbd.images) == {"vms/vm-100-disk-0"}
    assert volids(api, "pve1", "ceph-vm") == {"ceph-vm:vm-100-disk-0"}


def test_a_config_change_reads_back_typed_as_pve_answers(api: Any) -> None:
    """PVE stores a change by its schema type: integers and booleans come back as numbers (bpg decodes them)."""
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    api.nodes("pve1").qemu(100).config.put(cores="2", onboot="1", name="typed")
    wait_task(api, api.nodes("pve1").qemu(100).config.post(sockets="2"))
    got = config(api, "pve1", 100)
    assert (got["cores"], got["onboot"], got["sockets"], got["name"]) == (2, 1, 2, "typed")
    assert wait_task(api, api.nodes("pve1").qemu(100).delete())[0] == "OK"


def test_storage_content_follows_the_pool(api: Any, rbd: FakeRbd) -> None:
    rbd.images["vms/vm-555-disk-3"] = {"size": GIB, "snaps": set()}  # made outside PVE
    rbd.images["vms/not-a-pve-image"] = {"size": GIB, "snaps": set()}  # PVE's rbd_ls skips these
    content = api.nodes("pve2").storage("ceph-vm").content.get()
    assert [(c["volid"], c["size"], c["vmid"]) for c in content] == [("ceph-vm:vm-555-disk-3", GIB, 555)]
    del rbd.images["vms/vm-555-disk-3"]
    assert volids(api, "pve2", "ceph-vm") == set()


def test_disk_numbers_skip_images_already_in_the_pool(api: Any, rbd: FakeRbd) -> None:
    rbd.images["vms/vm-100-disk-0"] = {"size": GIB, "snaps": set()}  # a leftover
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    assert config(api, "pve1", 100)["scsi0"] == "ceph-vm:vm-100-disk-1,size=1G"


def test_create_on_a_missing_pool_fails_like_pve(api: Any, inproc: InProcessLab) -> None:
    inproc.pve.storages["ceph-vm"]["pool"] = "nopool"
    upid = api.nodes("pve1").qemu.post(vmid=100, scsi0="ceph-vm:1")
    assert wait_task(api, upid)[0] == (
        "unable to create VM 100 - rbd error: rbd: error opening pool 'nopool': (2) No such file or directory"
    )


def test_template_and_linked_clone_on_rbd(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    assert wait_task(api, api.nodes("pve1").qemu(100).template.post())[0] == "OK"
    assert set(rbd.images) == {"vms/base-100-disk-0"} and rbd.images["vms/base-100-disk-0"]["snaps"] == {"__base__"}
    assert wait_task(api, api.nodes("pve1").qemu(100).clone.post(newid=101))[0] == "OK"
    assert config(api, "pve1", 101)["scsi0"] == "ceph-vm:base-100-disk-0/vm-101-disk-0,size=1G"
    assert rbd.images["vms/vm-101-disk-0"]["parent"]["image"] == "base-100-disk-0"
    assert "ceph-vm:base-100-disk-0/vm-101-disk-0" in volids(api, "pve1", "ceph-vm")


# -- adding, replacing and unlinking disks (update_vm_api, create_disks, unlink) -----------------------------


def test_adding_a_disk_allocates_a_volume_sync_and_async(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    # PUT .../config (the GUI's "Add disk")
    assert api.nodes("pve1").qemu(100).config.put(scsi1="local-lvm:2,discard=on") is None
    assert config(api, "pve1", 100)["scsi1"] == "local-lvm:vm-100-disk-1,discard=on,size=2G"
    assert "local-lvm:vm-100-disk-1" in volids(api, "pve1", "local-lvm")
    # POST .../config (what bpg sends when a disk is added later): a qmconfig task, on RBD a real image
    upid = api.nodes("pve1").qemu(100).config.post(virtio0="ceph-vm:3")
    exitstatus, log = wait_task(api, upid)
    assert exitstatus == "OK"
    assert log[0] == "update VM 100: -virtio0 ceph-vm:3"
    assert "virtio0: successfully created disk 'ceph-vm:vm-100-disk-0,size=3G'" in log
    assert config(api, "pve1", 100)["virtio0"] == "ceph-vm:vm-100-disk-0,size=3G"
    assert rbd.images["vms/vm-100-disk-0"]["size"] == 3 * GIB


def test_adding_a_disk_to_a_running_vm_hotplugs_scsi_but_not_sata(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    api.nodes("pve1").qemu(100).status.start.post()
    api.nodes("pve1").qemu(100).config.put(scsi1="local-lvm:1", sata0="local-lvm:1")
    pending = {p["key"]: p for p in api.nodes("pve1").qemu(100).pending.get()}
    assert pending["scsi1"]["value"] == config(api, "pve1", 100)["scsi1"] and "pending" not in pending["scsi1"]
    assert pending["sata0"]["pending"].endswith(",size=1G") and "value" not in pending["sata0"]


def test_adding_a_disk_is_checked_before_anything_changes(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    inproc.pve.storages["iso-only"] = {"type": "dir", "path": "/srv/iso", "content": "iso", "files": set()}
    qemu = api.nodes("pve1").qemu(100)
    status, _, errs = error_of(lambda: qemu.config.put(scsi1="iso-only:1"))
    assert (status, errs) == (400, {"storage": "storage 'iso-only' does not support vm images"})
    assert error_of(lambda: qemu.config.post(scsi1="nostore:1"))[:2] == (500, "storage 'nostore' does not exist")
    assert error_of(lambda: qemu.config.put(scsi1="local-lvm:vm-100-disk-7"))[:2] == (
        500,
        "volume local-lvm:vm-100-disk-7 does not exist",
    )
    assert "scsi1" not in config(api, "pve1", 100)
    assert volids(api, "pve1", "local-lvm") == {"local-lvm:vm-100-disk-0"}


def test_a_replaced_disk_stays_as_unused(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    api.nodes("pve1").qemu(100).config.put(scsi0="local-lvm:4")
    cfg = config(api, "pve1", 100)
    assert (cfg["scsi0"], cfg["unused0"]) == ("local-lvm:vm-100-disk-1,size=4G", "local-lvm:vm-100-disk-0")


def test_unlink_detaches_and_with_force_deletes(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1", scsi1="ceph-vm:1", scsi2="local-lvm:1", ide2="none,media=cdrom")
    qemu = api.nodes("pve1").qemu(100)
    assert qemu.unlink.put(idlist="scsi1") is None
    cfg = config(api, "pve1", 100)
    assert "scsi1" not in cfg and cfg["unused0"] == "ceph-vm:vm-100-disk-0"
    assert "vms/vm-100-disk-0" in rbd.images  # detached, not deleted
    assert qemu.unlink.put(idlist="unused0,scsi2,ide2", force=1) is None
    cfg = config(api, "pve1", 100)
    assert not {"unused0", "scsi2", "ide2"} & set(cfg)
    assert rbd.images == {}
    assert volids(api, "pve1", "local-lvm") == {"local-lvm:vm-100-disk-0"}
    assert cfg["boot"] == "order=scsi0"  # the deleted devices left the boot order


def test_unlink_refusals(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1", protection="1")
    qemu = api.nodes("pve1").qemu(100)
    assert error_of(lambda: qemu.unlink.put(idlist="scsi0", force=1))[:2] == (
        500,
        "can't remove drive 'scsi0' - protection mode enabled",
    )
    qemu.config.put(delete="protection")
    inproc.run(lambda: inproc.pve.snapshot_lock(100, "backup"))
    assert error_of(lambda: qemu.unlink.put(idlist="scsi0"))[:2] == (500, "VM is locked (backup)")
    assert config(api, "pve1", 100)["scsi0"] == "local-lvm:vm-100-disk-0,size=1G"


# -- move_disk ---------------------------------------------------------------------------------------------


def test_move_disk_to_rbd_keeps_the_source_as_unused(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:2,cache=writeback,discard=on")
    api.nodes("pve1").qemu(100).status.start.post()
    upid = api.nodes("pve1").qemu(100).move_disk.post(disk="scsi0", storage="ceph-vm")
    assert ":qmmove:100:" in upid
    exitstatus, log = wait_task(api, upid)
    assert exitstatus == "OK"
    assert (
        "copying volume 'local-lvm:vm-100-disk-0' from current storage 'local-lvm' to target storage 'ceph-vm'"
    ) in log
    cfg = config(api, "pve1", 100)
    assert cfg["scsi0"] == "ceph-vm:vm-100-disk-0,cache=writeback,discard=on,size=2G"
    assert cfg["unused0"] == "local-lvm:vm-100-disk-0"
    assert rbd.images["vms/vm-100-disk-0"]["size"] == 2 * GIB
    assert api.nodes("pve1").qemu(100).status.current.get()["status"] == "running"  # moved live


def test_move_disk_with_delete_frees_the_source(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    upid = api.nodes("pve1").qemu(100).move_disk.post(disk="scsi0", storage="local-lvm", delete=1)
    assert wait_task(api, upid)[0] == "OK"
    assert config(api, "pve1", 100)["scsi0"] == "local-lvm:vm-100-disk-0,size=1G"
    assert "unused0" not in config(api, "pve1", 100)
    assert rbd.images == {}
    assert "local-lvm:vm-100-disk-0" in volids(api, "pve1", "local-lvm")


WATCHERS = "rbd: error: image still has watchers"


def test_move_disk_whose_source_cannot_be_removed_stands_and_prints_why(api: Any, rbd: FakeRbd) -> None:
    """qemu-server's move_disk frees the source with `warn $@ if $@`: a plain line, the task still OK."""
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    rbd.rm_error = WATCHERS
    status, log = wait_task(
        api, api.nodes("pve1").qemu(100).move_disk.post(disk="scsi0", storage="local-lvm", delete=1)
    )
    assert status == "OK"
    assert any(line.startswith("rbd rm 'vm-100-disk-0' error: ") and WATCHERS in line for line in log)
    assert config(api, "pve1", 100)["scsi0"] == "local-lvm:vm-100-disk-0,size=1G"
    assert set(rbd.images) == {"vms/vm-100-disk-0"}  # left in the pool, and listed by its storage
    assert volids(api, "pve1", "ceph-vm") == {"ceph-vm:vm-100-disk-0"}


def test_a_destroy_whose_rbd_rm_fails_warns_and_counts_it(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    rbd.rm_error = WATCHERS
    status, log = wait_task(api, api.nodes("pve1").qemu(100).delete())
    assert status == "WARNINGS: 1" and log[-1] == "TASK WARNINGS: 1"
    (warned,) = [line for line in log if line.startswith("WARN: ")]
    assert warned.startswith("WARN: Could not remove disk 'ceph-vm:vm-100-disk-0', check manually: rbd rm ")
    assert WATCHERS in warned
    assert set(rbd.images) == {"vms/vm-100-disk-0"}


def test_move_disk_refusals(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    inproc.pve.storages["iso-only"] = {"type": "dir", "path": "/srv/iso", "content": "iso", "files": set()}
    qemu = api.nodes("pve1").qemu(100)
    assert error_of(lambda: qemu.move_disk.post(disk="scsi0", storage="local-lvm"))[:2] == (
        500,
        "you can't move to the same storage with same format",
    )
    assert error_of(lambda: qemu.move_disk.post(disk="scsi5", storage="ceph-vm"))[:2] == (
        500,
        "disk 'scsi5' does not exist",
    )
    status, _, errs = error_of(lambda: qemu.move_disk.post(disk="scsi0", storage="iso-only"))
    assert (status, errs) == (400, {"storage": "storage 'iso-only' does not support vm images"})
    status, _, errs = error_of(lambda: qemu.move_disk.post(disk="scsi0"))
    both = "both 'storage' and 'target-vmid' missing, either needs to be set"
    assert (status, errs) == (400, {"storage": both, "target-vmid": both})
    inproc.run(lambda: inproc.pve.snapshot_lock(100, "backup"))
    assert error_of(lambda: qemu.move_disk.post(disk="scsi0", storage="ceph-vm"))[:2] == (500, "VM is locked (backup)")


# -- resize ---------------------------------------------------------------------------------------------------


def test_resize_grows_the_image_and_the_drive(api: Any, rbd: FakeRbd) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:2")
    upid = api.nodes("pve1").qemu(100).resize.put(disk="scsi0", size="+1G")
    assert ":resize:100:" in upid
    assert wait_task(api, upid)[0] == "OK"
    assert rbd.images["vms/vm-100-disk-0"]["size"] == 3 * GIB
    assert config(api, "pve1", 100)["scsi0"] == "ceph-vm:vm-100-disk-0,size=3G"
    assert wait_task(api, api.nodes("pve1").qemu(100).resize.put(disk="scsi0", size="4G"))[0] == "OK"
    assert rbd.images["vms/vm-100-disk-0"]["size"] == 4 * GIB


def test_resize_refusals_are_task_errors(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:2")
    qemu = api.nodes("pve1").qemu(100)
    assert wait_task(api, qemu.resize.put(disk="scsi0", size="1G"))[0] == "shrinking disks is not supported"
    assert wait_task(api, qemu.resize.put(disk="scsi3", size="+1G"))[0] == "disk 'scsi3' does not exist"
    assert wait_task(api, api.nodes("pve2").qemu(100).resize.put(disk="scsi0", size="+1G"))[0] == (
        "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist"
    )
    assert wait_task(api, qemu.resize.put(disk="scsi0", size="+512M"))[0] == "OK"
    assert config(api, "pve1", 100)["scsi0"] == "local-lvm:vm-100-disk-0,size=2560M"


# -- migrate -------------------------------------------------------------------------------------------------


def test_migrate_moves_the_vm(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    upid = api.nodes("pve1").qemu(100).migrate.post(target="pve2")
    assert upid.startswith("UPID:pve1:") and ":qmigrate:100:" in upid
    exitstatus, log = wait_task(api, upid)
    assert exitstatus == "OK" and log[-2].startswith("migration finished successfully")
    assert config(api, "pve2", 100)["scsi0"] == "ceph-vm:vm-100-disk-0,size=1G"
    assert next(r for r in api.cluster.resources.get(type="vm") if r["vmid"] == 100)["node"] == "pve2"
    assert error_of(lambda: api.nodes("pve1").qemu(100).config.get())[:2] == (
        500,
        "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist",
    )


def test_migrate_running_vm_online(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    api.nodes("pve1").qemu(100).status.start.post()
    assert error_of(lambda: api.nodes("pve1").qemu(100).migrate.post(target="pve3"))[:2] == (
        500,
        "can't migrate running VM without --online",
    )
    assert wait_task(api, api.nodes("pve1").qemu(100).migrate.post(target="pve3", online=1))[0] == "OK"
    assert api.nodes("pve3").qemu(100).status.current.get()["status"] == "running"


def test_migrate_sync_refusals(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    qemu = api.nodes("pve1").qemu(100)
    status, _, errs = error_of(lambda: qemu.migrate.post(target="pve1"))
    assert (status, errs) == (400, {"target": "target is local node."})
    assert error_of(lambda: api.nodes("pve2").qemu(100).migrate.post(target="pve3"))[:2] == (
        500,
        "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist",
    )
    inproc.pve.storages["ceph-vm"]["nodes"] = "pve1,pve2"
    assert error_of(lambda: qemu.migrate.post(target="pve3"))[:2] == (
        500,
        "storage 'ceph-vm' is not available on node 'pve3'",
    )
    inproc.run(lambda: inproc.pve.snapshot_lock(100, "backup"))
    assert error_of(lambda: qemu.migrate.post(target="pve2"))[:2] == (500, "VM is locked (backup)")
    inproc.pve.lose_quorum()
    assert error_of(lambda: qemu.migrate.post(target="pve2"))[:2] == (500, "cluster not ready - no quorum?")


def test_live_migration_with_local_disks_needs_with_local_disks(api: Any) -> None:
    create_vm(api, "pve1", 100, scsi0="local-lvm:1")
    api.nodes("pve1").qemu(100).status.start.post()
    exitstatus, log = wait_task(api, api.nodes("pve1").qemu(100).migrate.post(target="pve2", online=1))
    assert exitstatus == "migration aborted"
    assert (
        "WARN: can't migrate local disk 'local-lvm:vm-100-disk-0': can't live migrate attached local disks "
        "without with-local-disks option"
    ) in log
    assert "ERROR: Problem found while scanning volumes - can't migrate VM - check log" in log
    upid = api.nodes("pve1").qemu(100).migrate.post(target="pve2", online=1, **{"with-local-disks": 1})
    assert wait_task(api, upid)[0] == "OK"


def test_migrate_to_an_offline_node_fails_in_the_task(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1")
    inproc.fail_node("pve2")
    exitstatus, log = wait_task(api, api.nodes("pve1").qemu(100).migrate.post(target="pve2"))
    assert exitstatus == "migration aborted"
    assert "ERROR: Can't connect to destination address using public key" in log


def test_migrate_preconditions(api: Any, inproc: InProcessLab) -> None:
    create_vm(api, "pve1", 100, scsi0="ceph-vm:1", scsi1="local-lvm:2", ide2="none,media=cdrom")
    inproc.pve.storages["ceph-vm"]["nodes"] = "pve1,pve2"
    answer = api.nodes("pve1").qemu(100).migrate.get(target="pve2")
    assert answer["running"] == 0
    assert answer["allowed_nodes"] == ["pve2"]
    assert answer["not_allowed_nodes"] == {"pve3": {"unavailable_storages": ["ceph-vm"]}}
    assert answer["local_resources"] == []
    assert [(d["volid"], d["size"], d["drivename"]) for d in answer["local_disks"]] == [
        ("local-lvm:vm-100-disk-0", 2 * GIB, "scsi1")
    ]


# -- against real Ceph -----------------------------------------------------------------------------------------


def wait_lab_task(api: Any, upid: str, timeout: float = 300) -> str:
    return wait_task(api, upid, timeout)[0]


@pytest.fixture(scope="module")
def ceph_lab(lab_factory: LabFactory) -> Iterator[Lab]:
    """A lab with a working Ceph cluster (1 MON, 3 OSDs), a pool `vms` and an RBD storage `ceph-vm` on it."""
    lab = lab_factory("--ceph-installed")
    token, root = lab.api(), lab.root_api()
    token.nodes("pve1").ceph.init.post(network=lab.public_network)
    assert wait_lab_task(token, token.nodes("pve1").ceph.mon("pve1").post()) == "OK"
    wait_for("an active MGR", lambda: any(m["state"] == "active" for m in token.nodes("pve1").ceph.mgr.get()), 120)
    upids = [root.nodes(node).ceph.osd.post(dev="/dev/sdb") for node in lab.nodes]
    assert [wait_lab_task(root, upid) for upid in upids] == ["OK"] * len(upids)
    assert wait_lab_task(token, token.nodes("pve1").ceph.pool.post(name="vms", pg_num=32, add_storages=0)) == "OK"
    token.storage.post(storage="ceph-vm", type="rbd", pool="vms", content="images")

    def pgs_active() -> bool:
        stat = json.loads(lab.ceph("pg", "stat", "--format", "json"))
        states = stat.get("pg_summary", stat).get("num_pg_by_state", [])
        return bool(states) and all("active" in s["name"] for s in states)

    wait_for("active PGs", pgs_active, 300)
    yield lab
    lab_factory.stop(lab)


def rbd_images(lab: Lab) -> dict[str, int]:
    return {i["image"]: i["size"] for i in json.loads(lab.rbd("ls", "-l", "--format", "json", "vms") or "[]")}


@pytest.mark.lab
def test_real_vm_disk_on_rbd_is_an_image(ceph_lab: Lab) -> None:
    api = ceph_lab.api()
    upid = api.nodes("pve1").qemu.post(vmid=100, memory=512, scsi0="ceph-vm:2")
    assert wait_lab_task(api, upid) == "OK"
    assert rbd_images(ceph_lab)["vm-100-disk-0"] == 2 * GIB
    assert {c["volid"]: c["size"] for c in api.nodes("pve2").storage("ceph-vm").content.get()} == {
        "ceph-vm:vm-100-disk-0": 2 * GIB
    }


@pytest.mark.lab
def test_real_added_disk_is_an_image(ceph_lab: Lab) -> None:
    api = ceph_lab.api()
    assert wait_lab_task(api, api.nodes("pve1").qemu(100).config.post(scsi1="ceph-vm:1")) == "OK"
    assert rbd_images(ceph_lab)["vm-100-disk-1"] == GIB
    assert api.nodes("pve1").qemu(100).config.get()["scsi1"] == "ceph-vm:vm-100-disk-1,size=1G"


@pytest.mark.lab
def test_real_resize_changes_the_image(ceph_lab: Lab) -> None:
    api = ceph_lab.api()
    assert wait_lab_task(api, api.nodes("pve1").qemu(100).resize.put(disk="scsi0", size="+1G")) == "OK"
    info = json.loads(ceph_lab.rbd("info", "--format", "json", "vms/vm-100-disk-0"))
    assert info["size"] == 3 * GIB
    assert api.nodes("pve1").qemu(100).config.get()["scsi0"] == "ceph-vm:vm-100-disk-0,size=3G"


@pytest.mark.lab
def test_real_move_disk_to_rbd(ceph_lab: Lab) -> None:
    api = ceph_lab.api()
    assert wait_lab_task(api, api.nodes("pve2").qemu.post(vmid=101, memory=512, scsi0="local-lvm:1")) == "OK"
    upid = api.nodes("pve2").qemu(101).move_disk.post(disk="scsi0", storage="ceph-vm", delete=1)
    assert wait_lab_task(api, upid) == "OK"
    assert rbd_images(ceph_lab)["vm-101-disk-0"] == GIB
    assert api.nodes("pve2").qemu(101).config.get()["scsi0"] == "ceph-vm:vm-101-disk-0,size=1G"
    local = {c["volid"] for c in api.nodes("pve2").storage("local-lvm").content.get()}
    assert "local-lvm:vm-101-disk-0" not in local


@pytest.mark.lab
def test_real_migrate_and_destroy(ceph_lab: Lab) -> None:
    api = ceph_lab.api()
    assert wait_lab_task(api, api.nodes("pve1").qemu(100).migrate.post(target="pve3")) == "OK"
    assert next(r for r in api.cluster.resources.get(type="vm") if r["vmid"] == 100)["node"] == "pve3"
    for node, vmid in (("pve3", 100), ("pve2", 101)):
        assert wait_lab_task(api, api.nodes(node).qemu(vmid).delete()) == "OK"
    deadline = time.monotonic() + 30
    while rbd_images(ceph_lab) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rbd_images(ceph_lab) == {}


@pytest.mark.lab
def test_real_ha_vm_on_rbd_survives_a_node_failure(ceph_lab: Lab) -> None:
    # pve3 carries an OSD only (the MON is on pve1), so Ceph stays usable while it is down
    api = ceph_lab.api()
    assert wait_lab_task(api, api.nodes("pve3").qemu.post(vmid=102, memory=512, scsi0="ceph-vm:1")) == "OK"
    api.cluster.ha.resources.post(sid="vm:102")
    wait_for(
        "VM 102 started by HA",
        lambda: next(e for e in api.cluster.ha.status.current.get() if e.get("sid") == "vm:102")["state"] == "started",
        60,
    )
    ceph_lab.fail_node("pve3")
    try:

        def recovered() -> bool:
            vm = next(r for r in api.cluster.resources.get(type="vm") if r["vmid"] == 102)
            return bool(vm["node"] != "pve3" and vm["status"] == "running")

        wait_for("VM 102 running on another node", recovered, 60)
    finally:
        ceph_lab.recover_node("pve3")
