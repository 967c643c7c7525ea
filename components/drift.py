"""Which VmLegacy properties Pulumi must not reconcile, because something else owns them (docs/ha-policy.md).

- `nodeName` of an HA-managed VM with placement `follow`: after a failover HA has moved the VM and
  bpg's read writes the new node into state. Reconciling would mean a migration back (migrate=True)
  or a replacement (migrate=False); HA owns the node instead.
- `disks[i].datastoreId` of a disk with `moveTo`: DiskMove moves it live; bpg would otherwise
  plan a second, offline move back to the creation storage.
"""

from __future__ import annotations

from hci_config.model import VmConfig


def follows_ha(vm: VmConfig) -> bool:
    return vm.ha is not None and vm.ha.placement == "follow"


def ignored_vm_properties(vm: VmConfig) -> list[str]:
    ignored = ["nodeName"] if follows_ha(vm) else []
    ignored += [f"disks[{index}].datastoreId" for index, disk in enumerate(vm.disks) if disk.move_to]
    return ignored
