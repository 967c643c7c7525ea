"""Ceph pools (PVE/API2/Ceph/Pool.pm and PVE::Ceph::Tools::set_pool), on real `ceph osd pool` commands."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from lab import errors
from lab.ceph_backend.rados_client import RadosError
from lab.errors import TaskError
from lab.handlers.base import LabArea, Route
from lab.models.pools import (
    add_pool_storage,
    pool_settings,
    remove_pool_storages,
    set_pool,
    storages_of_pool,
)
from lab.models.volumes import PVE_IMAGE
from lab.worker import in_thread

POOL_NAME = re.compile(r"^[^:/\s]+$")


class CephPoolApi(LabArea):
    def _routes_ceph_pool(self) -> list[Route]:
        pool = "/nodes/{node}/ceph/pool"
        return [
            ("GET", pool, self._pool_list),
            ("POST", pool, self._pool_create),
            ("PUT", pool + "/{name}", self._pool_update),
            ("DELETE", pool + "/{name}", self._pool_destroy),
            ("GET", pool + "/{name}/status", self._pool_status),
        ]

    # -- read -----------------------------------------------------------------------------------

    async def _pool_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.need_configured(v["node"])
        detail = await self.ceph_command(self.ceph_pools.details)
        df = await self.ceph_command(self.ceph_pools.stats)
        rules = await self.ceph_command(self.ceph_mons.crush_rules)
        try:
            autoscale = await asyncio.to_thread(self.ceph_pools.autoscale_status)
        except RadosError:  # no MGR (yet): PVE lists the pools without the autoscaler's view
            autoscale = {}
        out = []
        for p in detail:
            opts = p.get("options", {})
            stats = df.get(p["pool_name"], {})
            item = {
                "pool": p["pool_id"],
                "pool_name": p["pool_name"],
                "size": p["size"],
                "min_size": p["min_size"],
                "pg_num": p["pg_num"],
                "pg_autoscale_mode": p.get("pg_autoscale_mode"),
                "crush_rule": p["crush_rule"],
                "crush_rule_name": rules.get(p["crush_rule"]),
                "type": {1: "replicated", 3: "erasure"}.get(p.get("type", 0), "unknown"),
                "application_metadata": p.get("application_metadata", {}),
                "bytes_used": stats.get("bytes_used", 0),
                "percent_used": stats.get("percent_used", 0),
            }
            if "pg_num_min" in opts:
                item["pg_num_min"] = opts["pg_num_min"]
            if "target_size_bytes" in opts:
                item["target_size"] = opts["target_size_bytes"]
            if "target_size_ratio" in opts:
                item["target_size_ratio"] = opts["target_size_ratio"]
            if p["pool_name"] in autoscale:
                item["autoscale_status"] = autoscale[p["pool_name"]]
                item["pg_num_final"] = autoscale[p["pool_name"]].get("pg_num_final")
            out.append(item)
        return out

    async def _pool_status(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.need_configured(v["node"])
        name = v["name"]
        values = await self.ceph_command(self.ceph_pools.values, name)
        rules = await self.ceph_command(self.ceph_mons.crush_rules)
        detail = await self.ceph_command(self.ceph_pools.detail, name)
        opts = detail.get("options", {})
        status = {
            "id": detail["pool_id"],
            "name": name,
            "size": values["size"],
            "min_size": values["min_size"],
            "pg_num": values["pg_num"],
            "pgp_num": values.get("pgp_num"),
            "crush_rule": rules.get(detail["crush_rule"], values.get("crush_rule")),
            "pg_autoscale_mode": values.get("pg_autoscale_mode"),
            "target_size": opts.get("target_size_bytes", 0),
            "target_size_ratio": opts.get("target_size_ratio", 0),
            "pg_num_min": opts.get("pg_num_min", 0),
            "application_list": sorted(detail.get("application_metadata", {})),
        }
        if v.get("verbose"):
            stats = await self.ceph_command(self.ceph_pools.stats)
            if self.cluster.spec.release.pool_status_reports_last_pool:
                # PVE/API2/Ceph/Pool.pm getpool: `next if !defined($d->{name}) && !$d->{name} ne "$pool"`
                # skips nothing, so every pool of `ceph df` overwrites the last: the last one's numbers stay.
                if stats:
                    status["statistics"] = list(stats.values())[-1]
            else:
                status["statistics"] = stats.get(name, {})
        for flag in ("noscrub", "nodeep-scrub", "nodelete", "nopgchange", "nosizechange", "hashpspool", "fast_read"):
            if flag in values:
                status[flag] = values[flag]
        return status

    # -- write ----------------------------------------------------------------------------------

    async def _pool_create(self, v: dict[str, Any], user: str) -> str:
        node, name = v["node"], v["name"]
        self.need_quorum()
        self.need_configured(node)
        if not POOL_NAME.match(name):
            raise errors.param(name="value does not match the regex pattern")
        if v.get("erasure-coding"):
            raise errors.die("lab: erasure-coded pools are not modelled by the lab")
        wanted = pool_settings(v, defaults=True)
        application = v.get("application") or "rbd"
        await self.ceph_command(self.ceph_mons.quorum_names)

        async def body() -> None:
            await self.ceph_task_command(self.ceph_pools.create, name, int(wanted["pg_num"]))
            await set_pool(self.ceph_pools, name, wanted, application)
            if v.get("add_storages"):
                add_pool_storage(self.storages, name)

        return await self.task(node, "cephcreatepool", name, user, body, lock=False)

    async def _pool_update(self, v: dict[str, Any], user: str) -> str:
        node, name = v["node"], v["name"]
        self.need_configured(node)
        wanted = pool_settings(v, defaults=False)

        async def body() -> None:
            await set_pool(self.ceph_pools, name, wanted, v.get("application"))

        return await self.task(node, "cephsetpool", name, user, body, lock=False)

    async def _pool_destroy(self, v: dict[str, Any], user: str) -> str:
        node, name = v["node"], v["name"]
        self.need_inited(node)

        async def body() -> None:
            storages = storages_of_pool(self.storages, name)
            if not v.get("force"):
                for sid in storages:
                    if self.storages[sid].get("disable"):
                        raise TaskError(f"storage '{sid}' is disabled")
                    images = await in_thread(self.rbd.image_names, name)
                    if any(PVE_IMAGE.match(img) for img in images):  # only PVE's own images count
                        raise errors.pool_in_use(name, sid)
            try:
                await asyncio.to_thread(self.ceph_pools.value, name, "size")
            except RadosError as exc:
                raise errors.unrecognized_pool("osd pool get", name) from exc
            await self.ceph_task_command(self.ceph_pools.delete, name)
            if v.get("remove_storages"):
                remove_pool_storages(self.storages, storages)

        return await self.task(node, "cephdestroypool", name, user, body, lock=False)
