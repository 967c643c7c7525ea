"""What every area's route table shares: the models and adapters LabPve hands it, PVE's Ceph
preconditions, and the way a handler calls Ceph.

Handlers follow fakepve's contract: `async def handler(self, values, user)`, called after the
schema's checks, returning the answer's `data` or raising PveError. Blocking Ceph work runs in a
worker thread so the API keeps answering while a MON is built.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lab import errors
from lab.ceph_backend.backend import CephBackend
from lab.ceph_backend.monitors import MonitorCommands
from lab.ceph_backend.osds import OsdCommands
from lab.ceph_backend.pools import PoolCommands
from lab.ceph_backend.rados_client import RadosClient, RadosError
from lab.ceph_backend.rbd import Rbd
from lab.errors import TaskError
from lab.ha.config import HaConfig
from lab.ha.manager import HaManager
from lab.ha.state import HaState
from lab.models.apt import NodeApt
from lab.models.cluster import ClusterState
from lab.models.disks import VmDisks
from lab.models.guests import LabGuests
from lab.models.locks import ClusterLocks
from lab.models.migration import Migrations
from lab.models.nodes import LabNodes
from lab.models.vm_config import VmConfigDrives
from lab.models.volumes import RbdVolumes

if TYPE_CHECKING:
    from lab.models.fakepve_model import PveModel

T = TypeVar("T")

# A request for one node: /api2/json/nodes/{node}/... (what pveproxy answers for or forwards to that node).
NODE_IN_PATH = re.compile(r"^/api2/(?:json|extjs)/nodes/([^/]+)")
# A route table row: (method, schema path template, handler), as fakepve registers `_routes_<area>`.
Route = tuple[str, str, Any]

CEPH_BIN = "/usr/bin/ceph"
CEPH_MON_BIN = "/usr/bin/ceph-mon"
CEPH_MGR_BIN = "/usr/bin/ceph-mgr"
CEPH_OSD_BIN = "/usr/bin/ceph-osd"
CEPH_VOLUME_BIN = "/usr/sbin/ceph-volume"


if TYPE_CHECKING:
    # For the type checker a mixin is fakepve's Model (the server it is mixed into); at run time it is
    # a plain class, so fakepve's own methods come from FakePve in LabPve's MRO.
    _FakepveModel = PveModel
else:
    _FakepveModel = object


class LabArea(_FakepveModel):
    """The base of LabPve's area mixins. The attributes below are made by LabPve.__init__."""

    cluster: ClusterState
    apt: dict[str, NodeApt]
    locks: ClusterLocks
    volumes: RbdVolumes
    disks: VmDisks
    vm_drives: VmConfigDrives
    migrations: Migrations
    guests: LabGuests
    ha: HaState
    ha_config: HaConfig
    ha_manager: HaManager
    hardware: LabNodes
    backend: CephBackend
    rados: RadosClient
    rbd: Rbd
    ceph_mons: MonitorCommands
    ceph_osds: OsdCommands
    ceph_pools: PoolCommands

    # -- preconditions (pve-manager PVE/Ceph/Tools.pm check_ceph_installed, _inited, _configured) --

    def need_installed(self, node: str, binary: str = CEPH_BIN) -> None:
        if not self.cluster.is_installed(node):
            raise errors.binary_not_installed(binary)

    def need_inited(self, node: str) -> None:
        self.need_installed(node, CEPH_MON_BIN)
        if not self.backend.initialized():
            raise errors.not_initialized(["/etc/pve/ceph.conf", "/etc/pve/ceph"])

    def need_configured(self, node: str) -> None:
        self.need_inited(node)
        if not self.backend.admin_keyring.exists():
            raise errors.not_configured()

    def online_nodes(self) -> list[str]:
        return [n for n, s in sorted(self.nodes.items()) if s.get("online", True)]

    def local_node(self) -> str:
        """The node that answers cluster-wide calls (the one the client's endpoint resolves to)."""
        online = self.online_nodes()
        return online[0] if online else sorted(self.nodes)[0]

    # -- Ceph calls ------------------------------------------------------------------------------

    async def ceph_command(self, command: Callable[..., T], *args: Any) -> T:
        """A Ceph command (a method of the backend's command adapters) for a synchronous handler, in a
        worker thread: failures are HTTP 500 with PVE::RADOS's wording."""
        if self.ceph.get("down"):
            raise errors.die("rados_connect failed - Connection timed out")
        try:
            return await asyncio.to_thread(command, *args)
        except RadosError as exc:
            raise errors.die(exc.message) from exc

    async def ceph_task_command(self, command: Callable[..., T], *args: Any) -> T:
        """The same inside a worker task: failures end the task."""
        try:
            return await asyncio.to_thread(command, *args)
        except RadosError as exc:
            raise TaskError(exc.message) from exc
