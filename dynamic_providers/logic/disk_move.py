"""DiskMove decisions: inputs, where the VM is, where its disk lives. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dynamic_providers.logic.spec import Spec, param, resource_inputs
from dynamic_providers.logic.validators import STORAGE_ID, between, matches
from dynamic_providers.values import as_int

# The drive keys move_disk accepts (qemu-server's schema): ide0-3, scsi0-30, virtio0-15, sata0-5, ...
DISK_KEY = re.compile(
    r"^(ide[0-3]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|efidisk0|tpmstate0|"
    r"unused([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))$"
)


@resource_inputs
class MoveInputs:
    vm_id: int = param(on_change="replace", validate=between(100, 999_999_999))
    disk: str = param(on_change="replace", validate=matches(DISK_KEY, "VM disk key (e.g. scsi0)"))
    storage: str = param(validate=matches(STORAGE_ID, "storage id"))  # a change moves the disk again
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
