"""HciCluster: the whole stack from one validated HciConfig."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pulumi

from dynamic_providers.logic.maintenance import evacuation_node
from dynamic_providers.node_maintenance import NodeEvacuated, NodeMaintenance
from hci_config.model import HciConfig, VmConfig

from .ceph_cluster import CephCluster, CephClusterArgs
from .ha import Ha, HaArgs
from .node import Node, NodeArgs
from .vm import Vm, VmArgs

# VM creates in flight per RBD storage. PVE makes each disk under the storage's cluster-wide lock
# (pve-storage src/PVE/Storage.pm vdisk_alloc -> pve-cluster src/PVE/Cluster.pm cfs_lock_storage), and a
# create that does not get it within 10 s fails: "cfs-lock 'storage-<id>' error: got lock request
# timeout". The lock holds `rbd ls` and `rbd create` (about 0.3-0.7 s on a busy cluster), and a waiter
# tries for it about once a second (cfs_lock sleeps min(remaining, 10) x 100 ms between tries), so a
# freed lock waits for the next try. With four in flight, the generated 12-node stack's 100 creates
# waited 0 s at the median, 2.8 s at p90 and 4.9 s at most (bench/orchestration.py, lab locks tried
# as PVE's): half the 10 s kept as margin, which more creates in flight would eat. The engine runs up
# to 4 x CPUs resources at once (`pulumi up --parallel`), which on its own would queue a dozen creates
# and more on one storage.
CREATES_PER_STORAGE = 4


def storage_queue(
    vms: Sequence[VmConfig], rbd_storages: Collection[str], width: int = CREATES_PER_STORAGE
) -> dict[str, list[str]]:
    """VM name -> the VMs whose create it waits for: on each RBD storage its disks are created on, the
    one `width` places before it in declaration order, so no more than `width` creates queue on a lock."""
    seen: dict[str, list[str]] = {}
    waits: dict[str, list[str]] = {}
    for vm in vms:
        mine = waits.setdefault(vm.name, [])
        for storage in dict.fromkeys(d.storage for d in vm.disks if d.storage in rbd_storages):
            queue = seen.setdefault(storage, [])
            if len(queue) >= width and queue[-width] not in mine:
                mine.append(queue[-width])
            queue.append(vm.name)
    return waits


@dataclass(frozen=True)
class HciClusterArgs:
    config: HciConfig


class HciCluster(pulumi.ComponentResource):
    nodes: dict[str, Node]
    ceph: CephCluster
    vms: dict[str, Vm]
    ha: Ha | None
    maintenance: dict[str, NodeMaintenance]  # node -> its maintenance (ok-to-stop; clears noout on leaving)
    evacuated: dict[str, NodeEvacuated]  # node -> the wait until no guest runs there, then noout

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
        api_nodes = cfg.effective_api_nodes
        self.maintenance = {
            node: NodeMaintenance(
                f"{name}-maintenance-{node}",
                api_nodes=api_nodes,
                node=node,
                mon_id=node if node in cfg.monitors else None,  # PVE's MON id is its node's name
                timeout=cfg.health_timeout,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ceph.ready]),
            )
            for node in cfg.maintenance_nodes
        }
        queue = storage_queue(cfg.vms, cfg.rbd_storages)
        self.vms = {}
        for vm in cfg.vms:
            queued = [self.vms[earlier].machine for earlier in queue[vm.name]]
            self.vms[vm.name] = Vm(f"{name}-vm-{vm.name}", self._vm_args(cfg, vm, queued), child)
        self.ha = None
        if any(vm.ha for vm in cfg.vms):
            self.ha = Ha(
                f"{name}-ha",
                HaArgs(
                    pve_version=cfg.pve_version,
                    ha=cfg.ha,
                    vms=cfg.vms,
                    machines=self.vms,
                    maintenance=cfg.maintenance_nodes,
                    after=list(self.maintenance.values()),
                ),
                child,
            )
        self.evacuated = {node: self._evacuated(name, cfg, node) for node in cfg.maintenance_nodes}
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

    def _vm_args(self, cfg: HciConfig, vm: VmConfig, queued: Sequence[pulumi.Resource]) -> VmArgs:
        """A VM waits for the Ceph gate only where a disk is created on, or moved to, an RBD storage, and
        for the VMs before it in its storage's queue (`storage_queue`).

        A VM declared on a node in maintenance runs on the next node of `nodes` that is not (a live
        migration, VmLegacy migrate=True), once that node's maintenance resource has checked ok-to-stop;
        an HA VM that follows HA ignores the node (drift.py) and leaves through its group or rule.
        """
        ready = [self.ceph.ready]
        on_ceph = any(disk.storage in cfg.rbd_storages for disk in vm.disks)
        moves_to_ceph = any(disk.move_to in cfg.rbd_storages for disk in vm.disks if disk.move_to)
        node = evacuation_node(vm.node, self._targets(cfg, vm.node), cfg.maintenance_nodes)
        assert node is not None  # hci_config/checks.py maintenance: another node is never in maintenance
        maintenance = [self.maintenance[vm.node]] if vm.node in self.maintenance else []
        return VmArgs(
            vm=vm if node == vm.node else vm.model_copy(update={"node": node}),
            protect=cfg.protect if vm.protect is None else vm.protect,
            after=[*(ready if on_ceph else []), *queued, *maintenance],
            moves_after=ready if moves_to_ceph else [],
        )

    @staticmethod
    def _targets(cfg: HciConfig, node: str) -> list[str]:
        """The nodes a VM of `node` may be placed on, in `nodes` order: not a retiring one (but itself)."""
        return [n for n in cfg.node_names if n == node or n not in cfg.retiring_nodes]

    def _evacuated(self, name: str, cfg: HciConfig, node: str) -> NodeEvacuated:
        """Waits until no guest runs on the node, then sets noout: after every VM's placement and HA change."""
        after: list[pulumi.Resource] = [self.maintenance[node]]
        for vm in self.vms.values():
            after += [vm.machine, *vm.moves]
        ha_migrate: list[str] = []
        if self.ha is not None:
            after += [*self.ha.resources.values(), *self.ha.groups.values(), *self.ha.rules.values()]
            ha_migrate = self.ha.unplaced
        return NodeEvacuated(
            f"{name}-evacuated-{node}",
            api_nodes=cfg.effective_api_nodes,
            node=node,
            ha_migrate=ha_migrate,
            target=evacuation_node(node, self._targets(cfg, node), cfg.maintenance_nodes),
            timeout=cfg.health_timeout,
            triggers={"vms": sorted(vm.name for vm in cfg.vms if vm.node == node)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
