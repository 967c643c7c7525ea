"""Pulumi dynamic providers for the Ceph lifecycle on Proxmox VE, over one shared PVE client (pve/).

Each resource lives in its own module with its provider; pure decisions are in logic/.
"""

from dynamic_providers.ceph_init import CephInit
from dynamic_providers.ceph_install import CephInstall
from dynamic_providers.ceph_mgr import CephManager
from dynamic_providers.ceph_mon import CephMonitor
from dynamic_providers.ceph_osd import CephOsd
from dynamic_providers.ceph_pool import CephPool
from dynamic_providers.disk_move import DiskMove
from dynamic_providers.health_gate import CephHealthGate
from dynamic_providers.rbd_storage import RbdStorage

__all__ = [
    "CephHealthGate",
    "CephInit",
    "CephInstall",
    "CephManager",
    "CephMonitor",
    "CephOsd",
    "CephPool",
    "DiskMove",
    "RbdStorage",
]
