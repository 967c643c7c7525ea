"""What a lab is made of: nodes, their addresses and disks, the PVE release. Pure data, no I/O.

Every lab gets its own /24 inside 127.0.0.0/8 (all of it is local on Linux), so two labs on
one machine never share an address or a port. Its lower half is the Ceph public network and its
upper half the cluster (replication) network, so each node has two addresses, as a real node
with two NICs does: `.1` serves the PVE API on port 8006, node N is `.(10+N)` on the public
network (MONs, MGRs, the OSDs' client side) and `.(138+N)` on the cluster network (where its
OSDs bind their cluster address when ceph.conf's cluster_network says so).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import string
from dataclasses import dataclass, field

from lab.releases import PveRelease, ReleaseError, newest_of_major, release

DEFAULT_NODES = 3
# The seed's cluster: one SSD per node, 512G, 512G and 1T.
DEFAULT_DISK_SIZES = ("512G", "512G", "1T")
API_PORT = 8006
FIRST_NODE_HOST = 10  # node N is .(FIRST_NODE_HOST + N) in each half
SIZE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
DISK_TYPES = ("ssd", "hdd", "nvme", "virtio")
BY_ID_LINK = re.compile(r"^/dev/disk/by-id/(ata|scsi|nvme(?!-eui))")


class SpecError(ValueError):
    """A lab option that cannot be used; the message names the option."""


@dataclass(frozen=True)
class Disk:
    """One disk of a node, as udev and PVE's disks/list see it (pve-storage src/PVE/Diskmanage.pm)."""

    devpath: str  # as PVE shows it, e.g. /dev/sdb
    size: int  # bytes
    type: str = "ssd"  # how it was asked for: ssd, hdd (SATA), nvme, virtio
    serial: str = "unknown"  # udev ID_SERIAL_SHORT
    wwn: str = "unknown"  # udev ID_WWN
    links: tuple[str, ...] = ()  # udev DEVLINKS: /dev/disk/by-id/..., /dev/disk/by-path/...
    slot: tuple[int, int] = (0, 0)  # (node index, disk ordinal): what the udev identity derives from
    generation: int = 0  # how many times the disk in this slot was replaced (each new disk: a new serial)

    @property
    def name(self) -> str:
        return self.devpath.rsplit("/", 1)[-1]

    @property
    def media(self) -> str:
        """disks/list `type` (and the CRUSH class ceph-volume detects): a virtio disk is rotational, so hdd."""
        return "hdd" if self.type == "virtio" else self.type

    @property
    def by_id_link(self) -> str | None:
        """Diskmanage.pm get_udev_info: the first DEVLINK matching `^/dev/disk/by-id/(ata|scsi|nvme(?!-eui))`;
        a virtio disk has none."""
        return next((link for link in self.links if BY_ID_LINK.match(link)), None)

    def answers_to(self, path: str) -> bool:
        """Does `path` resolve to this disk (createosd's verify_blockdev_path: abs_path of a udev link)?"""
        return path == self.devpath or path in self.links


def disk_identity(
    kind: str, node_index: int, ordinal: int, devpath: str, generation: int = 0
) -> tuple[str, str, tuple[str, ...]]:
    """(serial, wwn, udev links) of a QEMU-emulated disk, as a PVE node in a VM shows them: SATA disks
    `ata-QEMU_HARDDISK_<serial>` and a `wwn-0x...` link, NVMe `nvme-QEMU_NVMe_Ctrl_<serial>` and an
    `nvme-eui.` link, virtio `virtio-<serial>`; each one `/dev/disk/by-path/` link. Deterministic per node
    and disk, so a lab's links are the same every time it starts. A replacement disk (`generation` > 0)
    is another disk: its serial, WWN and by-id links are new; the by-path link names the slot and stays."""
    tag = f"{node_index:02d}{ordinal:02d}"
    if kind == "nvme":
        serial = f"LABNVME{tag}" + (f"G{generation}" if generation else "")
        eui = f"eui.5cd2e4{node_index:04x}{generation:02x}{ordinal:04x}"
        by_id = (f"/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_{serial}", f"/dev/disk/by-id/nvme-{eui}")
        by_path = f"/dev/disk/by-path/pci-0000:{ordinal + 1:02x}:00.0-nvme-1"
        return serial, eui, (*by_id, by_path)
    if kind == "virtio":
        serial = f"lab{tag}" + (f"g{generation}" if generation else "")
        return (
            serial,
            "unknown",
            (f"/dev/disk/by-id/virtio-{serial}", f"/dev/disk/by-path/pci-0000:00:{ordinal + 8:02x}.0"),
        )
    serial, wwn = f"QM{generation:03d}{tag}", f"0x5000c5{generation:02x}{node_index:04x}{ordinal:04x}"
    return (
        serial,
        wwn,
        (
            f"/dev/disk/by-id/ata-QEMU_HARDDISK_{serial}",
            f"/dev/disk/by-id/wwn-{wwn}",
            f"/dev/disk/by-path/pci-0000:00:1f.2-ata-{ordinal + 1}",
        ),
    )


@dataclass(frozen=True)
class Node:
    name: str
    ip: str  # on the public network
    disks: tuple[Disk, ...] = field(default_factory=tuple)
    cluster_ip: str = ""  # on the cluster network

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address the node has, public first (what `ip address` would list on a PVE node)."""
        return tuple(ip for ip in (self.ip, self.cluster_ip) if ip)


@dataclass(frozen=True)
class LabSpec:
    subnet: str  # e.g. 127.77.3.0/24
    nodes: tuple[Node, ...]
    release: PveRelease = field(default_factory=lambda: newest_of_major(9))

    @property
    def pve_version(self) -> int:
        """The PVE major (8 or 9): what the HA and migration handlers tell apart."""
        return self.release.major

    @property
    def answering_node(self) -> str:
        """The node whose pveproxy the lab's endpoint is: termproxy and vncwebsocket are answered there
        (they have no `proxyto`), and its daemons' reload is what a client of the endpoint sees."""
        return self.nodes[0].name

    @property
    def api_host(self) -> str:
        return str(ipaddress.ip_network(self.subnet).network_address + 1)

    @property
    def endpoint(self) -> str:
        return f"https://{self.api_host}:{API_PORT}"

    @property
    def public_network(self) -> str:
        """The lower half of the lab's /24."""
        return str(_halves(self.subnet)[0])

    @property
    def cluster_network(self) -> str:
        """The upper half of the lab's /24: no other lab, and nothing of this one but the OSDs, uses it."""
        return str(_halves(self.subnet)[1])

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]


def _halves(subnet: str) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
    low, high = ipaddress.IPv4Network(subnet).subnets(prefixlen_diff=1)
    return low, high


def parse_size(text: str) -> int:
    """'512G' -> bytes. Units K, M, G, T (powers of 1024), as PVE writes sizes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT])", text.strip().upper())
    if not match:
        raise SpecError(f"--disks: size {text!r} is not a number followed by K, M, G or T (e.g. 512G)")
    size = int(float(match.group(1)) * SIZE_UNITS[match.group(2)])
    if size < 4 * SIZE_UNITS["G"]:
        raise SpecError(f"--disks: size {text!r} is below 4G, too small for a BlueStore OSD")
    return size


def _disks(entry: str, node: str, node_index: int = 1) -> tuple[Disk, ...]:
    """'512G+1T:hdd' -> /dev/sdb (512G, ssd), /dev/sdc (1T, hdd). /dev/sda is the system disk; NVMe disks
    are /dev/nvme0n1, /dev/nvme1n1, ..., virtio ones /dev/vda, /dev/vdb, ..."""
    disks = []
    items = [item for item in entry.split("+") if item.strip()]
    if len(items) > 24:
        raise SpecError(f"--disks: node {node} has {len(items)} disks; at most 24 are supported")
    counts = {"sata": 0, "nvme": 0, "virtio": 0}
    for ordinal, item in enumerate(items):
        size_text, _, kind = item.partition(":")
        kind = kind.strip().lower() or "ssd"
        if kind not in DISK_TYPES:
            raise SpecError(f"--disks: disk type {kind!r} on node {node} is not one of {', '.join(DISK_TYPES)}")
        bus = kind if kind in ("nvme", "virtio") else "sata"
        index = counts[bus]
        counts[bus] += 1
        if bus == "nvme":
            devpath = f"/dev/nvme{index}n1"
        elif bus == "virtio":
            devpath = "/dev/vd" + string.ascii_lowercase[index]
        else:
            devpath = "/dev/sd" + string.ascii_lowercase[index + 1]
        serial, wwn, links = disk_identity(kind, node_index, ordinal, devpath)
        disks.append(
            Disk(
                devpath=devpath,
                size=parse_size(size_text),
                type=kind,
                serial=serial,
                wwn=wwn,
                links=links,
                slot=(node_index, ordinal),
            )
        )
    return tuple(disks)


def parse_disks(spec: str | None, node_names: list[str]) -> dict[str, tuple[Disk, ...]]:
    """The --disks option.

    Forms: empty (the default 512G, 512G, 1T, repeated for more nodes); one entry for every node
    (`1T`); one entry per node in order (`512G,512G,1T`); or by name (`pve1=512G+512G,pve2=1T`,
    unnamed nodes get no disks). An entry is sizes joined by `+`, each optionally `:hdd`/`:nvme`.
    """
    if not spec:
        return {name: _disks(DEFAULT_DISK_SIZES[i % 3], name, i + 1) for i, name in enumerate(node_names)}
    entries = [e.strip() for e in spec.split(",")]
    if all("=" in e for e in entries):
        out: dict[str, tuple[Disk, ...]] = {name: () for name in node_names}
        for entry in entries:
            name, _, disks = entry.partition("=")
            if name not in out:
                raise SpecError(f"--disks: node {name!r} is not in the lab (nodes: {', '.join(node_names)})")
            out[name] = _disks(disks, name, node_names.index(name) + 1)
        return out
    if any("=" in e for e in entries):
        raise SpecError("--disks: name every node (pve1=512G,...) or none (512G,512G,1T), not a mix")
    if len(entries) == 1:
        return {name: _disks(entries[0], name, i + 1) for i, name in enumerate(node_names)}
    if len(entries) != len(node_names):
        raise SpecError(
            f"--disks: {len(entries)} entries for {len(node_names)} nodes; give one per node or one for all"
        )
    return {name: _disks(entry, name, i + 1) for i, (name, entry) in enumerate(zip(node_names, entries, strict=True))}


def lab_release(pve_version: int | None = None, pve_release: str | None = None) -> PveRelease:
    """`--pve-release X.Y.Z` if given, else the newest release of `--pve-version`'s major (9 by default)."""
    try:
        if pve_release:
            chosen = release(pve_release)
            if pve_version is not None and chosen.major != pve_version:
                raise SpecError(
                    f"--pve-release {pve_release} is a PVE {chosen.major} release, but --pve-version is {pve_version}; "
                    "give one of them"
                )
            return chosen
        return newest_of_major(9 if pve_version is None else pve_version)
    except ReleaseError as exc:
        raise SpecError(str(exc)) from exc


def build_spec(
    subnet: str,
    nodes: int = DEFAULT_NODES,
    disks: str | None = None,
    pve_version: int | None = None,
    pve_release: str | None = None,
) -> LabSpec:
    if not 1 <= nodes <= MAX_NODES:
        raise SpecError(f"--nodes: {nodes} is outside 1..{MAX_NODES}")
    if pve_version not in (None, 8, 9):
        raise SpecError(f"--pve-version: {pve_version} is not 8 or 9")
    chosen = lab_release(pve_version, pve_release)
    net = ipaddress.IPv4Network(subnet)
    if not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")) or net.prefixlen != 24:
        raise SpecError(f"subnet {subnet} must be a /24 inside 127.0.0.0/8 (the lab binds to loopback only)")
    names = [f"pve{i}" for i in range(1, nodes + 1)]
    per_node = parse_disks(disks, names)
    public, cluster = (half.network_address for half in _halves(str(net)))
    return LabSpec(
        subnet=str(net),
        nodes=tuple(
            Node(
                name=n,
                ip=str(public + FIRST_NODE_HOST + i),
                disks=per_node[n],
                cluster_ip=str(cluster + FIRST_NODE_HOST + i),
            )
            for i, n in enumerate(names, 1)
        ),
        release=chosen,
    )


# PVE's node names are host names (pve-common PVE/JSONSchema.pm, format 'pve-node').
NODE_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
# Each node takes two addresses (.FIRST_NODE_HOST + N in each /25 half), so a /24 would hold over a
# hundred; 32 covers the scale benchmarks (bench.noop_preview: 3, 12 and 24 nodes) on one machine.
MAX_NODES = 32


def with_node(spec: LabSpec, name: str, disks: str | None = None) -> LabSpec:
    """The spec with one more node, as `pvecm add` makes one: the next address after the last node's.

    `disks` is one --disks entry (`512G+1T:hdd`); without it the node gets one 512G SSD.
    """
    if not NODE_NAME.fullmatch(name):
        raise SpecError(f"add-node: {name!r} is not a valid node name (a host name: letters, digits, '-')")
    if name in spec.node_names:
        raise SpecError(f"add-node: node {name!r} is already in the lab")
    if len(spec.nodes) >= MAX_NODES:
        raise SpecError(f"add-node: the lab has {len(spec.nodes)} nodes already, the most it supports")
    public, cluster = (half.network_address for half in _halves(spec.subnet))
    index = 1 + max((int(ipaddress.IPv4Address(n.ip)) - int(public) - FIRST_NODE_HOST for n in spec.nodes), default=0)
    node = Node(
        name=name,
        ip=str(public + FIRST_NODE_HOST + index),
        disks=_disks(disks or DEFAULT_DISK_SIZES[0], name, index),
        cluster_ip=str(cluster + FIRST_NODE_HOST + index),
    )
    return dataclasses.replace(spec, nodes=(*spec.nodes, node))


def with_disk_replaced(spec: LabSpec, node: str, devpath: str, size: str | None = None) -> LabSpec:
    """The spec with the disk in one slot swapped for a new one (same type; `size` like 512G, else the old size)."""
    try:
        old_node = spec.node(node)
    except KeyError:
        names = ", ".join(spec.node_names)
        raise SpecError(f"replace-disk: node {node!r} is not in the lab (nodes: {names})") from None
    old = next((d for d in old_node.disks if devpath in (d.devpath, d.name)), None)
    if old is None:
        names = ", ".join(d.devpath for d in old_node.disks) or "none"
        raise SpecError(f"replace-disk: node {node} has no disk {devpath} (its disks: {names})")
    # Same slot and type, another disk: a new serial and WWN (so new by-id links), the slot's by-path link.
    generation = old.generation + 1
    serial, wwn, links = disk_identity(old.type, *old.slot, old.devpath, generation)
    new = dataclasses.replace(
        old, size=parse_size(size) if size else old.size, serial=serial, wwn=wwn, links=links, generation=generation
    )
    disks = tuple(new if d.devpath == old.devpath else d for d in old_node.disks)
    nodes = tuple(dataclasses.replace(n, disks=disks) if n.name == node else n for n in spec.nodes)
    return dataclasses.replace(spec, nodes=nodes)


def find_disk(spec: LabSpec, node: str, device: str) -> Disk:
    """A node's disk by devpath (/dev/sdb) or name (sdb)."""
    try:
        disks = spec.node(node).disks
    except KeyError:
        raise SpecError(f"node {node!r} is not in the lab (nodes: {', '.join(spec.node_names)})") from None
    for disk in disks:
        if device in (disk.devpath, disk.name):
            return disk
    raise SpecError(f"node {node} has no disk {device} (its disks: {', '.join(d.devpath for d in disks) or 'none'})")
