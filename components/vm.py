"""Vm: a QEMU VM (bpg's mature VmLegacy) plus the live moves of its disks to other storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

from dynamic_providers.disk_move import DiskMove
from hci_config.model import DiskConfig, VmConfig

from .drift import ignored_vm_properties


@dataclass(frozen=True)
class VmArgs:
    vm: VmConfig
    protect: bool
    after: Sequence[pulumi.Resource] = ()  # what the disks' creation storages need (the Ceph gate)
    moves_after: Sequence[pulumi.Resource] = ()  # what the moveTo storages need


class Vm(pulumi.ComponentResource):
    machine: proxmoxve.VmLegacy
    moves: list[DiskMove]

    def __init__(self, name: str, args: VmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("proxmox-hci:pve:Vm", name, None, opts)
        vm = args.vm
        self.machine = proxmoxve.VmLegacy(
            f"{name}-qemu",
            node_name=vm.node,
            vm_id=vm.vm_id,
            name=vm.name,
            description=vm.description,
            cpu=proxmoxve.VmLegacyCpuArgs(cores=vm.cores),
            memory=proxmoxve.VmLegacyMemoryArgs(dedicated=vm.memory),
            disks=[self._disk(disk) for disk in vm.disks],
            network_devices=[proxmoxve.VmLegacyNetworkDeviceArgs(bridge=vm.bridge)] if vm.bridge else None,
            started=vm.started,
            on_boot=vm.on_boot,
            # A node change is a live migration, never a replacement.
            migrate=True,
            # Fail an update that needs the VM off rather than power it off unasked.
            reboot_after_update=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.after),
                protect=args.protect,
                ignore_changes=ignored_vm_properties(vm),
            ),
        )
        self.moves = [
            DiskMove(
                f"{name}-move-{disk.interface}",
                vm_id=self.machine.vm_id,
                disk=disk.interface,
                storage=disk.move_to,
                delete_source=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.machine, *args.moves_after]),
            )
            for disk in vm.disks
            if disk.move_to
        ]
        self.node: pulumi.Output[str] = self.machine.node_name
        self.register_outputs({"vmId": self.machine.vm_id, "node": self.node})

    @staticmethod
    def _disk(disk: DiskConfig) -> proxmoxve.VmLegacyDiskArgs:
        # raw: the only format RBD and LVM-thin hold, and what move_disk keeps.
        return proxmoxve.VmLegacyDiskArgs(
            interface=disk.interface, datastore_id=disk.storage, size=disk.size, file_format="raw"
        )
