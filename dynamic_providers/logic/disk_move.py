"""DiskMove decisions: inputs, where the VM is, where its disk lives. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic import rules
from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.logic.validators import between
from dynamic_providers.values import as_int


@resource_inputs
class MoveInputs:
    vm_id: int = param(on_change="replace", validate=rules.vm_id)
    disk: str = param(on_change="replace", validate=rules.disk_key)
    storage: str = param(validate=rules.storage_id)  # a change moves the disk again
    delete_source: bool = param(default=True)
    timeout: int = param(default=1800, validate=between(1, 7 * 86400))


@dataclass(frozen=True, kw_only=True)
class MoveOutputs:
    node: str | None = None  # where the VM ran when the disk was last seen
    volume: str | None = None


SPEC = Spec("DiskMove", MoveInputs, MoveOutputs)


def vm_node(resources: list[dict[str, Any]], vmid: int) -> str | None:
    """The node a VM is on now, from GET /cluster/resources?type=vm (it moves with migrations and HA)."""
    for row in resources:
        if as_int(row.get("vmid")) == vmid and row.get("type", "qemu") == "qemu":
            return str(row.get("node"))
    return None


def disk_volume(config: dict[str, Any], disk: str) -> str | None:
    """`ceph-vm:vm-100-disk-0,size=8G` -> `ceph-vm:vm-100-disk-0`; None if the VM has no such disk."""
    value = config.get(disk)
    if not value:
        return None
    return str(value).split(",", 1)[0]


def storage_of(volume: str) -> str:
    return volume.split(":", 1)[0]
