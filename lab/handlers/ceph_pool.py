"""Ceph pools (PVE/API2/Ceph/Pool.pm and PVE::Ceph::Tools::set_pool), on real `ceph osd pool` commands."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from lab import errors
from lab.ceph_backend.rados_client import RadosError
from lab.errors import TaskError
from lab.handlers.base import CephHelpers
from lab.models.volumes import PVE_IMAGE
from lab.pve_formats import parse_size
from lab.worker import in_thread

Route = tuple[str, str, Any]
POOL_NAME = re.compile(r"^[^:/\s]+$")
TARGET_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT])?$")
# set_pool applies size first: setting size resets min_size in Ceph (tracker 44862).
SET_ORDER = (
    "size",
    "min_size",
    "pg_num",
    "pg_num_min",
    "crush_rule",
    "pg_autoscale_mode",
    "target_size_bytes",
    "target_size_ratio",
)


def target_size_bytes(text: str) -> int:
    """The schema's pattern, then pve-common's parse_size (pve-manager PVE/API2/Ceph/Pool.pm)."""
    size = parse_size(text) if TARGET_SIZE.match(text) else None
    if size is None:
        raise errors.param(target_size=f"invalid format - value '{text}' does not match the regex")
    return size


def pool_settings(v: dict[str, Any], defaults: bool) -> dict[str, Any]:
    """The `osd pool set` variables a create or update asks for, PVE's defaults filled in for a create."""
    wanted: dict[str, Any] = {}
    if defaults:
        wanted.update(size=3, min_size=2, pg_num=128, pg_autoscale_mode="warn")
    for key in ("size", "min_size", "pg_num", "pg_num_min", "crush_rule", "pg_autoscale_mode", "target_size_ratio"):
        if v.get(key) is not None:
            wanted[key] = v[key]
    if v.get("target_size") is not None:
        wanted["target_size_bytes"] = target_size_bytes(str(v["target_size"]))
    return wanted


class CephPoolApi(CephHelpers):
    storages: dict[str, dict[str, Any]]

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
        detail = await self.mon_command("osd pool ls", detail="detail")
        df = {p["name"]: p["stats"] for p in (await self.mon_command("df", detail="detail"))["pools"]}
        rules = {r["rule_id"]: r["rule_name"] for r in await self.mon_command("osd crush rule dump")}
        try:
            autoscale = {
                a["pool_name"]: a
                for a in await asyncio.to_thread(self.rados.mgr_command, "osd pool autoscale-status") or []
            }
        except (RadosError, Exception):
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
                "type": {1: "replicated", 3: "erasure"}.get(p.get("type"), "unknown"),
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
        values = await self.mon_command("osd pool get", pool=name, var="all")
        rules = {r["rule_id"]: r["rule_name"] for r in await self.mon_command("osd crush rule dump")}
        detail = next(p for p in await self.mon_command("osd pool ls", detail="detail") if p["pool_name"] == name)
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
            stats = {p["name"]: p["stats"] for p in (await self.mon_command("df", detail="detail"))["pools"]}
            status["statistics"] = stats.get(name, {})
        for flag in ("noscrub", "nodeep-scrub", "nodelete", "nopgchange", "nosizechange", "hashpspool", "fast_read"):
            if flag in values:
                status[flag] = values[flag]
        return status

    # -- write ----------------------------------------------------------------------------------

    async def _set_pool(self, name: str, wanted: dict[str, Any], application: str | None) -> None:
        """PVE::Ceph::Tools::set_pool: compare with `osd pool get all`, set what differs, size first."""
        try:
            current = await asyncio.to_thread(self.rados.mon_command, "osd pool get", pool=name, var="all")
        except RadosError as exc:
            if "unrecognized pool" in exc.message or exc.code == 2:
                raise errors.unrecognized_pool("osd pool get", name) from exc
            raise TaskError(exc.message) from exc
        failed: list[str] = []
        for key in SET_ORDER:
            if key not in wanted:
                continue
            value = wanted[key]
            if str(current.get(key)) == str(value):
                continue
            try:
                await asyncio.to_thread(self.rados.mon_command, "osd pool set", pool=name, var=key, val=str(value))
            except RadosError:
                failed.append(key)
        if application:
            try:
                await asyncio.to_thread(
                    self.rados.mon_command, "osd pool application enable", pool=name, app=application
                )
            except RadosError:
                failed.append("application")
        if failed:
            raise errors.could_not_set(failed)

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
        await self.mon_command("quorum_status")

        async def body() -> None:
            await self.task_mon_command(
                "osd pool create", pool=name, pg_num=int(wanted["pg_num"]), pool_type="replicated"
            )
            await self._set_pool(name, wanted, application)
            if v.get("add_storages"):
                self._add_pool_storage(name)

        return await self.task(node, "cephcreatepool", name, user, body, lock=False)

    def _add_pool_storage(self, name: str) -> None:
        if name in self.storages:
            raise TaskError(
                f"adding PVE storage for ceph pool '{name}' failed: create storage failed: "
                f"storage ID '{name}' already defined"
            )
        self.storages[name] = {
            "type": "rbd",
            "pool": name,
            "content": "rootdir,images",
            "krbd": 0,
            "active": 1,
            "shared": 1,
            "files": set(),
        }

    async def _pool_update(self, v: dict[str, Any], user: str) -> str:
        node, name = v["node"], v["name"]
        self.need_configured(node)
        wanted = pool_settings(v, defaults=False)

        async def body() -> None:
            await self._set_pool(name, wanted, v.get("application"))

        return await self.task(node, "cephsetpool", name, user, body, lock=False)

    def storages_of_pool(self, name: str) -> list[str]:
        return sorted(
            sid
            for sid, s in self.storages.items()
            if s.get("type") == "rbd" and name in (s.get("pool", "rbd"), s.get("data-pool"))
        )

    async def _pool_destroy(self, v: dict[str, Any], user: str) -> str:
        node, name = v["node"], v["name"]
        self.need_inited(node)

        async def body() -> None:
            storages = self.storages_of_pool(name)
            if not v.get("force"):
                for sid in storages:
                    if self.storages[sid].get("disable"):
                        raise TaskError(f"storage '{sid}' is disabled")
                    images = await in_thread(self.rbd.image_names, name)
                    if any(PVE_IMAGE.match(img) for img in images):  # only PVE's own images count
                        raise errors.pool_in_use(name, sid)
            try:
                await asyncio.to_thread(self.rados.mon_command, "osd pool get", pool=name, var="size")
            except RadosError as exc:
                raise errors.unrecognized_pool("osd pool get", name) from exc
            await self.task_mon_command("osd pool delete", pool=name, pool2=name, yes_i_really_really_mean_it=True)
            if v.get("remove_storages"):
                for sid in storages:
                    if not self.storages[sid].get("monhost"):
                        self.storages.pop(sid, None)

        return await self.task(node, "cephdestroypool", name, user, body, lock=False)
