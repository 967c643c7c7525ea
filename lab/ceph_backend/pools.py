"""The pool commands the lab's PVE side sends (pve-manager PVE/API2/Ceph/Pool.pm, PVE/Ceph/Tools.pm
create_pool, set_pool, destroy_pool), one method each, over librados.

Each method blocks and raises RadosError with PVE::RADOS's wording.
"""

from __future__ import annotations

from typing import Any

from .rados_client import CephJson, RadosClient


class PoolCommands:
    def __init__(self, rados: RadosClient) -> None:
        self.rados = rados

    def details(self) -> list[CephJson]:
        """`ceph osd pool ls detail`: one row per pool (pool_id, pool_name, size, options, ...)."""
        return list(self.rados.mon_command("osd pool ls", detail="detail"))

    def detail(self, name: str) -> CephJson:
        """The `osd pool ls detail` row of one pool (KeyError if there is none)."""
        for pool in self.details():
            if pool["pool_name"] == name:
                return pool
        raise KeyError(f"pool '{name}' is not in `osd pool ls detail`")

    def stats(self) -> dict[str, CephJson]:
        """`ceph df detail`: pool name -> its statistics."""
        return {p["name"]: p["stats"] for p in self.rados.mon_command("df", detail="detail")["pools"]}

    def autoscale_status(self) -> dict[str, CephJson]:
        """The MGR's `osd pool autoscale-status`: pool name -> its autoscaler row."""
        return {a["pool_name"]: a for a in self.rados.mgr_command("osd pool autoscale-status") or []}

    def values(self, name: str) -> CephJson:
        """`ceph osd pool get <pool> all`: every variable of the pool."""
        result: CephJson = self.rados.mon_command("osd pool get", pool=name, var="all")
        return result

    def value(self, name: str, var: str) -> Any:
        """`ceph osd pool get <pool> <var>`."""
        return self.rados.mon_command("osd pool get", pool=name, var=var)

    def set(self, name: str, var: str, value: str) -> None:
        """`ceph osd pool set <pool> <var> <value>`."""
        self.rados.mon_command("osd pool set", pool=name, var=var, val=value)

    def enable_application(self, name: str, application: str) -> None:
        """`ceph osd pool application enable <pool> <app>`."""
        self.rados.mon_command("osd pool application enable", pool=name, app=application)

    def create(self, name: str, pg_num: int) -> None:
        """`ceph osd pool create <pool> <pg_num> replicated`."""
        self.rados.mon_command("osd pool create", pool=name, pg_num=pg_num, pool_type="replicated")

    def delete(self, name: str) -> None:
        """`ceph osd pool delete <pool> <pool> --yes-i-really-really-mean-it`."""
        self.rados.mon_command("osd pool delete", pool=name, pool2=name, yes_i_really_really_mean_it=True)
