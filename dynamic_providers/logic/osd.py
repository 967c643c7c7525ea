"""CephOsd decisions: inputs, finding the device and its OSD, what create must do, the OSD tree. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dynamic_providers.errors import AlreadyExists, NotFound, UnsafeToProceed
from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Failure, Spec, param, resource_inputs
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


@dataclass(frozen=True, kw_only=True)
class OsdOutputs:
    osd_id: int | None = None
    devpath: str | None = None  # the device as disks/list names it (/dev/sdX)


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


def find_disk(disks: list[dict[str, Any]], device: str) -> dict[str, Any] | None:
    """The disks/list entry for a device given as /dev/sdX or as a /dev/disk/by-id link."""
    for disk in disks:
        if device in (disk.get("devpath"), disk.get("by_id_link")):
            return disk
    return None


def osd_ids_on(disk: dict[str, Any]) -> list[int]:
    ids = [as_int(i) for i in disk.get("osdid-list") or []]
    single = as_int(disk.get("osdid"))
    if single is not None and single >= 0:
        ids.append(single)
    return sorted({i for i in ids if i is not None and i >= 0})


@dataclass(frozen=True)
class CreatePlan:
    action: Literal["create", "wipe_then_create", "adopt"]
    devpath: str
    osd_id: int | None = None  # for adopt


def plan_create(node: str, device: str, disk: dict[str, Any] | None, *, wipe: bool, adopt: bool) -> CreatePlan:
    """From the disk's entry in disks/list: adopt its OSD, wipe it first, create, or refuse."""
    if disk is None:
        raise NotFound(f"device {device} is not among the disks of node {node} (GET /nodes/{node}/disks/list)")
    devpath = str(disk.get("devpath"))
    ids = osd_ids_on(disk)
    if ids:
        if len(ids) > 1:
            raise AlreadyExists(
                f"{devpath} on {node} holds several OSDs ({', '.join(f'osd.{i}' for i in ids)}); "
                "one CephOsd cannot manage them"
            )
        if not adopt:
            raise AlreadyExists(f"{devpath} on {node} already holds osd.{ids[0]}; set adopt=true to manage it")
        return CreatePlan("adopt", devpath, ids[0])
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


def adopt_mismatches(state: OsdState, node: str, inputs: OsdInputs) -> list[str]:
    out = []
    if state.host != node:
        out.append(f"osd.{state.osd_id} sits under host {state.host} in CRUSH, not {node}")
    wanted = inputs.crush_device_class
    if wanted and state.device_class and wanted != state.device_class:
        out.append(f"its device class is {state.device_class}, not {wanted}")
    return out
