"""The MON commands the lab's PVE side sends about the cluster as a whole, one method each, over librados.

What pve-manager's PVE::RADOS calls send for `ceph status`, the MON and MGR lists and the safety checks
(PVE/Ceph/Tools.pm, PVE/API2/Ceph.pm, PVE/API2/Ceph/MON.pm, PVE/API2/Ceph/MGR.pm). Each method blocks and
raises RadosError with PVE::RADOS's wording; answers are Ceph's own JSON documents, passed on as PVE does,
or typed where the lab decides something from them.
"""

from __future__ import annotations

from typing import Any

from .rados_client import CephJson, RadosClient

# cmd-safety's (service, action) -> the MON command asking Ceph (PVE/API2/Ceph.pm cmd_safety).
SAFETY_COMMANDS = {
    ("osd", "stop"): "osd ok-to-stop",
    ("osd", "destroy"): "osd safe-to-destroy",
    ("mon", "stop"): "mon ok-to-stop",
    ("mon", "destroy"): "mon ok-to-rm",
    ("mds", "stop"): "mds ok-to-stop",
}


class MonitorCommands:
    def __init__(self, rados: RadosClient) -> None:
        self.rados = rados

    def status(self) -> CephJson:
        """`ceph status`."""
        result: CephJson = self.rados.mon_command("status")
        return result

    def health_detail(self) -> CephJson:
        """`ceph health detail`."""
        result: CephJson = self.rados.mon_command("health", detail="detail")
        return result

    def mon_dump(self) -> CephJson:
        """`ceph mon dump`: the monmap."""
        result: CephJson = self.rados.mon_command("mon dump")
        return result

    def mon_names(self) -> list[str]:
        """The MONs of the monmap, by name."""
        return [str(m["name"]) for m in self.mon_dump()["mons"]]

    def mon_metadata(self) -> list[CephJson]:
        """`ceph mon metadata`: one row per MON (name, hostname, ceph_version, ...)."""
        return list(self.rados.mon_command("mon metadata") or [])

    def quorum_status(self) -> CephJson:
        """`ceph quorum_status`: the ranks in quorum and the monmap. Fails when there is no quorum to ask."""
        result: CephJson = self.rados.mon_command("quorum_status")
        return result

    def quorum_names(self) -> list[str]:
        """`ceph quorum_status`: the MONs in quorum. Fails when there is no quorum to ask."""
        return [str(name) for name in self.rados.mon_command("quorum_status")["quorum_names"]]

    def mgr_dump(self) -> CephJson:
        """`ceph mgr dump`: the mgrmap."""
        result: CephJson = self.rados.mon_command("mgr dump")
        return result

    def config_dump(self) -> list[CephJson]:
        """`ceph config dump`: the MON config DB, one row per setting (section, name, value, ...)."""
        return list(self.rados.mon_command("config dump") or [])

    def crush_rule_names(self) -> list[str]:
        """`ceph osd crush rule ls`."""
        return [str(name) for name in self.rados.mon_command("osd crush rule ls")]

    def crush_rules(self) -> dict[int, str]:
        """`ceph osd crush rule dump`: rule id -> rule name."""
        return {int(r["rule_id"]): str(r["rule_name"]) for r in self.rados.mon_command("osd crush rule dump")}

    def safety_check(self, service: str, action: str, ident: str) -> None:
        """Whether Ceph agrees to stop or destroy a daemon: returns if safe, RadosError with Ceph's reason if not.

        Asked for plain output, as PVE asks: the "unsafe" answer only comes as the return code and message.
        """
        prefix = SAFETY_COMMANDS[(service, action)]
        args: dict[str, Any] = {"id": ident} if prefix == "mon ok-to-rm" else {"ids": [ident]}
        self.rados.mon_command(prefix, plain=True, **args)
