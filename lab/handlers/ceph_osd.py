"""OSDs and disks (PVE/API2/Ceph/OSD.pm, pve-storage API2/Disks.pm): create, destroy, in/out, the tree."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from lab import errors
from lab.errors import TaskError
from lab.handlers.base import CEPH_OSD_BIN, CEPH_VOLUME_BIN, LabArea, Route
from lab.pve_formats import ceph_version_short
from lab.spec import Disk
from lab.worker import in_thread

# The system disk every node shows first, as an installed PVE node does.
SYSTEM_DISK = Disk(devpath="/dev/sda", size=64 * 1024**3, type="ssd")


class CephOsdApi(LabArea):
    def _routes_ceph_osd(self) -> list[Route]:
        osd = "/nodes/{node}/ceph/osd"
        return [
            ("GET", osd, self._osd_tree),
            ("POST", osd, self._osd_create),
            ("DELETE", osd + "/{osdid}", self._osd_destroy),
            ("POST", osd + "/{osdid}/in", self._osd_in),
            ("POST", osd + "/{osdid}/out", self._osd_out),
            ("POST", osd + "/{osdid}/scrub", self._osd_scrub),
            ("GET", osd + "/{osdid}/metadata", self._osd_metadata),
            ("GET", "/nodes/{node}/disks/list", self._disks_list),
            ("PUT", "/nodes/{node}/disks/wipedisk", self._wipedisk),
        ]

    # -- root@pam only ----------------------------------------------------------------------------

    @staticmethod
    def need_root_login(user: str) -> None:
        """createosd, destroyosd and wipedisk declare no permissions: only the root@pam *login* passes.

        For an API token PVE's "user" is the whole token id, so even root's tokens get 403.
        """
        if user != "root@pam":
            raise errors.forbidden("user != root@pam")

    # -- disks ----------------------------------------------------------------------------------

    def _disk(self, node: str, path: str) -> Disk:
        """The node's disk a path names: its devpath or any udev link to it (createosd resolves the path
        with verify_blockdev_path, pve-storage Diskmanage.pm; wipedisk takes it as given)."""
        for disk in self.cluster.spec.node(node).disks:
            if disk.answers_to(path):
                return disk
        raise errors.device_unknown(path)

    async def _disks_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        """pve-storage Diskmanage.pm get_disks: `osdid` is the LV tag `ceph.osd_id` (a string; -1 without
        one), there whether or not that OSD still exists; `by_id_link` only for ata/scsi/nvme links.
        `skipsmart` only spares smartctl, whose `health` the lab has no real answer for anyway."""
        node = v["node"]
        out = [
            {
                "devpath": SYSTEM_DISK.devpath,
                "size": SYSTEM_DISK.size,
                "used": "BIOS boot",
                "gpt": 1,
                "mounted": 1,
                "osdid": -1,
                "osdid-list": None,
                "type": "ssd",
                "health": "PASSED",
                "vendor": "ATA",
                "model": "QEMU_HARDDISK",
                "serial": f"QM000{node[-2:]}",
                "wwn": "unknown",
                "rpm": 0,
                "wearout": 100,
                "by_id_link": f"/dev/disk/by-id/ata-QEMU_HARDDISK_QM000{node[-2:]}",
            }
        ]
        for disk in self.cluster.spec.node(node).disks:
            # A failed disk still shows (lsblk lists it), with SMART's verdict; its contents cannot be read.
            failed = self.backend.disk_failed(node, disk)
            tags = await asyncio.to_thread(self.backend.lv_tags, node, disk)
            in_use = tags is not None or (not failed and await asyncio.to_thread(self.backend.disk_in_use, node, disk))
            item: dict[str, Any] = {
                "devpath": disk.devpath,
                "size": disk.size,
                "gpt": 0,
                "mounted": 0,
                "osdid": tags.osd_id if tags else -1,
                "osdid-list": [tags.osd_id] if tags else None,
                "type": disk.media,
                "health": "FAILED" if failed else ("UNKNOWN" if v.get("skipsmart") else "PASSED"),
                "vendor": "0x1af4" if disk.type == "virtio" else ("NVMe" if disk.type == "nvme" else "ATA"),
                "model": {"nvme": "QEMU NVMe Ctrl", "virtio": ""}.get(disk.type, "QEMU_HARDDISK"),
                "serial": disk.serial,
                "wwn": disk.wwn,
                "rpm": 7200 if disk.media == "hdd" and disk.type != "virtio" else (-1 if disk.type == "virtio" else 0),
                "wearout": "N/A" if v.get("skipsmart") else 100,
            }
            if disk.by_id_link:
                item["by_id_link"] = disk.by_id_link
            if in_use:
                item["used"] = "LVM"
            if tags:
                item["bluestore"] = 1
                item["osdencrypted"] = 1 if tags.encrypted else 0
            out.append(item)
        if v.get("type") == "unused":
            out = [d for d in out if not d.get("used")]
        return out

    async def _wipedisk(self, v: dict[str, Any], user: str) -> str:
        self.need_root_login(user)
        node, devpath = v["node"], v["disk"]
        disk = self._disk(node, devpath)
        # pve-storage API2/Disks.pm wipe_disk: `has_holder` (an OSD's LV, live or left over) refuses it.
        if await asyncio.to_thread(self.backend.lv_tags, node, disk) is not None:
            raise errors.disk_has_holder(disk.devpath)

        async def body() -> str:
            await in_thread(self.backend.wipe_disk, node, disk)
            return f"wiping disk/partition: {disk.devpath}"

        return await self.task(node, "wipedisk", disk.name, user, body, lock=False)

    # -- create ---------------------------------------------------------------------------------

    def _check_osd_network(self, node: str) -> None:
        """createosd: the node needs an address in cluster_network, else public_network (PVE/API2/Ceph/OSD.pm,
        PVE::Network::get_local_ip_from_cidr over every address of the node)."""
        conf = self.backend.config().get("global", {})
        network = conf.get("cluster_network") or conf.get("public_network")
        if not network:
            return
        net = ipaddress.ip_network(network, strict=False)
        if not any(ipaddress.ip_address(ip) in net for ip in self.cluster.spec.node(node).addresses):
            raise errors.no_cluster_address(network, node)

    async def _osd_create(self, v: dict[str, Any], user: str) -> str:
        self.need_root_login(user)
        node = v["node"]
        self.need_inited(node)
        self.need_installed(node, CEPH_OSD_BIN)
        self.need_installed(node, CEPH_VOLUME_BIN)
        self._check_osd_network(node)
        devs = [("dev", v["dev"]), ("db_dev", v.get("db_dev")), ("wal_dev", v.get("wal_dev"))]
        seen: set[str] = set()
        for _kind, dev in devs:
            if dev and dev in seen:
                raise errors.param(dev=f"cannot chose '{dev}' for more than one type.")
            if dev:
                seen.add(dev)
        disk = self._disk(node, v["dev"])
        if self.backend.disk_failed(node, disk):
            raise errors.die(f"unable to read {disk.devpath}: Input/output error")
        if await asyncio.to_thread(self.backend.disk_in_use, node, disk):
            raise errors.device_in_use(disk.devpath)
        if v.get("db_dev") or v.get("wal_dev"):
            # BlueStore could put block.db on a second file, but PVE does it through LVM on the db device;
            # the lab does not model that yet and says so rather than pretending.
            raise errors.die("lab: separate db_dev/wal_dev devices are not modelled by the lab")
        await self.ceph_command(self.ceph_mons.quorum_names)
        device_class = v.get("crush-device-class")
        encrypted = bool(v.get("encrypted"))

        async def create() -> str:
            if await asyncio.to_thread(self.backend.disk_in_use, node, disk):
                raise TaskError(f"device '{disk.devpath}' is already in use")
            osd_id = await in_thread(self.backend.create_osd, node, disk, device_class, encrypted)
            return f"created OSD osd.{osd_id} on {disk.devpath}"

        async def body() -> str:
            return await self.locks.disk(node).run(create, errors.disk_lock_timeout())

        return await self.task(node, "cephcreateosd", disk.name, user, body, lock=False)

    # -- read -----------------------------------------------------------------------------------

    async def _osd_facts(
        self,
    ) -> tuple[dict[str, Any], dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
        tree = await self.ceph_command(self.ceph_osds.tree)
        dump = {o["osd"]: o for o in (await self.ceph_command(self.ceph_osds.dump))["osds"]}
        df = {o["id"]: o for o in await self.ceph_command(self.ceph_osds.df)}
        meta = {int(m["id"]): m for m in await self.ceph_command(self.ceph_osds.metadata)}
        return tree, dump, df, meta

    async def _osd_tree(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.need_inited(v["node"])
        tree, dump, df, meta = await self._osd_facts()
        nodes = {n["id"]: n for n in tree["nodes"]}
        hosts = {child: n["name"] for n in tree["nodes"] if n["type"] == "host" for child in n.get("children", [])}

        def build(item: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"id": item["id"], "name": item["name"], "type": item["type"]}
            if item["type"] == "osd":
                osd_id = item["id"]
                state, usage, m = dump.get(osd_id, {}), df.get(osd_id, {}), meta.get(osd_id, {})
                version = m.get("ceph_version", "")
                out.update(
                    {
                        "host": hosts.get(osd_id, ""),
                        "status": "up" if state.get("up") else "down",
                        "in": 1 if state.get("in") else 0,
                        "crush_weight": item.get("crush_weight", 0),
                        "reweight": item.get("reweight", 0),
                        "device_class": item.get("device_class", ""),
                        "pgs": usage.get("pgs", 0),
                        "total_space": usage.get("kb", 0) * 1024,
                        "bytes_used": usage.get("kb_used", 0) * 1024,
                        "percent_used": usage.get("utilization", 0),
                        "commit_latency_ms": 0,
                        "apply_latency_ms": 0,
                        "osdtype": m.get("osd_objectstore", "bluestore"),
                        "blfsdev": m.get("bluestore_bdev_dev_node", ""),
                        "ceph_version": version,
                        "ceph_version_short": ceph_version_short(version),
                        "leaf": 1,
                    }
                )
            else:
                out["children"] = [build(nodes[c]) for c in item.get("children", []) if c in nodes]
                out["leaf"] = 0
            return out

        # CRUSH's tree only, as PVE's index (pve-manager PVE/API2/Ceph/OSD.pm) reads `osd tree`'s nodes and
        # not its strays: an OSD created but not booted yet (no CRUSH location) is not listed.
        roots = [build(n) for n in tree["nodes"] if n["type"] == "root"]
        result: dict[str, Any] = {"root": {"leaf": 0, "children": roots}}
        flags = (await self.ceph_command(self.ceph_osds.dump)).get("flags", "")
        if flags:
            result["flags"] = flags
        return result

    async def _osd_metadata(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        node, osd_id = v["node"], int(v["osdid"])
        self.need_inited(node)
        placed = {d["id"]: d for d in self.backend.daemons() if d["kind"] == "osd"}
        daemon = placed.get(str(osd_id))
        if daemon is None or daemon["node"] != node:
            raise errors.osd_metadata_wrong_host(osd_id, node)
        meta = await self.ceph_command(self.ceph_osds.metadata_of, osd_id)
        return {
            "osd": {
                "hostname": node,
                "id": osd_id,
                "osd_data": meta.get("osd_data"),
                "osd_objectstore": meta.get("osd_objectstore"),
                "version": meta.get("ceph_version"),
                "front_addr": meta.get("front_addr"),
                "back_addr": meta.get("back_addr"),
                "hb_front_addr": meta.get("hb_front_addr"),
                "hb_back_addr": meta.get("hb_back_addr"),
                "mem_usage": 0,
            },
            "devices": [
                {
                    "device": "block",
                    "dev_node": meta.get("bluestore_bdev_dev_node", ""),
                    # On a node: the disk under the OSD's LV (bluestore_bdev_devices, e.g. sdb). The lab's
                    # OSD sits on a file, so the disk it stands for is named instead.
                    "physical_device": str(daemon.get("disk") or "").removeprefix("/dev/"),
                    "size": int(meta.get("bluestore_bdev_size", 0)),
                    "support_discard": 0,
                    "type": meta.get("bluestore_bdev_type", "ssd"),
                }
            ],
        }

    # -- in / out / scrub -------------------------------------------------------------------------

    async def _existing_osd(self, node: str, raw_id: Any) -> int:
        self.need_inited(node)
        osd_id = int(raw_id)
        if osd_id not in await self.ceph_command(self.ceph_osds.states):
            raise errors.no_such_osd(osd_id)
        return osd_id

    async def _osd_in(self, v: dict[str, Any], user: str) -> None:
        osd_id = await self._existing_osd(v["node"], v["osdid"])
        await self.ceph_command(self.ceph_osds.mark_in, osd_id)

    async def _osd_out(self, v: dict[str, Any], user: str) -> None:
        osd_id = await self._existing_osd(v["node"], v["osdid"])
        await self.ceph_command(self.ceph_osds.mark_out, osd_id)

    async def _osd_scrub(self, v: dict[str, Any], user: str) -> None:
        osd_id = await self._existing_osd(v["node"], v["osdid"])
        await self.ceph_command(self.ceph_osds.scrub, osd_id, bool(v.get("deep")))

    # -- destroy --------------------------------------------------------------------------------

    async def _osd_destroy(self, v: dict[str, Any], user: str) -> str:
        self.need_root_login(user)
        node, osd_id = v["node"], int(v["osdid"])
        self.need_inited(node)
        tree = await self.ceph_command(self.ceph_osds.tree)
        host = next((n for n in tree["nodes"] if n["type"] == "host" and n["name"] == node), None)
        states = await self.ceph_command(self.ceph_osds.states)
        if host is None or osd_id not in host.get("children", []):
            if osd_id not in states:
                raise errors.no_such_osd(osd_id)
            raise errors.osd_not_on_node(osd_id, node)
        if states[osd_id].in_:
            raise errors.osd_in_use()
        if states[osd_id].up:
            raise errors.osd_running()
        cleanup = bool(v.get("cleanup"))

        async def body() -> str:
            await in_thread(self.backend.destroy_osd, osd_id, cleanup)
            return f"destroyed OSD osd.{osd_id}" + (" and wiped its disk" if cleanup else "")

        return await self.task(node, "cephdestroyosd", f"osd.{osd_id}", user, body, lock=False)
