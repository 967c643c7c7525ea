"""GET /nodes/{node}/ceph/mon: the monitors as PVE lists them, merged from four sources in PVE's order.

pve-manager PVE/API2/Ceph/MON.pm `listmon` and PVE/Ceph/Services.pm `get_services_info`:
1. the MON services the nodes broadcast (a data dir, an enabled unit): state 'stopped' until below;
2. ceph.conf's `[mon.<id>]` sections: the address (mon_addr, public_addr or host), state 'unknown';
3. with RADOS, `mon metadata`: the versions, and host and address where still unknown;
4. with RADOS, `quorum_status`'s monmap: rank and address, and `quorum` = 1, state 'running' for the
   ranks in quorum.
So a MON whose create task has ended but that has not joined yet (MON.pm createmon does not wait
for it) is listed, from its service and its ceph.conf section, as 'stopped' with no quorum key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.pve_formats import ceph_version_short


@dataclass(frozen=True)
class MonService:
    """A MON data dir on a node, as the node broadcasts it (Services.pm get_local_services)."""

    mon_id: str
    node: str
    enabled: bool  # its ceph-mon@<id> unit is enabled


def mon_list(
    services: Iterable[MonService],
    conf_sections: Mapping[str, Mapping[str, str]],
    metadata: Iterable[Mapping[str, Any]] | None,
    quorum_status: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The listmon answer; `metadata` and `quorum_status` are None without RADOS (every state 'unknown')."""
    mons: dict[str, dict[str, Any]] = {}
    for service in services:
        mons[service.mon_id] = {
            "name": service.mon_id,
            "host": service.node,
            "direxists": 1,
            "service": 1 if service.enabled else 0,
            "state": "stopped" if service.enabled else "unknown",
        }
    for section, values in conf_sections.items():
        if not section.startswith("mon."):
            continue
        mon_id = section.removeprefix("mon.")
        entry = mons.setdefault(mon_id, {"name": mon_id})
        address = values.get("mon_addr") or values.get("public_addr") or values.get("host")
        _default(entry, "addr", address)
        _default(entry, "state", "unknown")
        _default(entry, "host", values.get("host"))
    if metadata is None or quorum_status is None:
        for entry in mons.values():
            entry["state"] = "unknown"
        return _listed(mons)
    for info in metadata:
        entry = mons.setdefault(str(info.get("name")), {"name": str(info.get("name"))})
        entry["ceph_version"] = info.get("ceph_version")
        entry["ceph_version_short"] = ceph_version_short(str(info.get("ceph_version") or ""))
        _default(entry, "host", info.get("hostname"))
        _default(entry, "addr", info.get("addr"))
    ranks_in_quorum = set(quorum_status.get("quorum") or ())
    for mon in quorum_status.get("monmap", {}).get("mons", ()):
        if mon.get("name") is None:
            continue
        entry = mons.setdefault(str(mon["name"]), {"name": str(mon["name"])})
        entry["rank"] = mon.get("rank")
        entry["addr"] = mon.get("addr")
        if mon.get("rank") in ranks_in_quorum:
            entry["quorum"] = 1
            entry["state"] = "running"
    return _listed(mons)


def _default(entry: dict[str, Any], key: str, value: Any) -> None:
    """Perl's `//=`: set unless already defined."""
    if entry.get(key) is None:
        entry[key] = value


def _listed(mons: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """PVE::RESTHandler::hash_to_array, in name order (Perl's is a hash's); keys never set stay out."""
    return [{k: v for k, v in mons[name].items() if v is not None} for name in sorted(mons)]
