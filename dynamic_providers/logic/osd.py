"""CephOsd decisions: inputs, finding the device and its OSD, what create must do, the OSD tree. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dynamic_providers.errors import AlreadyExists, NotFound, UnsafeToProceed
from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Failure, Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Difference, Takeover, decide, differ
from dynamic_providers.values import as_bool, as_int, is_unknown


@resource_inputs
class OsdInputs:
    node: str = param(on_change="replace", validate=rules.node_name)
    device: str = param(on_change="replace", validate=rules.device_path)
    db_device: str | None = param(default=None, on_change="replace", validate=rules.device_path)
    wal_device: str | None = param(default=None, on_change="replace", validate=rules.device_path)
    encrypted: bool = param(default=False, on_change="replace")
    crush_device_class: str | None = param(default=None, on_change="replace", validate=rules.device_class)
    wipe: bool = param(default=False)
    allow_data_loss: bool = param(default=False)
    adopt: bool = param(default=False)
    # The operator's marker for the disk in the slot (e.g. the new disk's serial): changing it replaces
    # the OSD on the same device, after a disk swap. The old OSD is drained and destroyed first, the
    # new one created on the new disk (delete_before_replace below). None (the default) for state
    # written before it existed.
    replacement: str | None = param(default=None, on_change="replace", validate=rules.replacement_marker)
    # The node is being retired (nodes[].retire): an update to true drains and destroys the OSD and
    # records it as retired; from then on the resource stands for nothing and its delete does nothing.
    # None (not false) when unset, so state written before it existed shows no change.
    retired: bool | None = param(default=None)


@dataclass(frozen=True, kw_only=True)
class OsdOutputs:
    osd_id: int | None = None  # None once retired
    devpath: str | None = None  # the device as disks/list names it (/dev/sdX)
    retired_id: int | None = None  # the id the OSD had, once it was retired (drained and destroyed)


def retire_step(old: OsdInputs, outputs: OsdOutputs, new: OsdInputs) -> Literal["retire", "refuse", "none"]:
    """What an update does about `retired`: drain and destroy the OSD, refuse to undo a retirement, or nothing.

    A retired OSD was destroyed with cleanup (its disk is empty): no update can bring it back. The way
    back is a new OSD: remove the node from `nodes`, run `pulumi up`, then add it again.
    """
    was = bool(old.retired) or outputs.retired_id is not None
    if new.retired and not was:
        return "retire"
    if was and not new.retired:
        return "refuse"
    return "none"


def _rules(inputs: OsdInputs) -> list[Failure]:
    seen: dict[str, str] = {}
    failures = []
    for name, value in (("device", inputs.device), ("db_device", inputs.db_device), ("wal_device", inputs.wal_device)):
        if value is None or is_unknown(value):
            continue
        if value in seen:
            failures.append((name, f"CephOsd.{name} is {value!r}, already used as {seen[value]}"))
        seen[value] = name
    return failures


def delete_before_replace(old: OsdInputs, new: OsdInputs) -> bool:
    """The same disk cannot hold the old and the new OSD; a new disk can be filled before the old drains."""
    return all(not is_unknown(n) and n == o for n, o in ((new.node, old.node), (new.device, old.device)))


SPEC = Spec("CephOsd", OsdInputs, OsdOutputs, rules=_rules, delete_before_replace=delete_before_replace)


def device_names(disk: dict[str, Any]) -> set[str]:
    """The paths a device may be given as, from its disks/list entry (pve-storage Diskmanage.pm get_disks):
    the devpath, the `by_id_link` PVE picked (ata-/scsi-/nvme- links only) and `/dev/disk/by-id/wwn-<WWN>`.
    OSD create is sent the devpath, whatever form the stack used."""
    names = {str(disk[key]) for key in ("devpath", "by_id_link") if disk.get(key)}
    wwn = str(disk.get("wwn") or "")
    if wwn and wwn != "unknown":
        names.add(f"/dev/disk/by-id/wwn-{wwn}")
    return names


def find_disk(disks: list[dict[str, Any]], device: str) -> dict[str, Any] | None:
    """The disks/list entry for a device given as /dev/sdX, PVE's by_id_link or its wwn- link; another by-id
    link of the same disk (ata-MODEL_SERIAL, nvme-MODEL_SERIAL, scsi-..._SERIAL) by the serial it ends in."""
    for disk in disks:
        if device in device_names(disk):
            return disk
    if device.startswith("/dev/disk/by-id/"):
        for disk in disks:
            serial = str(disk.get("serial") or "")
            if len(serial) >= 4 and device.endswith(f"_{serial}"):
                return disk
    return None


def leftover_refusal(node: str, devpath: str, ids: list[int], in_tree: Collection[int]) -> str | None:
    """disks/list takes `osdid` from the LV tag `ceph.osd_id` (pve-storage Diskmanage.pm get_ceph_volume_infos),
    so an OSD destroyed without cleanup still shows on its disk. Not in the OSD tree: a leftover, which no
    PVE API clears (wipedisk refuses while the LVs hold the disk, API2/Disks.pm has_holder)."""
    gone = [i for i in ids if i not in in_tree]
    if not gone:
        return None
    names = ", ".join(f"osd.{i}" for i in gone)
    return (
        f"{devpath} on {node} still carries the LVs of {names}, which the OSD tree does not have: the leftover of "
        f"an OSD destroyed without cleanup. No PVE API clears it (wipedisk refuses: the LVs hold the disk). On "
        f"{node}, run `ceph-volume lvm zap --destroy {devpath}` (everything on the disk is lost), then run "
        "pulumi up again"
    )


def osd_ids_on(disk: dict[str, Any]) -> list[int]:
    ids = [as_int(i) for i in disk.get("osdid-list") or []]
    single = as_int(disk.get("osdid"))
    if single is not None and single >= 0:
        ids.append(single)
    return sorted({i for i in ids if i is not None and i >= 0})


@dataclass(frozen=True)
class CreatePlan:
    action: Literal["create", "wipe_then_create", "take_over"]
    devpath: str
    osd_id: int | None = None  # for take_over: the OSD the disk holds (takeover() decides)


def devname(devpath: str) -> str:
    """/dev/sdb -> sdb: how PVE names a disk in task ids and OSD metadata (verify_blockdev_path, basename)."""
    return devpath.removeprefix("/dev/")


def plan_create(
    node: str,
    device: str,
    disk: dict[str, Any] | None,
    *,
    wipe: bool,
    in_tree: Collection[int] | None = None,
) -> CreatePlan:
    """From the disk's entry in disks/list: look at the OSD it holds, wipe it first, create, or refuse.
    `in_tree`: the OSD ids the OSD tree has (None: not read), so a leftover is named as one."""
    if disk is None:
        raise NotFound(
            f"device {device} is not among the disks of node {node} (GET /nodes/{node}/disks/list); give it as "
            "its devpath (/dev/sdb), a /dev/disk/by-id link (ata-/nvme-/scsi-..._SERIAL, wwn-WWN)"
        )
    devpath = str(disk.get("devpath"))
    ids = osd_ids_on(disk)
    if ids and in_tree is not None:
        leftover = leftover_refusal(node, devpath, ids, in_tree)
        if leftover:
            raise UnsafeToProceed(leftover)
    if ids:
        if len(ids) > 1:
            raise AlreadyExists(
                f"{devpath} on {node} holds several OSDs ({', '.join(f'osd.{i}' for i in ids)}); "
                "one CephOsd cannot manage them"
            )
        return CreatePlan("take_over", devpath, ids[0])
    if disk.get("used"):
        if not wipe:
            raise UnsafeToProceed(
                f"{devpath} on {node} is in use ({disk['used']}) and holds no OSD; set wipe=true "
                "to erase it (everything on it is lost) and create the OSD"
            )
        return CreatePlan("wipe_then_create", devpath)
    return CreatePlan("create", devpath)


@dataclass(frozen=True)
class OsdState:
    osd_id: int
    host: str
    up: bool
    in_: bool
    pgs: int
    device_class: str


def outside_crush(status: dict[str, Any], tree: Mapping[int, OsdState]) -> int:
    """How many OSDs the osdmap has that the OSD tree does not show: created, not booted yet.

    PVE lists CRUSH's tree only (pve-manager PVE/API2/Ceph/OSD.pm index leaves out `osd tree`'s strays),
    and an OSD takes its CRUSH location when it first boots, seconds after its create task ended;
    `ceph status` counts it from `osd new` on. A disk whose OSD is not in the tree is a leftover only
    when no OSD is outside it.
    """
    return max(0, (as_int((status.get("osdmap") or {}).get("num_osds")) or 0) - len(tree))


def tree_osds(tree: dict[str, Any]) -> dict[int, OsdState]:
    """Every OSD leaf of GET /nodes/{node}/ceph/osd, wherever it sits in the CRUSH tree."""
    out: dict[int, OsdState] = {}

    def walk(item: dict[str, Any], host: str) -> None:
        if item.get("type") == "host":
            host = str(item.get("name"))
        if item.get("type") == "osd":
            osd_id = as_int(item.get("id"))
            if osd_id is not None:
                out[osd_id] = OsdState(
                    osd_id,
                    str(item.get("host") or host),
                    item.get("status") == "up",
                    as_bool(item.get("in")),
                    as_int(item.get("pgs")) or 0,
                    str(item.get("device_class") or ""),
                )
        for child in item.get("children") or []:
            walk(child, host)

    walk(tree.get("root") or {}, "")
    return out


@dataclass(frozen=True)
class FoundOsd:
    """What the cluster says about the OSD a disk holds: its tree entry (None: not in this cluster's
    OSD map) and its metadata through our node (None: PVE says it is not on this host)."""

    osd_id: int
    state: OsdState | None
    metadata: dict[str, Any] | None


def metadata_devices(metadata: dict[str, Any]) -> dict[str, list[str]]:
    """GET .../osd/{id}/metadata `devices` -> {block|db|wal: [physical device names]} (comma- or space-joined
    in PVE's answer: pve-manager PVE/API2/Ceph/OSD.pm, osddetails)."""
    out: dict[str, list[str]] = {}
    for entry in metadata.get("devices") or []:
        names = str(entry.get("physical_device") or "").replace(",", " ").split()
        out.setdefault(str(entry.get("device")), []).extend(devname(name) for name in names)
    return out


def takeover(
    node: str, disk: dict[str, Any], disks: list[dict[str, Any]], found: FoundOsd, inputs: OsdInputs
) -> Takeover:
    """The OSD a disk holds: taken over if it is exactly what this create makes, else refused.

    Ours means: an OSD of this cluster (in its OSD map; PVE reads a disk's OSD id from its LVM tags,
    whatever cluster wrote them: pve-storage src/PVE/Diskmanage.pm, get_ceph_volume_infos), under this
    host, whose block device is this disk, with the declared DB/WAL devices, device class and
    encryption. A fact PVE does not report is adoptable: taken over only with adopt=true.
    """
    devpath = str(disk.get("devpath"))
    osd_id = found.osd_id
    subject = f"osd.{osd_id} on {devpath} of {node}"
    fix = (
        f"If the data on {devpath} is not needed, wipe the disk (PVE: Disks > Wipe Disk, or "
        f"`ceph-volume lvm zap --destroy {devpath}` on {node}) and run again; otherwise declare the OSD as it is"
    )
    if found.state is None:
        other = "an OSD not in this cluster's OSD map (another cluster's, or a destroyed OSD's leftover)"
        return decide(subject, [Difference("cluster", other, "an OSD of this cluster")], adopt=False, fix=fix)
    if found.metadata is None:
        where = "another host, says PVE (GET .../osd/{id}/metadata)"
        return decide(subject, [Difference("node", where, node)], adopt=False, fix=fix)
    differences = differ("node", found.state.host, node)
    devices = metadata_devices(found.metadata)
    block = devices.get("block") or []
    if block:
        differences += differ("device", ",".join(block), devname(devpath))
    else:
        differences.append(Difference("device", "not reported by PVE", devname(devpath), adoptable=True))
    for kind, declared in (("db", inputs.db_device), ("wal", inputs.wal_device)):
        wanted = _devname_of(disks, declared)
        differences += differ(f"{kind}_device", ",".join(devices.get(kind) or []) or None, wanted)
    if inputs.crush_device_class:
        differences += differ("crush_device_class", found.state.device_class or None, inputs.crush_device_class)
    encrypted = disk.get("osdencrypted", found.metadata.get("osd", {}).get("encrypted"))
    if encrypted is None:
        differences.append(Difference("encrypted", "not reported by PVE", inputs.encrypted, adoptable=True))
    else:
        differences += differ("encrypted", as_bool(encrypted), inputs.encrypted)
    facts = f"this cluster's, under host {node}, on {devname(devpath)}, class {found.state.device_class or 'auto'}"
    return decide(subject, differences, adopt=inputs.adopt, fix=fix, facts=facts)


def _devname_of(disks: list[dict[str, Any]], device: str | None) -> str | None:
    if device is None:
        return None
    disk = find_disk(disks, device)
    return devname(str(disk.get("devpath"))) if disk else devname(device)
