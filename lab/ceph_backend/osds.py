"""The OSD MON commands the lab's PVE side sends (pve-manager PVE/API2/Ceph/OSD.pm), one method each.

Each method blocks and raises RadosError with PVE::RADOS's wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rados_client import CephJson, RadosClient


@dataclass(frozen=True)
class OsdState:
    """An OSD in the OSD map: whether it is up, and whether it is in."""

    up: bool
    in_: bool


# Ceph's own fault injection in the OSDs' op dispatch (src/common/options: osd_debug_inject_dispatch_delay_*).
DISPATCH_DELAY = ("osd_debug_inject_dispatch_delay_probability", "osd_debug_inject_dispatch_delay_duration")


class OsdCommands:
    def __init__(self, rados: RadosClient) -> None:
        self.rados = rados

    def slow_dispatch(self, probability: float, seconds: float) -> None:
        """Every OSD, those made later too (the MON's config database), delays that share of its ops."""
        for name, value in zip(DISPATCH_DELAY, (probability, seconds), strict=True):
            self.rados.mon_command("config set", who="osd", name=name, value=str(value))

    def normal_dispatch(self) -> None:
        for name in DISPATCH_DELAY:
            self.rados.mon_command("config rm", who="osd", name=name)

    def tree(self) -> CephJson:
        """`ceph osd tree`: CRUSH's nodes (root, hosts, OSDs) and the stray OSDs."""
        result: CephJson = self.rados.mon_command("osd tree")
        return result

    def dump(self) -> CephJson:
        """`ceph osd dump`: the OSD map (osds with up/in, flags, ...)."""
        result: CephJson = self.rados.mon_command("osd dump")
        return result

    def states(self) -> dict[int, OsdState]:
        """Every OSD of the OSD map, up and in or not."""
        return {int(o["osd"]): OsdState(bool(o.get("up")), bool(o.get("in"))) for o in self.dump()["osds"]}

    def df(self) -> list[CephJson]:
        """`ceph osd df`: usage per OSD (id, pgs, kb, kb_used, utilization)."""
        return list(self.rados.mon_command("osd df")["nodes"])

    def metadata(self) -> list[CephJson]:
        """`ceph osd metadata`: one row per OSD."""
        return list(self.rados.mon_command("osd metadata") or [])

    def metadata_of(self, osd_id: int) -> CephJson:
        """`ceph osd metadata <id>`."""
        result: CephJson = self.rados.mon_command("osd metadata", id=osd_id)
        return result

    def mark_in(self, osd_id: int) -> None:
        """`ceph osd in <id>`."""
        self.rados.mon_command("osd in", ids=[str(osd_id)])

    def mark_out(self, osd_id: int) -> None:
        """`ceph osd out <id>`."""
        self.rados.mon_command("osd out", ids=[str(osd_id)])

    def scrub(self, osd_id: int, deep: bool = False) -> None:
        """`ceph osd scrub|deep-scrub <id>`."""
        self.rados.mon_command("osd deep-scrub" if deep else "osd scrub", who=str(osd_id))

    def flags(self) -> set[str]:
        """The cluster-wide OSD flags set (`flags` of `ceph osd dump`, e.g. noout, sortbitwise)."""
        return {flag for flag in str(self.dump().get("flags", "")).split(",") if flag}

    def set_flag(self, flag: str, value: bool) -> None:
        """`ceph osd set|unset <flag>`."""
        self.rados.mon_command("osd set" if value else "osd unset", key=flag)
