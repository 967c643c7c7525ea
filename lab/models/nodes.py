"""The lab's hardware over time: a node joining the cluster, a disk failing, a new disk in its slot.

What a PVE cluster sees when an operator runs `pvecm add` on a freshly installed node (pve-cluster
PVE/API2/ClusterConfig.pm join: the node appears in the cluster's node list, with its own address and
disks and no Ceph packages) and when a disk dies and is swapped. The spec (lab/spec.py) is the one
description of nodes and disks: it is replaced here, in the cluster model and the Ceph backend
together, and the caller persists the change (settings.json) so a restarted server rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.ceph_backend.backend import CephBackend
from lab.models.apt import NodeApt
from lab.models.cluster import ClusterState
from lab.models.fakepve_model import PveModel
from lab.spec import Disk, LabSpec, SpecError, find_disk, with_disk_replaced, with_node


class NodeChangeError(ValueError):
    """A node or disk change that cannot be made; the message says why and names the node or disk."""


@dataclass(frozen=True)
class DiskFailure:
    node: str
    disk: Disk
    osd_id: int | None  # the OSD whose daemon died with the disk


class LabNodes:
    def __init__(self, pve: PveModel, cluster: ClusterState, apt: dict[str, NodeApt], backend: CephBackend) -> None:
        self.pve = pve
        self.cluster = cluster
        self.apt = apt
        self.backend = backend

    def _set_spec(self, spec: LabSpec) -> None:
        self.cluster.spec = spec
        self.backend.spec = spec

    def add(self, name: str, disks: str | None) -> LabSpec:
        """A node joins: its address and disks, its APT sources, online in the node list. HA sees it
        there: the CRM reads the cluster's members on every round (pve-ha-manager src/PVE/HA/Env/PVE2.pm
        get_node_info; lab/ha reads them through GuestOps.nodes), and a new member starts 'online'
        (src/PVE/HA/NodeStatus.pm update). Nothing of Ceph is installed on it."""
        try:
            spec = with_node(self.cluster.spec, name, disks)
        except SpecError as exc:
            raise NodeChangeError(str(exc)) from exc
        self._set_spec(spec)
        self.apt[name] = NodeApt(spec.pve_version)
        self.pve.nodes[name] = {"online": True}
        return spec

    def disk(self, node: str, device: str) -> Disk:
        try:
            return find_disk(self.cluster.spec, node, device)
        except SpecError as exc:
            raise NodeChangeError(str(exc)) from exc

    def fail_disk(self, node: str, device: str) -> DiskFailure:
        disk = self.disk(node, device)
        return DiskFailure(node, disk, self.backend.fail_disk(node, disk))

    def replace_disk(self, node: str, device: str, size: str | None) -> Disk:
        self.disk(node, device)
        try:
            spec = with_disk_replaced(self.cluster.spec, node, device, size)
        except SpecError as exc:
            raise NodeChangeError(str(exc)) from exc
        new = find_disk(spec, node, device)
        self.backend.replace_disk(node, new)
        self._set_spec(spec)
        return new
