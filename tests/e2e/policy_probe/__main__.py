"""A test program for the policy pack: MONs, MGRs, an RBD storage and an HA VM declared straight
from the stack config, with none of hci_config's checks, so a stack can break the rules that the
real program already refuses (fewer than 3 MONs, two MONs on one node, HA on local disks).
Only ever previewed.

Config (all under policy-probe:): mons (node list), mgrs (node list), haDiskStorage (storage of
the HA VM's disk).
"""

import pulumi
import pulumi_proxmoxve as proxmoxve

from dynamic_providers.ceph_mgr import CephManager
from dynamic_providers.ceph_mon import CephMonitor
from dynamic_providers.rbd_storage import RbdStorage

config = pulumi.Config()
for i, node in enumerate(config.require_object("mons")):
    CephMonitor(f"probe-mon-{i}", node=node)
for node in config.require_object("mgrs"):
    CephManager(f"probe-mgr-{node}", node=node)
RbdStorage("probe-storage", storage="ceph-vm", pool="vm-pool", opts=pulumi.ResourceOptions(protect=True))
vm = proxmoxve.VmLegacy(
    "probe-vm",
    node_name="pve1",
    vm_id=201,
    name="probe",
    disks=[proxmoxve.VmLegacyDiskArgs(interface="scsi0", datastore_id=config.require("haDiskStorage"), size=4)],
    started=False,
    opts=pulumi.ResourceOptions(protect=True),
)
proxmoxve.Haresource(
    "probe-ha", resource_id="vm:201", type="vm", state="started", opts=pulumi.ResourceOptions(depends_on=[vm])
)
