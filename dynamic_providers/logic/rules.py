"""Every rule a value must follow, once: the stack-config model and the providers' check both call these. Pure.

hci_config's model wraps each rule in a validator, so its error names the stack-config key path
(`pools[0].minSize: ...`); a provider's check names the input (`CephPool.min_size: ...`). The
reason is worded once, here, and reads after either name. A value rule returns None when the value
is fine, else the reason; a rule over several values takes the names each side uses for them, so
that its reason can point at the other key in that side's spelling.

Where PVE or Ceph has the rule, it is cited; the model must refuse what PVE would refuse, before
any request, and never what PVE accepts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from dynamic_providers.logic.validators import (
    DEVICE,
    DEVICE_CLASS,
    NODE,
    POOL_NAME,
    SERVICE_ID,
    STORAGE_ID,
    Validator,
    between,
    matches,
    one_of,
)

# -- names and formats ------------------------------------------------------------------------------

node_name: Validator = matches(NODE, "node name")  # pve-common JSONSchema.pm pve_verify_node_name
service_id: Validator = matches(SERVICE_ID, "MON/MGR id")
device_path: Validator = matches(DEVICE, "device path (/dev/...)")
device_class: Validator = matches(DEVICE_CLASS, "CRUSH device class (letters, digits, '_' and '-')")
# pve-common JSONSchema.pm: $CONFIGID_RE (HA group and rule ids), pve_verify_dns_name (VM names),
# parse_bridge_id (a NIC's bridge).
CONFIG_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]+$")
_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
DNS_NAME = re.compile(rf"^({_LABEL}\.)*{_LABEL}$")
BRIDGE = re.compile(r"^[-_.\w]+$")
config_id: Validator = matches(CONFIG_ID, "PVE id (a letter, then letters, digits, '_' or '-')")
dns_name: Validator = matches(DNS_NAME, "DNS name (labels of letters, digits and '-', joined by '.')")
bridge_id: Validator = matches(BRIDGE, "bridge name")


def storage_id(value: Any) -> str | None:
    """pve-common JSONSchema.pm parse_id: at least 2 characters, a letter first, no '_'/'-'/'.' last."""
    if len(str(value)) < 2:
        return f"{value!r} is too short for a storage id (at least 2 characters)"
    return matches(STORAGE_ID, "storage id (a letter first; letters, digits, '-', '_', '.')")(value)


INTERNAL_POOLS = (".mgr", "device_health_metrics")


def pool_name(value: Any) -> str | None:
    """PVE's pool name pattern (pve-manager PVE/API2/Ceph/Pool.pm), and never one of Ceph's own pools."""
    if value in INTERNAL_POOLS or str(value).startswith("."):
        return f"{value!r} is a Ceph-internal pool name"
    return matches(POOL_NAME, "pool name (no ':', '/' or whitespace)")(value)


def ip_address(value: Any) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def cidr_network(value: Any) -> str | None:
    """A network as PVE's CIDR format takes it (pve-common JSONSchema.pm pve_verify_cidrv4/v6: a prefix
    of /8 or longer), written as the network itself: host bits set are a typo for another network."""
    text = str(value)
    if "/" not in text and ip_address(text) is None:
        return f"{value!r} has no prefix length; write the network in CIDR form such as 10.10.10.0/24"
    try:
        loose = ipaddress.ip_network(text, strict=False)
        if "/" not in text:
            raise ValueError(text)
    except ValueError:
        return f"{value!r} is not a network in CIDR form such as 10.10.10.0/24"
    if loose.prefixlen < 8:
        return f"{value!r} has a prefix shorter than /8, which PVE refuses"
    if loose.network_address != ipaddress.ip_interface(text).ip:
        return f"{value!r} has host bits set; the network is {loose}"
    return None


def normalise_network(value: str) -> str:
    """10.10.10.0/24 in its canonical spelling (IPv6 compressed), so equal networks compare equal."""
    return str(ipaddress.ip_network(value, strict=False))


# -- Ceph ---------------------------------------------------------------------------------------------

CEPH_RELEASES = ("quincy", "reef", "squid", "tentacle")
REPOSITORIES = ("enterprise", "no-subscription", "test")
AUTOSCALE_MODES = ("on", "off", "warn")
APPLICATIONS = ("rbd", "cephfs", "rgw")
RBD_CONTENT = ("images", "rootdir")  # pve-storage src/PVE/Storage/RBDPlugin.pm plugindata content
HEALTH_REQUIREMENTS = ("HEALTH_OK", "no_degraded_pgs")

ceph_release: Validator = one_of(*CEPH_RELEASES)
repository: Validator = one_of(*REPOSITORIES)
autoscale_mode: Validator = one_of(*AUTOSCALE_MODES)
application: Validator = one_of(*APPLICATIONS)
health_requirement: Validator = one_of(*HEALTH_REQUIREMENTS)
health_timeout: Validator = between(1, 86400)
pg_num: Validator = between(1, 32768)  # pve-manager PVE/API2/Ceph/Pool.pm pg_num


def replica_size(value: Any) -> str | None:
    """PVE allows 1-7 copies (Pool.pm size); Ceph refuses a pool of 1 unless forced
    (mon_allow_pool_size_one and --yes-i-really-mean-it, ceph src/mon/OSDMonitor.cc), which PVE
    never does: so 2-7, here and for the cluster-wide default."""
    if value == 1:
        return "1 copy is refused by Ceph unless forced (PVE never forces it); use 2 to 7"
    return between(2, 7)(value)


min_replica_size: Validator = between(1, 7)  # Pool.pm min_size


def target_size_ratio(value: Any) -> str | None:
    return None if value >= 0 else f"{value} is negative; the autoscaler takes a ratio of 0 or more"


def rbd_content(value: Sequence[Any]) -> str | None:
    if not value:
        return f"needs at least one of {', '.join(RBD_CONTENT)}"
    bad = [str(c) for c in value if c not in RBD_CONTENT]
    return f"an RBD storage holds only {' and '.join(RBD_CONTENT)}, not {', '.join(bad)}" if bad else None


def node_names(value: Sequence[Any]) -> str | None:
    bad = [repr(node) for node in value if node_name(node) is not None]
    return f"not node names: {', '.join(bad)}" if bad else None


def min_size_within_size(size: int, min_size: int, size_key: str) -> str | None:
    """min_size never above size: Ceph would never accept a write."""
    if min_size > size:
        return f"{min_size} is larger than {size_key} {size}; set it to at most {size}"
    return None


def single_copy_writes(min_size: int, allow_data_loss: bool, opt_in_key: str) -> str | None:
    """min_size 1 only with the data-loss opt-in: Proxmox warns that a single copy loses data."""
    if min_size < 2 and not allow_data_loss:
        return (
            f"{min_size} lets the pool accept writes with a single copy, which Proxmox warns loses data; "
            f"use 2 or more, or set {opt_in_key} to true to accept that"
        )
    return None


def pg_num_under_autoscale(autoscale_mode: str, pg_num: int | None, mode_key: str) -> str | None:
    """Under autoscale `on` Ceph moves pg_num by itself: a declared one would be drift on every refresh."""
    if autoscale_mode == "on" and pg_num is not None:
        return (
            f"is managed by the autoscaler while {mode_key} is 'on'; leave it unset, or set {mode_key} to off or warn"
        )
    return None


# -- VMs and HA ---------------------------------------------------------------------------------------

# qemu-server src/PVE/QemuServer/Drive.pm: $MAX_IDE_DISKS 4, $MAX_SATA_DISKS 6, $MAX_SCSI_DISKS 31,
# $MAX_VIRTIO_DISKS 16 (ide0-3, sata0-5, scsi0-30, virtio0-15).
DISK_BUSES = {"ide": 4, "sata": 6, "scsi": 31, "virtio": 16}
_INTERFACE = re.compile(r"^(ide|sata|scsi|virtio)(0|[1-9][0-9]?)$")
MAX_UNUSED_DISKS = 256  # Drive.pm $MAX_UNUSED_DISKS
VM_IDS = (100, 999_999_999)  # pve-common JSONSchema.pm pve-vmid
MIN_MEMORY = 16  # MiB, qemu-server src/PVE/QemuServer/Memory.pm memory_fmt current minimum
MAX_DESCRIPTION = 8 * 1024  # qemu-server src/PVE/QemuServer.pm description maxLength
MAX_HA_COMMENT = 4096  # pve-ha-manager src/PVE/HA/Resources.pm comment maxLength

vm_id: Validator = between(*VM_IDS)


def disk_interface(value: Any) -> str | None:
    """A VM disk's bus and index: ide0-3, sata0-5, scsi0-30 or virtio0-15."""
    found = _INTERFACE.match(str(value))
    if found is None:
        return f"{value!r} is not a disk interface (ide0-3, sata0-5, scsi0-30, virtio0-15)"
    bus, index = found.group(1), int(found.group(2))
    if index >= DISK_BUSES[bus]:
        return f"{value!r} is past the last {bus} slot, {bus}{DISK_BUSES[bus] - 1}"
    return None


def disk_key(value: Any) -> str | None:
    """A drive key move_disk takes: a disk interface, efidisk0, tpmstate0 or unused0-255."""
    text = str(value)
    if text in ("efidisk0", "tpmstate0"):
        return None
    unused = re.fullmatch(r"unused(0|[1-9][0-9]{0,2})", text)
    if unused is not None:
        return None if int(unused.group(1)) < MAX_UNUSED_DISKS else f"{value!r} is past unused{MAX_UNUSED_DISKS - 1}"
    return disk_interface(value)


def vm_memory(value: Any) -> str | None:
    return None if value >= MIN_MEMORY else f"{value} MiB is below PVE's minimum of {MIN_MEMORY} MiB"


def vm_description(value: Any) -> str | None:
    length = len(str(value))
    return None if length <= MAX_DESCRIPTION else f"is {length} characters; PVE keeps at most {MAX_DESCRIPTION}"


def ha_comment(value: Any) -> str | None:
    length = len(str(value))
    return None if length <= MAX_HA_COMMENT else f"is {length} characters; PVE keeps at most {MAX_HA_COMMENT}"


def at_least(low: int, unit: str = "") -> Validator:
    def check(value: Any) -> str | None:
        return None if value >= low else f"{value}{unit} is below the minimum of {low}{unit}"

    return check


MAX_REPLACEMENT_MARKER = 128


def replacement_marker(value: Any) -> str | None:
    """An OSD's replacement marker (docs/day2.md): any non-empty text, e.g. the new disk's serial."""
    length = len(str(value))
    if length == 0:
        return "is empty; set it to a text of your own (e.g. the new disk's serial), or leave it out"
    return None if length <= MAX_REPLACEMENT_MARKER else f"is {length} characters; keep it to {MAX_REPLACEMENT_MARKER}"


def api_nodes(value: Sequence[Any]) -> str | None:
    """The nodes cluster-wide calls may go to: at least one, each a node name."""
    if not value:
        return "needs at least one node name"
    return node_names(value)
