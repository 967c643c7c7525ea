"""A corpus of malformed stack configs: each an edit of the dev stack, the key path its error must name,
and words the error must contain.

tests/unit/program/test_bad_stack_configs.py runs every case through load_config; tests/e2e/
test_bad_configs_preview.py runs every case through the real `pulumi preview`, against an endpoint
that counts connections, and checks that it fails before any request, naming the key path, with no
traceback. Cases marked `pulumi=True` are refused by Pulumi itself (a type Pulumi.yaml declares)
before the program runs; load_config refuses them too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class _Drop:
    """An edit's value that removes the key."""


DROP = _Drop()


@dataclass(frozen=True)
class BadConfig:
    name: str
    edits: Mapping[str, Any]  # key path (as errors spell it) -> new value, or DROP
    path: str  # the key path the error must name
    says: str  # words the error at that path must contain
    pulumi: bool = False  # refused by Pulumi's own config check, before the program runs
    base_edits: Mapping[str, Any] = field(default_factory=dict)  # applied first (e.g. a PVE 8 stack)

    def apply(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(raw))
        for path, value in (*self.base_edits.items(), *self.edits.items()):
            set_path(out, path, copy.deepcopy(value))
        return out


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parts(path: str) -> list[str | int]:
    """'pools[0].storage.name' -> ['pools', 0, 'storage', 'name']."""
    return [int(index) if index else name for name, index in _PART.findall(path)]


def set_path(raw: Any, path: str, value: Any) -> None:
    keys = parts(path)
    node = raw
    for key in keys[:-1]:
        node = node[key]
    last = keys[-1]
    if isinstance(value, _Drop):
        del node[last]
    elif isinstance(node, list) and isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value


LONG = "x" * 9000
PVE8 = {"pveVersion": 8, "ha": {"groups": [{"name": "hci-nodes", "nodes": {"pve1": 1, "pve2": 1, "pve3": 1}}]}}
PVE8_VMS = {"vms[0].ha.group": "hci-nodes", "vms[1].ha.group": "hci-nodes"}

CASES: tuple[BadConfig, ...] = (
    # -- nodes and OSDs -----------------------------------------------------------------------------
    BadConfig("node name with an underscore", {"nodes[0].name": "pve_1"}, "nodes[0].name", "not a valid node name"),
    BadConfig("node name starting with a dash", {"nodes[1].name": "-pve2"}, "nodes[1].name", "not a valid node name"),
    BadConfig("no nodes at all", {"nodes": []}, "nodes", "at least 1 item"),
    BadConfig("node listed twice", {"nodes[2].name": "pve1"}, "nodes[2].name", "used by an earlier entry"),
    BadConfig("OSD device without /dev", {"nodes[0].osds[0].device": "sdb"}, "nodes[0].osds[0].device", "/dev/"),
    BadConfig(
        "OSD device with a space", {"nodes[0].osds[0].device": "/dev/sd b"}, "nodes[0].osds[0].device", "device path"
    ),
    BadConfig(
        "device class with a space",
        {"nodes[0].osds[0].deviceClass": "fast ssd"},
        "nodes[0].osds[0].deviceClass",
        "CRUSH device class",
    ),
    BadConfig(
        "the same device twice on a node",
        {"nodes[0].osds[1]": {"device": "/dev/sdb"}},
        "nodes[0].osds[1].device",
        "listed twice on node pve1",
    ),
    BadConfig(
        "DB device that is the data device",
        {"nodes[0].osds[0].dbDevice": "/dev/sdb"},
        "nodes[0].osds[0].dbDevice",
        "is the data device of an OSD",
    ),
    BadConfig("wipe not a boolean", {"nodes[0].osds[0].wipe": "yes please"}, "nodes[0].osds[0].wipe", "boolean"),
    BadConfig("MON address not an IP", {"nodes[0].address": "10.0.0.300"}, "nodes[0].address", "not an IP address"),
    BadConfig(
        "MON address outside the public network",
        {"nodes[0].address": "192.0.2.10"},
        "nodes[0].address",
        "outside publicNetwork",
    ),
    # -- networks -----------------------------------------------------------------------------------
    BadConfig("public network with host bits", {"publicNetwork": "10.1.1.1/24"}, "publicNetwork", "host bits set"),
    BadConfig("public network without a prefix", {"publicNetwork": "10.1.1.0"}, "publicNetwork", "no prefix length"),
    BadConfig("public network wider than /8", {"publicNetwork": "10.0.0.0/4"}, "publicNetwork", "shorter than /8"),
    BadConfig("public network not an address", {"publicNetwork": "lan"}, "publicNetwork", "not a network"),
    BadConfig(
        "public network from an unset variable",
        {"publicNetwork": "env:PROXMOX_HCI_NO_SUCH_VARIABLE"},
        "publicNetwork",
        "which is not set",
    ),
    BadConfig("cluster network not a CIDR", {"clusterNetwork": "banana"}, "clusterNetwork", "not a network"),
    BadConfig(
        "cluster network of another IP version",
        {"clusterNetwork": "fd00::/64"},
        "clusterNetwork",
        "use the same version",
    ),
    # -- monitors, managers, api nodes, releases --------------------------------------------------
    BadConfig("two monitors", {"monitors": ["pve1", "pve2"]}, "monitors", "list at least 3 nodes"),
    BadConfig("monitor on an unknown node", {"monitors[2]": "pve9"}, "monitors[2]", "node 'pve9' does not exist"),
    BadConfig("monitor listed twice", {"monitors[3]": "pve1"}, "monitors[3]", "listed twice"),
    BadConfig("no managers", {"managers": []}, "managers", "no manager"),
    BadConfig("manager on an unknown node", {"managers[1]": "pve7"}, "managers[1]", "node 'pve7' does not exist"),
    BadConfig("api node unknown", {"apiNodes": ["pve7"]}, "apiNodes[0]", "node 'pve7' does not exist"),
    BadConfig("monitors as a string", {"monitors": "pve1,pve2,pve3"}, "monitors", "array<string>", pulumi=True),
    BadConfig("unknown Ceph release", {"cephVersion": "pacific"}, "cephVersion", "quincy"),
    BadConfig("Ceph release PVE 9 does not offer", {"cephVersion": "reef"}, "cephVersion", "PVE 9 offers Ceph"),
    BadConfig("PVE version 7", {"pveVersion": 7}, "pveVersion", "8 or 9"),
    BadConfig("PVE version as a word", {"pveVersion": "nine"}, "pveVersion", "integer", pulumi=True),
    BadConfig("unknown repository", {"repository": "community"}, "repository", "no-subscription"),
    BadConfig("protect not a boolean", {"protect": "maybe"}, "protect", "boolean", pulumi=True),
    BadConfig("health requirement unknown", {"healthRequire": "HEALTH_WARN"}, "healthRequire", "HEALTH_OK"),
    BadConfig("health timeout zero", {"healthTimeout": 0}, "healthTimeout", "outside 1..86400"),
    BadConfig("health timeout over a day", {"healthTimeout": 100000}, "healthTimeout", "outside 1..86400"),
    # -- pools and storages -------------------------------------------------------------------------
    BadConfig("pool name with a slash", {"pools[0].name": "vm/pool"}, "pools[0].name", "no ':', '/'"),
    BadConfig("pool named as Ceph's own", {"pools[0].name": ".mgr"}, "pools[0].name", "Ceph-internal pool name"),
    BadConfig("pool of one copy", {"pools[0].size": 1}, "pools[0].size", "1 copy is refused by Ceph"),
    BadConfig("pool of eight copies", {"pools[0].size": 8}, "pools[0].size", "outside 2..7"),
    BadConfig("pool min size one", {"pools[0].minSize": 1}, "pools[0].minSize", "allowDataLoss"),
    BadConfig("pool min size above size", {"pools[0].minSize": 4}, "pools[0].minSize", "larger than size 3"),
    BadConfig(
        "pool larger than the OSD hosts",
        {"nodes[2].osds": []},
        "pools[0].size",
        "only 2 node(s) have OSDs",
    ),
    BadConfig("pg_num under the autoscaler", {"pools[0].pgNum": 64}, "pools[0].pgNum", "managed by the autoscaler"),
    BadConfig(
        "pg_num zero", {"pools[0].pgNum": 0, "pools[0].autoscaleMode": "off"}, "pools[0].pgNum", "outside 1..32768"
    ),
    BadConfig(
        "pg_num too large",
        {"pools[0].pgNum": 65536, "pools[0].autoscaleMode": "warn"},
        "pools[0].pgNum",
        "outside 1..32768",
    ),
    BadConfig("autoscale mode unknown", {"pools[0].autoscaleMode": "maybe"}, "pools[0].autoscaleMode", "'on'"),
    BadConfig("pool application unknown", {"pools[0].application": "nfs"}, "pools[0].application", "'rbd'"),
    BadConfig(
        "RBD storage on a CephFS pool", {"pools[0].application": "cephfs"}, "pools[0].storage", "application rbd"
    ),
    BadConfig("negative target ratio", {"pools[0].targetSizeRatio": -0.5}, "pools[0].targetSizeRatio", "is negative"),
    BadConfig("storage id of one letter", {"pools[0].storage.name": "c"}, "pools[0].storage.name", "too short"),
    BadConfig(
        "storage id starting with a digit", {"pools[0].storage.name": "9ceph"}, "pools[0].storage.name", "storage id"
    ),
    BadConfig(
        "storage content an RBD storage cannot hold",
        {"pools[0].storage.content": ["iso"]},
        "pools[0].storage.content[0]",
        "'images' or 'rootdir'",
    ),
    BadConfig(
        "storage with no content", {"pools[0].storage.content": []}, "pools[0].storage.content", "needs at least one"
    ),
    BadConfig(
        "storage on an unknown node",
        {"pools[0].storage.nodes": ["pve9"]},
        "pools[0].storage.nodes[0]",
        "node 'pve9' does not exist",
    ),
    BadConfig(
        "storage named as a local one",
        {"pools[0].storage.name": "local-lvm"},
        "pools[0].storage.name",
        "also listed in localStorages",
    ),
    BadConfig("local storage id invalid", {"localStorages": ["l", "local"]}, "localStorages[0]", "too short"),
    BadConfig("cluster default of one copy", {"defaultPoolSize": 1}, "defaultPoolSize", "1 copy is refused"),
    BadConfig(
        "cluster default min size above size",
        {"defaultPoolMinSize": 3, "defaultPoolSize": 2},
        "defaultPoolMinSize",
        "larger than defaultPoolSize 2",
    ),
    # -- VMs ----------------------------------------------------------------------------------------
    BadConfig("vmId below 100", {"vms[0].vmId": 99}, "vms[0].vmId", "outside 100..999999999"),
    BadConfig("vmId used twice", {"vms[1].vmId": 101}, "vms[1].vmId", "used by an earlier entry"),
    BadConfig("VM name with an underscore", {"vms[0].name": "app_1"}, "vms[0].name", "DNS name"),
    BadConfig("VM name with an empty label", {"vms[0].name": "app..one"}, "vms[0].name", "DNS name"),
    BadConfig("VM on an unknown node", {"vms[0].node": "pve7"}, "vms[0].node", "node 'pve7' does not exist"),
    BadConfig("VM memory below PVE's minimum", {"vms[0].memory": 8}, "vms[0].memory", "below PVE's minimum of 16"),
    BadConfig("VM without cores", {"vms[0].cores": 0}, "vms[0].cores", "below the minimum of 1"),
    BadConfig("VM bridge with a space", {"vms[0].bridge": "vmbr 0"}, "vms[0].bridge", "bridge name"),
    BadConfig("VM description too long", {"vms[0].description": LONG}, "vms[0].description", "at most 8192"),
    BadConfig("VM with no disks", {"vms[0].disks": []}, "vms[0].disks", "at least 1 item"),
    BadConfig("disk on scsi99", {"vms[0].disks[0].interface": "scsi99"}, "vms[0].disks[0].interface", "scsi30"),
    BadConfig("disk on ide4", {"vms[0].disks[0].interface": "ide4"}, "vms[0].disks[0].interface", "ide3"),
    BadConfig("disk on an nvme bus", {"vms[0].disks[0].interface": "nvme0"}, "vms[0].disks[0].interface", "sata0-5"),
    BadConfig("disk of 0 GiB", {"vms[0].disks[0].size": 0}, "vms[0].disks[0].size", "below the minimum of 1 GiB"),
    BadConfig(
        "two disks on one interface",
        {"vms[0].disks[1]": {"interface": "scsi0", "storage": "ceph-vm", "size": 4}},
        "vms[0].disks[1].interface",
        "used by another disk",
    ),
    BadConfig(
        "disk on a storage not defined", {"vms[0].disks[0].storage": "nfs"}, "vms[0].disks[0].storage", "not defined"
    ),
    BadConfig(
        "disk moved to where it is",
        {"vms[2].disks[0].moveTo": "local-lvm"},
        "vms[2].disks[0].moveTo",
        "is the disk's storage already",
    ),
    BadConfig(
        "disk key misspelt", {"vms[0].disks[0].datastore": "ceph-vm"}, "vms[0].disks[0].datastore", "unknown key"
    ),
    # -- HA -----------------------------------------------------------------------------------------
    BadConfig("HA state unknown", {"vms[0].ha.state": "running"}, "vms[0].ha.state", "'started'"),
    BadConfig("HA restarts negative", {"vms[0].ha.maxRestart": -1}, "vms[0].ha.maxRestart", "below the minimum of 0"),
    BadConfig("HA comment too long", {"vms[0].ha.comment": LONG}, "vms[0].ha.comment", "at most 4096"),
    BadConfig(
        "HA on a VM with a local disk",
        {"vms[2].disks[0]": {"interface": "scsi0", "storage": "local-lvm", "size": 8}, "vms[2].ha": {}},
        "vms[2].ha",
        "non-shared storage",
    ),
    BadConfig("started VM that HA keeps stopped", {"vms[0].ha.state": "stopped"}, "vms[0].started", "HA would stop"),
    BadConfig("HA group on PVE 9", {"vms[0].ha.group": "hci-nodes"}, "vms[0].ha.group", "do not exist on PVE 9"),
    BadConfig(
        "HA groups on PVE 9",
        {"ha.groups": [{"name": "g1", "nodes": {"pve1": 1}}]},
        "ha.groups",
        "do not exist on PVE 9",
    ),
    BadConfig("HA rule over an unknown VM", {"ha.rules[0].vms[2]": "ghost"}, "ha.rules[0].vms", "not defined"),
    BadConfig("HA rule of an unknown type", {"ha.rules[0].type": "anti-affinity"}, "ha.rules[0].type", "affinity"),
    BadConfig(
        "HA rule over an unknown node", {"ha.rules[0].nodes.pve9": 1}, "ha.rules[0].nodes.pve9", "does not exist"
    ),
    BadConfig(
        "HA priority above 1000", {"ha.rules[0].nodes.pve1": 2000}, "ha.rules[0].nodes.pve1", "less than or equal"
    ),
    BadConfig("HA rule name invalid", {"ha.rules[0].name": "1rule"}, "ha.rules[0].name", "PVE id (a letter, then"),
    BadConfig(
        "HA pin placement on PVE 8",
        {"vms[0].ha.placement": "pin"},
        "vms[0].ha.placement",
        "pin needs PVE 9",
        base_edits={**PVE8, **PVE8_VMS},
    ),
    BadConfig(
        "HA rules on PVE 8",
        {"ha.rules": [{"name": "r1", "vms": ["app1"], "nodes": {"pve1": 1}}]},
        "ha.rules",
        "HA rules need PVE 9",
        base_edits={**PVE8, **PVE8_VMS},
    ),
    BadConfig(
        "HA group undefined on PVE 8",
        {"vms[0].ha.group": "nowhere"},
        "vms[0].ha.group",
        "not defined under ha.groups",
        base_edits={**PVE8, **PVE8_VMS},
    ),
    # -- keys ---------------------------------------------------------------------------------------
    BadConfig("unknown top-level key", {"poolz": []}, "poolz", "unknown key"),
    BadConfig("required key missing", {"managers": DROP}, "managers", "missing configuration value", pulumi=True),
)
