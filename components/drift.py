"""Which VmLegacy properties Pulumi must not reconcile, because something else owns them (docs/ha-policy.md).

- `nodeName` of an HA-managed VM with placement `follow`: after a failover HA has moved the VM and
  bpg's read writes the new node into state. Reconciling would mean a migration back (migrate=True)
  or a replacement (migrate=False); HA owns the node instead.
- `disks[i].datastoreId` of a disk with `moveTo`: DiskMove moves it live; bpg would otherwise
  plan a second, offline move back to the creation storage.
- `disks[i].speed`: the program sets no disk I/O limits; the upstream pulumi-proxmoxve plugin fills
  the block with its schema defaults (all zeros) while bpg reads an unlimited disk back with no block
  at all, a perpetual diff on every VM (muhlba91/pulumi-proxmoxve#664). Our own build of the plugin
  (engine/proxmoxve-bridge) drops that default; this keeps the program right with upstream's too.
"""

from __future__ import annotations

from hci_config.model import VmConfig


def follows_ha(vm: VmConfig) -> bool:
    return vm.ha is not None and vm.ha.placement == "follow"


def ignored_vm_properties(vm: VmConfig) -> list[str]:
    ignored = ["nodeName"] if follows_ha(vm) else []
    ignored += [f"disks[{index}].datastoreId" for index, disk in enumerate(vm.disks) if disk.move_to]
    ignored += [f"disks[{index}].speed" for index in range(len(vm.disks))]
    return ignored
