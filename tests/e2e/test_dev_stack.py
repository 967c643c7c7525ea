"""The dev stack, end to end: the real pulumi engine, the proxmoxve plugin and our dynamic providers
against a fresh lab with real Ceph. One lab and one stack for the module; the tests run in order
(up, replication over the cluster network, no-op, planned diffs, drift, bad config, a cluster
network change, node failure, destroy), each leaving the stack as the next one expects.

The stack replicates over a separate cluster network, as the seed recommends and Pulumi.dev.yaml's
comment shows: every lab node has an address on one (lab/spec.py).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

HA_VMS = {101: "app1", 102: "app2"}
MOVED_VM = 103


@dataclass
class DevStack:
    lab: Lab
    project: PulumiProject
    up_seconds: float


@pytest.fixture(scope="module")
def dev(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    lab = lab_factory("--pve-version", "9")  # Ceph not even installed: the stack does everything
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    config["config"]["proxmox-hci:clusterNetwork"] = "env:PROXMOX_HCI_CLUSTER_NETWORK"
    project = PulumiProject.create(
        tmp_path_factory.mktemp("dev"), "dev", config, engine_bin(), lab_environment(lab.info.state_dir)
    )
    start = time.monotonic()
    project.up()
    yield DevStack(lab=lab, project=project, up_seconds=time.monotonic() - start)
    lab_factory.stop(lab)


def ceph_json(lab: Lab, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def vm_nodes(lab: Lab) -> dict[int, dict[str, Any]]:
    return {r["vmid"]: r for r in lab.api().cluster.resources.get(type="vm")}


# -- 1. up from nothing -----------------------------------------------------------------------------


def test_up_builds_the_hci_cluster_ceph_says_so(dev: DevStack) -> None:
    lab = dev.lab
    status = ceph_json(lab, "status")
    assert status["health"]["status"] == "HEALTH_OK", status["health"]
    assert sorted(status["quorum_names"]) == ["pve1", "pve2", "pve3"]
    mgrs = ceph_json(lab, "mgr", "dump")
    assert mgrs["available"] and len(mgrs["standbys"]) == 1
    osdmap = status["osdmap"]
    assert (osdmap["num_osds"], osdmap["num_up_osds"], osdmap["num_in_osds"]) == (3, 3, 3)
    assert ceph_json(lab, "osd", "pool", "get", "vm-pool", "size")["size"] == 3
    assert ceph_json(lab, "osd", "pool", "get", "vm-pool", "min_size")["min_size"] == 2
    storage = lab.api().storage("ceph-vm").get()
    assert (storage["type"], storage["pool"]) == ("rbd", "vm-pool")
    outputs = dev.project.outputs()
    assert outputs["osdCount"] == 3 and outputs["cephHealth"] == "HEALTH_OK"


def test_up_put_every_vm_disk_on_ceph_as_real_rbd_images(dev: DevStack) -> None:
    lab = dev.lab
    images = set(lab.rbd("ls", "vm-pool").split())
    resources = vm_nodes(lab)
    for vmid in (*HA_VMS, MOVED_VM):
        config = lab.api().nodes(resources[vmid]["node"]).qemu(vmid).config.get()
        volume = config["scsi0"].split(",")[0]
        assert volume.startswith("ceph-vm:"), (vmid, config["scsi0"])
        assert volume.split(":", 1)[1] in images


def test_the_moved_disk_left_local_storage_and_the_vm_kept_running(dev: DevStack) -> None:
    lab = dev.lab
    node = vm_nodes(lab)[MOVED_VM]["node"]
    assert lab.api().nodes(node).qemu(MOVED_VM).status.current.get()["status"] == "running"
    local = lab.api().nodes(node).storage("local-lvm").content.get()
    assert not [v for v in local if v.get("vmid") == MOVED_VM]
    moves = [t for t in lab.tasks() if t["type"] == "qmmove" and t["id"] == str(MOVED_VM)]
    assert len(moves) == 1 and moves[0]["exitstatus"] == "OK"
    # The VM was never stopped for the move: no stop or shutdown task for it.
    assert not [t for t in lab.tasks() if t["id"] == str(MOVED_VM) and t["type"] in ("qmstop", "qmshutdown")]


def test_ha_resources_exist_with_their_settings(dev: DevStack) -> None:
    resources = {r["sid"]: r for r in dev.lab.api().cluster.ha.resources.get()}
    for vmid, name in HA_VMS.items():
        res = resources[f"vm:{vmid}"]
        assert (res["state"], res["max_restart"], res["max_relocate"]) == ("started", 2, 2)
        assert name in res["comment"]
    rules = dev.lab.api().cluster.ha.rules.get()
    assert [r["rule"] for r in rules] == ["hci-nodes"]


# -- 1b. two networks --------------------------------------------------------------------------------


def addr_ips(addrs: dict[str, Any]) -> set[str]:
    """The IPs of an address vector of `ceph osd dump` (v2 and v1 entries)."""
    return {entry["addr"].rsplit(":", 1)[0] for entry in addrs["addrvec"]}


def in_net(ips: set[str], network: str) -> bool:
    return bool(ips) and all(ipaddress.ip_address(ip) in ipaddress.ip_network(network) for ip in ips)


def socket_ip(address: str) -> str:
    """The IP of an `ss` address column: '10.0.0.1:6800' -> '10.0.0.1', '[::ffff:127.0.0.1]:8006' ->
    '127.0.0.1' (an IPv4-mapped IPv6 socket, as other programs on the machine may hold)."""
    ip = address.rsplit(":", 1)[0].strip("[]")
    return ip.removeprefix("::ffff:") if "." in ip else ip


def tcp_bytes(between: Callable[[str, str], bool]) -> int:
    """Bytes received by every established TCP socket whose (local, peer) IPs pass `between`: from the
    kernel (`ss -tin`), so each direction of a connection is counted once, by the side it reached."""
    out = subprocess.run(["ss", "-Htin", "state", "established"], capture_output=True, text=True, check=True)
    total, pair = 0, None
    for line in out.stdout.splitlines():
        if not line.startswith(("\t", " ")):
            fields = line.split()
            pair = (socket_ip(fields[2]), socket_ip(fields[3])) if len(fields) >= 4 else None
            continue
        received = re.search(r"bytes_received:(\d+)", line)
        if pair and received and between(*pair):
            total += int(received.group(1))
    return total


def test_every_osd_binds_its_cluster_side_in_the_cluster_network(dev: DevStack) -> None:
    lab = dev.lab
    osds = ceph_json(lab, "osd", "dump")["osds"]
    assert len(osds) == 3
    for osd in osds:
        assert in_net(addr_ips(osd["cluster_addrs"]), lab.cluster_network), osd
        assert in_net(addr_ips(osd["heartbeat_back_addrs"]), lab.cluster_network), osd
        assert in_net(addr_ips(osd["public_addrs"]), lab.public_network), osd
        assert in_net(addr_ips(osd["heartbeat_front_addrs"]), lab.public_network), osd
    assert f"cluster_network = {lab.cluster_network}" in lab.api().nodes("pve1").ceph.cfg.raw.get().replace("\t", "")


def test_replication_crosses_the_cluster_network(dev: DevStack) -> None:
    """The primary sends each write to the two other copies over their cluster addresses, which the
    kernel's sockets show carrying it; the public side between the nodes carries no such volume."""
    lab = dev.lab
    cluster, public = ipaddress.ip_network(lab.cluster_network), ipaddress.ip_network(lab.public_network)
    nodes = {ip for o in ceph_json(lab, "osd", "dump")["osds"] for ip in addr_ips(o["public_addrs"])}

    def on_cluster(local: str, peer: str) -> bool:
        return ipaddress.ip_address(local) in cluster and ipaddress.ip_address(peer) in cluster

    def node_to_node(local: str, peer: str) -> bool:
        return local in nodes and peer in nodes and ipaddress.ip_address(local) in public

    written = 16 * 2**20
    before = tcp_bytes(on_cluster), tcp_bytes(node_to_node)
    lab.rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-total", str(written), "vm-pool/vm-101-disk-0")
    replicated = tcp_bytes(on_cluster) - before[0]
    between_nodes_public = tcp_bytes(node_to_node) - before[1]
    assert replicated >= 2 * written, (replicated, between_nodes_public)
    assert between_nodes_public < written // 2, (replicated, between_nodes_public)


# -- 2. a second up changes nothing -----------------------------------------------------------------


def test_second_up_changes_nothing(dev: DevStack) -> None:
    dev.lab.control("POST", "/lab/requests/reset")
    dev.project.up("--expect-no-changes")
    writes = {k: n for k, n in dev.lab.request_counts().items() if k[0] != "GET"}
    assert writes == {}, f"a no-op up wrote to the cluster: {writes}"


# -- 3. preview shows exactly the intended operation -----------------------------------------------


def _planned_after(dev: DevStack, change: Any) -> dict[str, str]:
    original = dev.project.read_config()
    try:
        dev.project.edit_config(change)
        return {k: op for k, op in dev.project.planned_ops().items() if op != "same"}
    finally:
        dev.project.write_config(original)


def test_pool_min_size_change_is_an_update_in_place(dev: DevStack) -> None:
    def change(config: dict[str, Any]) -> None:
        config["proxmox-hci:pools"][0]["minSize"] = 3

    planned = _planned_after(dev, change)
    # The pool is updated in place; the health gate after the pools waits again (its trigger changed).
    assert planned == {
        "pulumi-python:dynamic/ceph:Pool::hci-ceph-pool-vm-pool": "update",
        "pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-ready": "update",
    }, planned


def test_vm_node_change_is_a_live_migration_not_a_replacement(dev: DevStack) -> None:
    def change(config: dict[str, Any]) -> None:
        next(v for v in config["proxmox-hci:vms"] if v["name"] == "legacy1")["node"] = "pve2"

    planned = _planned_after(dev, change)
    assert list(planned.values()) == ["update"], planned
    assert next(iter(planned)).startswith("proxmoxve:index/vmLegacy:VmLegacy::")


def test_disk_storage_change_is_the_disk_move(dev: DevStack) -> None:
    def change(config: dict[str, Any]) -> None:
        # A second RBD storage to move legacy1's running disk to.
        config["proxmox-hci:pools"].append(
            {"name": "fast-pool", "size": 3, "minSize": 2, "storage": {"name": "ceph-fast", "content": ["images"]}}
        )
        next(v for v in config["proxmox-hci:vms"] if v["name"] == "legacy1")["disks"][0]["moveTo"] = "ceph-fast"

    planned = _planned_after(dev, change)
    moves = {k: op for k, op in planned.items() if ":DiskMove::" in k}
    assert list(moves.values()) == ["update"], planned
    assert not [k for k in planned if "VmLegacy" in k], planned  # no second move, no replace, no power-off
    assert {op for k, op in planned.items() if ":DiskMove::" not in k} <= {"create", "update"}, planned


# -- 4. drift ---------------------------------------------------------------------------------------


def test_pool_size_drift_shows_in_refresh_and_up_puts_it_back(dev: DevStack) -> None:
    lab = dev.lab
    upid = lab.api().nodes("pve1").ceph.pool("vm-pool").put(size=2, min_size=2)
    wait_for("the size change", lambda: ceph_json(lab, "osd", "pool", "get", "vm-pool", "size")["size"] == 2)
    assert upid
    refresh = dev.project.run("refresh", "--yes", "--diff")
    assert "hci-ceph-pool-vm-pool" in refresh.stdout and "size" in refresh.stdout
    dev.project.up()
    assert ceph_json(lab, "osd", "pool", "get", "vm-pool", "size")["size"] == 3
    dev.project.preview("--expect-no-changes")


# -- 8. bad config fails before any request ---------------------------------------------------------


def test_bad_config_fails_preview_with_the_models_message_and_no_request(dev: DevStack) -> None:
    original = dev.project.read_config()
    dev.lab.control("POST", "/lab/requests/reset")
    try:
        dev.project.edit_config(lambda c: c["proxmox-hci:pools"][0].update(minSize=4))
        out = dev.project.preview(check=False)
    finally:
        dev.project.write_config(original)
    assert out.returncode != 0
    assert "pools[0].minSize" in out.stdout + out.stderr
    assert dev.lab.request_counts() == {}


# -- 6. a cluster network change --------------------------------------------------------------------


def test_a_cluster_network_change_is_an_update_of_init_and_preview_says_what_it_restarts(dev: DevStack) -> None:
    original = dev.project.read_config()
    try:
        dev.project.edit_config(lambda c: c.pop("proxmox-hci:clusterNetwork"))
        preview = dev.project.preview_json()
    finally:
        dev.project.write_config(original)
    planned = {
        f"{s['urn'].split('::')[-2].rsplit('$', 1)[-1]}::{s['urn'].split('::')[-1]}": s["op"]
        for s in preview["steps"]
        if s["op"] != "same"
    }
    assert planned == {"pulumi-python:dynamic/ceph:Init::hci-ceph-init": "update"}, planned
    warnings = [d["message"] for d in preview.get("diagnostics", []) if d.get("severity") == "warning"]
    notice = next((w for w in warnings if "ok-to-stop" in w), "")
    assert f"cluster_network {dev.lab.cluster_network} -> unset (the public network)" in notice, warnings
    assert "one node at a time" in notice and "noout" in notice


def test_moving_replication_back_to_the_public_network_restarts_the_osds_one_node_at_a_time(dev: DevStack) -> None:
    lab = dev.lab
    before = {t["upid"] for t in lab.tasks()}
    dev.project.edit_config(lambda c: c.pop("proxmox-hci:clusterNetwork"))
    dev.project.up()
    osds = ceph_json(lab, "osd", "dump")
    assert all(in_net(addr_ips(o["cluster_addrs"]), lab.public_network) for o in osds["osds"]), osds["osds"]
    assert "noout" not in osds["flags"]
    restarts = [t for t in lab.tasks() if t["type"] == "srvrestart" and t["upid"] not in before]
    assert [t["node"] for t in restarts] == ["pve1", "pve2", "pve3"]
    assert all(t["exitstatus"] == "OK" for t in restarts)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(restarts))
    wait_for("HEALTH_OK", lambda: ceph_json(lab, "status")["health"]["status"] == "HEALTH_OK", timeout=120)
    dev.project.preview("--expect-no-changes")


# -- 5. node failure drill --------------------------------------------------------------------------


def test_node_failure_ha_recovers_ceph_degrades_but_serves_and_no_replacement_is_planned(dev: DevStack) -> None:
    lab = dev.lab
    victim = vm_nodes(lab)[101]["node"]
    lab.fail_node(victim)
    try:
        moved = wait_for(
            "HA to restart the VMs of the failed node elsewhere",
            lambda: all(
                r["node"] != victim and r["status"] == "running" for vmid, r in vm_nodes(lab).items() if vmid in HA_VMS
            ),
            timeout=120,
        )
        assert moved
        status = wait_for(
            "Ceph to notice", lambda: (s := ceph_json(lab, "status"))["osdmap"]["num_up_osds"] == 2 and s, timeout=60
        )
        assert status["health"]["status"] == "HEALTH_WARN"
        # Degraded but serving: the VM disks are readable and writable with two of three copies.
        lab.rbd("bench", "--io-type", "write", "--io-total", "4M", "vm-pool/vm-101-disk-0")
        planned = dev.project.planned_ops()
        replaced = {k: op for k, op in planned.items() if op in ("replace", "create-replacement", "delete-replaced")}
        assert replaced == {}, replaced
        vms = {k: op for k, op in planned.items() if "VmLegacy" in k}
        assert set(vms.values()) <= {"same"}, vms
    finally:
        lab.recover_node(victim)
    wait_for("HEALTH_OK again", lambda: ceph_json(lab, "status")["health"]["status"] == "HEALTH_OK", timeout=180)


# -- 7. destroy -------------------------------------------------------------------------------------


def test_destroy_stops_at_protected_resources(dev: DevStack) -> None:
    lab = dev.lab
    refused = dev.project.run("destroy", "--yes", check=False)
    assert refused.returncode != 0 and "protected" in (refused.stdout + refused.stderr)
    assert lab.api().cluster.ha.resources.get()  # nothing was deleted
    dev.project.run("destroy", "--yes", "--exclude-protected")
    assert lab.api().cluster.ha.resources.get() == []
    assert set(vm_nodes(lab)) == {*HA_VMS, MOVED_VM}  # the VMs and their data stay
    assert "vm-pool" in lab.ceph("osd", "pool", "ls").split()
    assert ceph_json(lab, "status")["osdmap"]["num_up_osds"] == 3
