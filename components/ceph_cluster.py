"""CephCluster: init -> MONs (one at a time) -> MGRs beside OSDs -> pools -> RBD storages -> health gate.

The order is spelled out with depends_on: Pulumi would otherwise run independent resources in
parallel, and PVE serialises ceph.conf writers (parallel MON creates time out, lae#265).
MGRs and OSDs start once the quorum outlives every later MON join, which is after the second MON
(`quorum_holder`). A new MON joins the monmap before it has synced (pve-manager
PVE/API2/Ceph/MON.pm createmon starts it with the cluster's monmap plus itself), and a monmap of n
MONs needs a majority, n // 2 + 1, in quorum: one MON going to two has no quorum until the second
has synced, and every mon command (the OSD and MGR tasks' and our waits' reads) stalls or times
out then ("mon_cmd failed - timed out", seen in the lab with real Ceph when OSDs started after the
first MON). From two MONs on, the MONs already in quorum are a majority of the next monmap too.
Nothing orders an MGR and an OSD: MGR create takes no lock and leaves the monmap alone
(pve-manager PVE/API2/Ceph/MGR.pm), so the OSDs start beside the MGRs.

Pools follow the daemons themselves (each OSD create returns once its OSD is up and in), not a
health gate: a pool create waits for its own PGs to be active+clean, and the MGR reports PG
states with a lag after OSD changes (logic/health.py), which the OSD gate waits out beside the
pool creates instead of before them. The gate on the end (`ready`) needs both, so whatever
follows the cluster (VMs on RBD, disk moves) starts on a HEALTH_OK read after every OSD change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

from dynamic_providers.ceph_init import CephInit
from dynamic_providers.ceph_mgr import CephManager
from dynamic_providers.ceph_mon import CephMonitor
from dynamic_providers.ceph_osd import CephOsd
from dynamic_providers.ceph_pool import CephPool
from dynamic_providers.health_gate import CephHealthGate
from dynamic_providers.logic.networks import same_network
from dynamic_providers.rbd_storage import RbdStorage
from hci_config.model import HciConfig, NodeConfig, OsdConfig, PoolConfig, RbdStorageConfig

T = TypeVar("T")


@dataclass(frozen=True)
class CephClusterArgs:
    config: HciConfig
    after: Sequence[pulumi.Resource] = ()  # Ceph packages on every node


def quorum_holder(monitors: Sequence[T]) -> T:
    """The MON create after which no later MON join costs the quorum: the second (or the only one).

    Adding a MON to k others leaves quorum to the k iff k >= (k + 1) // 2 + 1, that is for k >= 2.
    """
    return monitors[min(1, len(monitors) - 1)]


def osd_suffix(node: str, device: str) -> str:
    """'pve1', '/dev/disk/by-id/x' -> 'pve1-disk-by-id-x': unique per node and stable across runs."""
    return f"{node}-{device.removeprefix('/dev/').replace('/', '-')}"


def osd_trigger(node: str, osd: OsdConfig, retired: bool = False) -> str:
    """What re-runs the OSD gate: an OSD added, moved, replaced or retired (`pve1:/dev/sdb`, `...#<replacement>`,
    `...!retired`), so the cluster is healthy again before anything after the OSDs (the pools, the
    deletes of a retiring node's MON and MGR)."""
    return f"{node}:{osd.device}" + (f"#{osd.replacement}" if osd.replacement else "") + ("!retired" if retired else "")


def manual_retire_steps(node: str) -> str:
    """What is left by hand once a node's OSDs are retired: steps PVE's API offers no safe call for.

    pve-manager PVE/API2/Ceph/OSD.pm destroyosd removes the OSD from CRUSH (`osd crush remove osd.N`) but
    leaves its host bucket, and no endpoint under PVE/API2/Ceph*.pm removes a bucket. `pvecm delnode` is
    pve-cluster src/PVE/API2/ClusterConfig.pm delnode (DELETE /cluster/config/nodes/{node}), which only
    drops the node from corosync.conf: pvecm.adoc has it run once the node is powered off for good and
    can never return with its configuration, which no API call can do or check.
    """
    return (
        f"node {node} is retired: its OSDs are drained and destroyed, and its MON and MGR are removed by this "
        f"update. Left to do by hand (PVE's API has no safe call for them): on another node `ceph osd crush "
        f"remove {node}` (the host bucket is empty: weight 0, no data moves), power the node off for good, then "
        f"on another node `pvecm delnode {node}`; finally remove {node} from nodes and run pulumi up"
    )


class CephCluster(pulumi.ComponentResource):
    init: CephInit
    monitors: list[CephMonitor]
    managers: list[CephManager]
    osds: dict[str, list[CephOsd]]  # node -> its OSDs, in creation order
    osd_gate: CephHealthGate
    pools: dict[str, CephPool]
    storages: dict[str, RbdStorage]
    ready: CephHealthGate  # everything above is up and healthy

    def __init__(self, name: str, args: CephClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("proxmox-hci:ceph:Cluster", name, None, opts)
        self._name = name
        self._cfg = cfg = args.config
        self._api_nodes = cfg.effective_api_nodes

        self.init = CephInit(
            f"{name}-init",
            api_nodes=self._api_nodes,
            network=cfg.public_network,
            # The public network again is no separate one: PVE writes it so, and it reads back as none.
            cluster_network=None if same_network(cfg.public_network, cfg.cluster_network) else cfg.cluster_network,
            size=cfg.default_pool_size,
            min_size=cfg.default_pool_min_size,
            adopt=cfg.adopt_existing,
            opts=self._opts(list(args.after)),
        )
        self.monitors = self._monitors()
        quorum = quorum_holder(self.monitors) if self.monitors else self.init
        self.managers = self._managers(after=quorum)
        self.osds = {node.name: self._node_osds(node, after=quorum) for node in cfg.nodes if node.osds}
        all_osds = [osd for osds in self.osds.values() for osd in osds]
        # The last MON too: the OSDs may finish before it, and what follows (pools, whatever
        # `destroy --exclude-protected` keeps) stands on the whole MON set.
        self._daemons: list[pulumi.Resource] = [*self.managers, *all_osds, *self.monitors[-1:]]
        self.osd_gate = self._gate(
            "osds",
            after=self._daemons,
            triggers={"osds": [osd_trigger(n.name, o, n.retire) for n in cfg.nodes for o in n.osds]},
        )
        self.manual_steps = [manual_retire_steps(node) for node in cfg.retiring_nodes]
        for node in cfg.nodes:
            if node.retire:
                self._warn_when_retired(node.name, self.osds.get(node.name, []))
        self.pools = {pool.name: self._pool(pool) for pool in cfg.pools}
        self.storages = {
            pool.storage.name: self._storage(pool.storage, pool.name, self.pools[pool.name])
            for pool in cfg.pools
            if pool.storage
        }
        self.ready = self._gate(
            "ready",
            after=[*self.pools.values(), *self.storages.values(), self.osd_gate],
            triggers={"pools": [p.model_dump(by_alias=True) for p in cfg.pools]},
        )

        self.fsid: pulumi.Output[Any] = self.init.fsid
        self.health: pulumi.Output[Any] = self.ready.status
        self.mon_quorum: pulumi.Output[list[str]] = pulumi.Output.all(
            *[pulumi.Output.all(m.mon_id, m.in_quorum) for m in self.monitors]
        ).apply(lambda pairs: [mon_id for mon_id, in_quorum in pairs if in_quorum])
        self.osd_count: pulumi.Output[int] = pulumi.Output.all(*[o.osd_id for o in all_osds]).apply(
            lambda ids: sum(1 for osd_id in ids if osd_id is not None)
        )
        self.pool_names = list(self.pools)
        self.storage_names = list(self.storages)
        self.register_outputs(
            {
                "fsid": self.fsid,
                "health": self.health,
                "monQuorum": self.mon_quorum,
                "osdCount": self.osd_count,
                "pools": self.pool_names,
                "storages": self.storage_names,
            }
        )

    @staticmethod
    def _warn_when_retired(node: str, osds: Sequence[CephOsd]) -> None:
        """The manual steps, once per run, when every OSD of the node is recorded retired.

        In a preview the retiring OSDs' outputs are unknown, so the warning shows in the `pulumi up` that
        retires them (after their drains) and in any later run while the marker stays.
        """
        pulumi.Output.all(*[osd.retired_id for osd in osds]).apply(
            lambda ids: pulumi.log.warn(manual_retire_steps(node)) if all(i is not None for i in ids) else None
        )

    def _opts(self, after: Sequence[pulumi.Resource], protect: bool = False) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(after), protect=protect)

    def _monitors(self) -> list[CephMonitor]:
        """Strictly one after another: each MON joins the quorum before the next is created."""
        addresses = {n.name: n.address for n in self._cfg.nodes}
        previous: pulumi.Resource = self.init
        monitors = []
        for node in self._cfg.monitors:
            previous = CephMonitor(
                f"{self._name}-mon-{node}",
                node=node,
                address=addresses[node],
                allow_shrink=self._cfg.allow_data_loss,
                adopt=self._cfg.adopt_existing,
                opts=self._opts([previous]),
            )
            monitors.append(previous)
        return monitors

    def _managers(self, after: pulumi.Resource) -> list[CephManager]:
        # Chained: PVE's createmgr takes no lock (pve-manager PVE/API2/Ceph/MGR.pm, PVE/Ceph/Services.pm
        # create_mgr), but the chain orders their removals too, one at a time, so the last-MGR guard
        # (logic/mgr.py removal_refusal) never sees two at once. The pools wait for every MGR: a
        # standby too is kept by `destroy --exclude-protected` for the protected pools depending on it.
        # PVE's first MON create makes a MGR on its node (logic/mgr.py); when that node is not a declared
        # manager, the last declared one removes it. Only then: other stacks' inputs stay as they were.
        previous = after
        managers = []
        first_mon_undeclared = bool(self._cfg.monitors) and self._cfg.monitors[0] not in self._cfg.managers
        declared = list(dict.fromkeys(self._cfg.managers)) if first_mon_undeclared else None
        for node in self._cfg.managers:
            previous = CephManager(
                f"{self._name}-mgr-{node}",
                node=node,
                allow_last_removal=self._cfg.allow_data_loss,
                adopt=self._cfg.adopt_existing,
                declared_managers=declared if node == self._cfg.managers[-1] else None,
                opts=self._opts([previous]),
            )
            managers.append(previous)
        return managers

    def _node_osds(self, node: NodeConfig, after: pulumi.Resource) -> list[CephOsd]:
        """One node's OSDs one after another (they share the node's disks and LVM); nodes run in parallel.

        A retiring node's OSDs are drained one after another the same way: an update waits for its
        dependencies' steps as a create does. Its MON and MGR, left out of monitors and managers, are
        deletes, which Pulumi runs only once the program has registered everything and every create and
        update is done (pulumi/pulumi pkg/resource/deploy/deployment_executor.go, performPostSteps), so
        after the drains and the OSD gate.
        """
        previous = after
        osds = []
        for osd in node.osds:
            previous = self._osd(node.name, osd, previous, retire=node.retire)
            osds.append(previous)
        return osds

    def _osd(self, node: str, osd: OsdConfig, after: pulumi.Resource, retire: bool = False) -> CephOsd:
        return CephOsd(
            f"{self._name}-osd-{osd_suffix(node, osd.device)}",
            node=node,
            device=osd.device,
            db_device=osd.db_device,
            wal_device=osd.wal_device,
            encrypted=osd.encrypted,
            crush_device_class=osd.device_class,
            wipe=osd.wipe,
            allow_data_loss=self._cfg.allow_data_loss,
            adopt=self._cfg.adopt_existing,
            replacement=osd.replacement,
            retired=True if retire else None,
            # A replacement marker is the operator's word that this OSD may be replaced: Pulumi refuses
            # to replace a protected resource, and lets an unprotect and a replace happen in one update
            # (pulumi/pulumi pkg/resource/deploy/step_generator.go refuses only `new.Protect && old.Protect`).
            # Retiring unprotects too: the node's removal from the stack later deletes the (retired) OSDs.
            opts=self._opts([after], protect=self._cfg.protect and osd.replacement is None and not retire),
        )

    def _gate(self, suffix: str, after: Sequence[pulumi.Resource], triggers: Any) -> CephHealthGate:
        return CephHealthGate(
            f"{self._name}-gate-{suffix}",
            api_nodes=self._api_nodes,
            require=self._cfg.health_require,
            timeout=self._cfg.health_timeout,
            triggers=triggers,
            opts=self._opts(after),
        )

    def _pool(self, pool: PoolConfig) -> CephPool:
        return CephPool(
            f"{self._name}-pool-{pool.name}",
            api_nodes=self._api_nodes,
            pool_name=pool.name,
            size=pool.size,
            min_size=pool.min_size,
            pg_num=pool.pg_num,
            autoscale_mode=pool.autoscale_mode,
            application=pool.application,
            crush_rule=pool.crush_rule,
            target_size_ratio=pool.target_size_ratio,
            allow_data_loss=self._cfg.allow_data_loss,
            adopt=self._cfg.adopt_existing,
            opts=self._opts(self._daemons, protect=self._cfg.protect),
        )

    def _storage(self, storage: RbdStorageConfig, pool_name: str, pool: CephPool) -> RbdStorage:
        return RbdStorage(
            f"{self._name}-storage-{storage.name}",
            storage=storage.name,
            pool=pool_name,
            content=list(storage.content),
            krbd=storage.krbd,
            nodes=storage.nodes,
            allow_delete_with_volumes=self._cfg.allow_data_loss,
            adopt=self._cfg.adopt_existing,
            opts=self._opts([pool], protect=self._cfg.protect),
        )
