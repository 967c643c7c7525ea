"""HciCluster: the whole stack from one validated HciConfig."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hci_config.model import HciConfig, VmConfig

from .ceph_cluster import CephCluster, CephClusterArgs
from .ha import Ha, HaArgs
from .node import Node, NodeArgs
from .vm import Vm, VmArgs


@dataclass(frozen=True)
class HciClusterArgs:
    config: HciConfig


class HciCluster(pulumi.ComponentResource):
    nodes: dict[str, Node]
    ceph: CephCluster
    vms: dict[str, Vm]
    ha: Ha | None

    def __init__(self, name: str, args: HciClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("proxmox-hci:index:HciCluster", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.nodes = {
            node.name: Node(
                f"{name}-node-{node.name}",
                NodeArgs(
                    node=node.name,
                    ceph_version=cfg.ceph_version,
                    repository=cfg.repository,
                    apt_repositories=cfg.apt_repositories,
                    adopt=cfg.adopt_existing,
                    pve_release=cfg.pve_release,
                    allow_experimental=cfg.ceph_allow_experimental,
                ),
                child,
            )
            for node in cfg.nodes
        }
        self.ceph = CephCluster(
            f"{name}-ceph",
            CephClusterArgs(config=cfg, after=[node.ceph_install for node in self.nodes.values()]),
            child,
        )
        self.vms = {vm.name: Vm(f"{name}-vm-{vm.name}", self._vm_args(cfg, vm), child) for vm in cfg.vms}
        self.ha = None
        if any(vm.ha for vm in cfg.vms):
            self.ha = Ha(
                f"{name}-ha",
                HaArgs(pve_version=cfg.pve_version, ha=cfg.ha, vms=cfg.vms, machines=self.vms),
                child,
            )
        self.register_outputs(
            {
                "fsid": self.ceph.fsid,
                "health": self.ceph.health,
                "monQuorum": self.ceph.mon_quorum,
                "osdCount": self.ceph.osd_count,
                "pools": self.ceph.pool_names,
                "storages": self.ceph.storage_names,
                "vms": {vm_name: vm.node for vm_name, vm in self.vms.items()},
            }
        )

    def _vm_args(self, cfg: HciConfig, vm: VmConfig) -> VmArgs:
        """A VM waits for the Ceph gate only where a disk is created on, or moved to, an RBD storage."""
        ready = [self.ceph.ready]
        on_ceph = any(disk.storage in cfg.rbd_storages for disk in vm.disks)
        moves_to_ceph = any(disk.move_to in cfg.rbd_storages for disk in vm.disks if disk.move_to)
        return VmArgs(
            vm=vm,
            protect=cfg.protect if vm.protect is None else vm.protect,
            after=ready if on_ceph else [],
            moves_after=ready if moves_to_ceph else [],
        )
