"""ceph.conf as PVE writes it: parse, edit and render. Pure functions, no I/O.

The lab's ceph.conf is what `GET /nodes/{node}/ceph/cfg/raw` returns, so it has the shape of
PVE's `/etc/pve/ceph.conf` (tab-indented `key = value`, `[global]` then `[client]` then the rest)
and carries nothing lab-specific except paths. Daemon paths and the lab's tuning go on each
daemon's command line instead (see `daemons.py`, `tuning.py`).
"""

from __future__ import annotations

import re
import uuid

Sections = dict[str, dict[str, str]]

MON_V2_PORT = 3300
MON_V1_PORT = 6789

# Written on the first init only; a repeat init keeps them (PVE: "if a [global] section already exists
# ... fsid / auth / pool defaults are preserved").
AUTH_KEYS = ("auth_client_required", "auth_cluster_required", "auth_service_required")

_SECTION = re.compile(r"^\[([^\]]+)\]$")
_SEPARATORS = re.compile(r"[\s\-]+")


def normalize_key(key: str) -> str:
    """Ceph treats `mon host`, `mon-host` and `mon_host` alike; so do we."""
    return _SEPARATORS.sub("_", key.strip())


def parse(text: str) -> Sections:
    """Sections of a ceph.conf; later keys win, comments (`#`, `;`) and blank lines are dropped."""
    sections: Sections = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            current = sections.setdefault(match.group(1).strip(), {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            continue  # Ceph ignores such lines as well (with a warning)
        current[normalize_key(key)] = value.strip()
    return sections


def _section_order(name: str) -> tuple[int, str]:
    return ({"global": 0, "client": 1}.get(name, 2), name)


def render(sections: Sections) -> str:
    """PVE's layout: [global], [client], then the other sections by name; keys sorted; tab indent."""
    blocks = []
    for name in sorted(sections, key=_section_order):
        lines = [f"[{name}]"] + [f"\t{key} = {value}" for key, value in sorted(sections[name].items())]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def copy(sections: Sections) -> Sections:
    return {name: dict(values) for name, values in sections.items()}


def with_init(
    sections: Sections,
    *,
    public_network: str,
    cluster_network: str | None,
    size: int,
    min_size: int,
    client_keyring: str,
    fsid: str | None = None,
) -> Sections:
    """What `pveceph init` leaves behind.

    A missing [global] gets a new fsid, cephx, the pool defaults and `mon_allow_pool_delete` (which
    the pool DELETE endpoint depends on). Every call rewrites the networks (cluster_network defaults
    to public_network, as PVE's `network` parameter sets both) and the [client] keyring.
    """
    out = copy(sections)
    glob = out.get("global")
    if glob is None:
        glob = out["global"] = {key: "cephx" for key in AUTH_KEYS}
        glob["fsid"] = fsid or str(uuid.uuid4())
        glob["osd_pool_default_size"] = str(size)
        glob["osd_pool_default_min_size"] = str(min_size)
        glob["mon_allow_pool_delete"] = "true"
    glob["public_network"] = public_network
    glob["cluster_network"] = cluster_network or public_network
    out.setdefault("client", {})["keyring"] = client_keyring
    return out


def mon_addrvec(ip: str) -> str:
    """A MON's address vector, msgr2 and legacy, in the form monmaptool and mon_host take."""
    return f"[v2:{ip}:{MON_V2_PORT},v1:{ip}:{MON_V1_PORT}]"


def mon_host_entries(value: str | None) -> list[str]:
    """Split mon_host into entries: plain IPs, `ip:port` or bracketed address vectors (which contain commas)."""
    if not value:
        return []
    return [entry for entry in re.findall(r"\[[^\]]*\]|[^\s,;\[\]]+", value) if entry]


def entry_ip(entry: str) -> str:
    """The IP an entry of mon_host points at: `[v2:1.2.3.4:3300,v1:...]`, `1.2.3.4:6789` or `1.2.3.4`."""
    first = entry.strip("[]").split(",")[0]
    first = re.sub(r"^v[12]:", "", first)
    first = first.split("/")[0]
    if first.count(":") == 1:  # IPv4 with a port
        first = first.split(":")[0]
    return first


def mon_host_ips(value: str | None) -> set[str]:
    """Every IP mon_host names, each address of a vector included (PVE refuses a MON on any of them)."""
    return {entry_ip(address) for entry in mon_host_entries(value) for address in entry.strip("[]").split(",")}


def with_mon(sections: Sections, mon_id: str, ip: str) -> Sections:
    """Add a MON the way PVE does: its addresses to mon_host, `[mon.<id>] public_addr`, msgr bind flags."""
    out = copy(sections)
    glob = out.setdefault("global", {})
    entries = [e for e in mon_host_entries(glob.get("mon_host")) if entry_ip(e) != ip]
    entries.append(mon_addrvec(ip))
    glob["mon_host"] = " ".join(entries)
    glob["ms_bind_ipv4"] = "true"
    glob["ms_bind_ipv6"] = "false"
    out[f"mon.{mon_id}"] = {"public_addr": ip}
    return out


def without_mon(sections: Sections, mon_id: str, ip: str | None) -> Sections:
    """Drop a MON: its [mon.<id>] section and its entry in mon_host (by IP)."""
    out = copy(sections)
    section = out.pop(f"mon.{mon_id}", {})
    ip = ip or section.get("public_addr")
    glob = out.get("global", {})
    if ip and "mon_host" in glob:
        entries = [e for e in mon_host_entries(glob["mon_host"]) if entry_ip(e) != ip]
        if entries:
            glob["mon_host"] = " ".join(entries)
        else:
            del glob["mon_host"]
    return out
