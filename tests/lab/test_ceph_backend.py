"""lab.ceph_backend: ceph.conf rendering (pure) and a real 3-node cluster built step by step.

The `lab`-marked tests share one cluster for the whole module and run in file order, each step
building on the previous one (init, MONs, MGRs, OSDs, pool, failures, removal). The fixture
always stops every daemon by PID at the end, whatever happened.
"""

from __future__ import annotations

import random
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.ceph_backend import CephBackend, CephBackendError, CephCommandError, conf, disks, tuning
from lab.ceph_backend.layout import Layout
from lab.processes import ProcessTracker, is_ours
from lab.spec import Disk, LabSpec, build_spec
from tests.waiting import wait_for

# -- pure: ceph.conf ----------------------------------------------------------------------------------

KEYRING = "/x/priv/$cluster.$name.keyring"


def _init(sections: conf.Sections | None = None, **kw: Any) -> conf.Sections:
    args: dict[str, Any] = {
        "public_network": "10.0.0.0/24",
        "cluster_network": None,
        "size": 3,
        "min_size": 2,
        "client_keyring": KEYRING,
        "fsid": "f5e1c2a4-0000-4000-8000-000000000001",
    }
    return conf.with_init(sections or {}, **(args | kw))


def test_first_init_writes_pve_global_section() -> None:
    sections = _init()
    assert sections["global"] == {
        "auth_client_required": "cephx",
        "auth_cluster_required": "cephx",
        "auth_service_required": "cephx",
        "fsid": "f5e1c2a4-0000-4000-8000-000000000001",
        "osd_pool_default_size": "3",
        "osd_pool_default_min_size": "2",
        "mon_allow_pool_delete": "true",
        "public_network": "10.0.0.0/24",
        "cluster_network": "10.0.0.0/24",
    }  # network sets both
    assert sections["client"] == {"keyring": KEYRING}


def test_repeat_init_keeps_fsid_and_defaults_and_rewrites_networks() -> None:
    first = _init()
    again = _init(
        first, public_network="10.1.0.0/24", cluster_network="10.2.0.0/24", size=2, min_size=1, fsid="another"
    )
    assert again["global"]["fsid"] == first["global"]["fsid"]
    assert again["global"]["osd_pool_default_size"] == "3"
    assert again["global"]["osd_pool_default_min_size"] == "2"
    assert (again["global"]["public_network"], again["global"]["cluster_network"]) == ("10.1.0.0/24", "10.2.0.0/24")
    assert first["global"]["public_network"] == "10.0.0.0/24"  # the input is not modified


def test_init_without_fsid_makes_a_uuid() -> None:
    fsid = conf.with_init(
        {}, public_network="10.0.0.0/24", cluster_network=None, size=3, min_size=2, client_keyring=KEYRING
    )["global"]["fsid"]
    assert len(fsid) == 36 and fsid.count("-") == 4


def test_render_is_pve_layout_and_parses_back() -> None:
    sections = conf.with_mon(_init(), "pve1", "10.0.0.11")
    text = conf.render(sections)
    assert text.startswith("[global]\n\tauth_client_required = cephx\n")
    assert text.index("[global]") < text.index("[client]") < text.index("[mon.pve1]")
    assert "\n\n[client]\n\tkeyring = /x/priv/$cluster.$name.keyring\n" in text
    assert conf.parse(text) == sections


def test_parse_normalises_keys_and_skips_comments() -> None:
    text = "# comment\n[global]\n  mon host = 1.2.3.4\n; other\n\tosd-pool-default-size=2\n[client]\nkeyring = k\n"
    assert conf.parse(text) == {
        "global": {"mon_host": "1.2.3.4", "osd_pool_default_size": "2"},
        "client": {"keyring": "k"},
    }


def test_with_mon_appends_v2_v1_addrvec_and_public_addr() -> None:
    one = conf.with_mon(_init(), "pve1", "10.0.0.11")
    two = conf.with_mon(one, "pve2", "10.0.0.12")
    assert two["global"]["mon_host"] == "[v2:10.0.0.11:3300,v1:10.0.0.11:6789] [v2:10.0.0.12:3300,v1:10.0.0.12:6789]"
    assert two["mon.pve2"] == {"public_addr": "10.0.0.12"}
    assert (two["global"]["ms_bind_ipv4"], two["global"]["ms_bind_ipv6"]) == ("true", "false")
    # the same IP again replaces its entry instead of duplicating it
    assert conf.with_mon(two, "pve2", "10.0.0.12")["global"]["mon_host"] == two["global"]["mon_host"]


def test_without_mon_drops_section_and_mon_host_entry() -> None:
    two = conf.with_mon(conf.with_mon(_init(), "pve1", "10.0.0.11"), "pve2", "10.0.0.12")
    one = conf.without_mon(two, "pve2", None)  # the IP comes from [mon.pve2] public_addr
    assert one["global"]["mon_host"] == "[v2:10.0.0.11:3300,v1:10.0.0.11:6789]"
    assert "mon.pve2" not in one
    assert "mon_host" not in conf.without_mon(one, "pve1", "10.0.0.11")["global"]


@pytest.mark.parametrize(
    ("value", "ips"),
    [
        ("10.0.0.1 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),  # PVE's plain form
        ("10.0.0.1,10.0.0.2:6789", ["10.0.0.1", "10.0.0.2"]),  # comma separated, with a port
        ("[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0] [v2:10.0.0.2:3300,v1:10.0.0.2:6789]", ["10.0.0.1", "10.0.0.2"]),
        ("", []),
    ],
)
def test_mon_host_entries(value: str, ips: list[str]) -> None:
    assert [conf.entry_ip(e) for e in conf.mon_host_entries(value)] == ips


@pytest.mark.parametrize(
    ("value", "ips"),
    [
        ("10.0.0.1 10.0.0.2:6789", {"10.0.0.1", "10.0.0.2"}),
        ("[v2:10.0.0.1:3300,v1:10.0.0.3:6789]", {"10.0.0.1", "10.0.0.3"}),  # every address of a vector
        (None, set()),  # no MON yet
    ],
)
def test_mon_host_ips(value: str | None, ips: set[str]) -> None:
    assert conf.mon_host_ips(value) == ips


def test_command_error_splits_ceph_errno_and_text() -> None:
    err = CephCommandError(2, "some noise\nError ENOENT: unrecognized pool 'x'\n", ["ceph", "osd", "pool", "get"])
    assert str(err) == "some noise\nError ENOENT: unrecognized pool 'x'"
    assert (err.errno_name, err.message, err.returncode) == ("ENOENT", "unrecognized pool 'x'", 2)


def test_tuning_args_are_single_argv_items() -> None:
    args = tuning.args_for("osd")
    assert all(a.startswith("--") and "=" in a for a in args)
    assert f"--osd_memory_target={896 * 1024**2}" in args


def test_disk_file_in_use_and_wipe(tmp_path: Path) -> None:
    path = disks.ensure(tmp_path / "pve1-sdb.img", 8 * 1024**3)
    assert path.stat().st_size == 8 * 1024**3 and path.stat().st_blocks == 0  # sparse
    assert not disks.in_use(path)
    with open(path, "r+b") as fh:
        fh.write(disks.BLUESTORE_MAGIC)
    assert disks.in_use(path) and disks.has_bluestore_label(path)
    disks.wipe(path, 8 * 1024**3)
    assert not disks.in_use(path) and path.stat().st_size == 8 * 1024**3


def test_long_roots_get_a_short_socket_dir(tmp_path: Path) -> None:
    layout = Layout(tmp_path / ("x" * 80) / "ceph")
    layout.ensure_dirs()
    try:
        assert len(str(layout.short_run / "mon.pve1.asok")) < 100
        assert layout.short_run.resolve() == layout.run
    finally:
        layout.remove_short_run()
    assert not layout.short_run.exists()


# -- real daemons -----------------------------------------------------------------------------------

needs_ceph = pytest.mark.skipif(
    shutil.which("ceph-mon") is None or shutil.which("ceph-osd") is None,
    reason="Debian's ceph-mon/ceph-osd are not installed",
)


@dataclass
class Cluster:
    backend: CephBackend
    spec: LabSpec
    tracker: ProcessTracker
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        start = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.timings[name] = round(time.monotonic() - start, 2)

    def ceph(self, *args: str) -> Any:
        return self.backend.command(*args)

    def disk(self, node: str) -> Disk:
        return self.spec.node(node).disks[0]


def _free_subnet() -> str:
    """A random 127.X.Y.0/24 whose first node address has nothing on the MON port."""
    for _ in range(100):
        x, y = random.randint(100, 250), random.randint(100, 250)
        with socket.socket() as sock:
            try:
                sock.bind((f"127.{x}.{y}.11", 3300))
            except OSError:
                continue
        return f"127.{x}.{y}.0/24"
    raise RuntimeError("no free 127.X.Y.0/24 found")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("cephlab")
    spec = build_spec(_free_subnet(), nodes=3, disks="512G,512G,1T")
    tracker = ProcessTracker(state)
    backend = CephBackend(state / "ceph", spec, tracker)
    cluster = Cluster(backend=backend, spec=spec, tracker=tracker)
    try:
        yield cluster
    finally:
        try:
            backend.shutdown()
        finally:
            tracker.stop_all(timeout=5)  # anything the backend did not know about, still by PID only
        print("\nceph_backend timings (s):", cluster.timings)


def _health(cluster: Cluster) -> dict[str, Any]:
    return dict(cluster.ceph("health"))


def _osd_tree_nodes(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in cluster.ceph("osd", "tree")["nodes"]}


@needs_ceph
@pytest.mark.lab
def test_init_writes_conf_and_keyrings(cluster: Cluster) -> None:
    b = cluster.backend
    assert not b.initialized()
    fsid = cluster.timed("init", b.init, cluster.spec.public_network, None, 3, 2)
    assert b.initialized()
    glob = b.config()["global"]
    assert glob["fsid"] == fsid and glob["osd_pool_default_size"] == "3" and glob["mon_allow_pool_delete"] == "true"
    assert glob["public_network"] == glob["cluster_network"] == cluster.spec.public_network
    assert b.admin_keyring.read_text().startswith("[client.admin]")
    # a repeat init keeps the fsid and rewrites the networks only
    assert b.init(cluster.spec.public_network, cluster.spec.public_network, 2, 1) == fsid
    assert b.config()["global"]["osd_pool_default_size"] == "3"
    assert "fsid = " + fsid in b.raw_conf()


@needs_ceph
@pytest.mark.lab
def test_three_mons_form_a_quorum(cluster: Cluster) -> None:
    b = cluster.backend
    for node in cluster.spec.nodes:
        # create_mon returns once the daemon is started (PVE's createmon); it joins in its own time.
        cluster.timed(f"mon.{node.name}", b.create_mon, node.name, node.name, node.ip)
    status = wait_for(
        "three MONs in quorum",
        lambda: len((s := cluster.ceph("quorum_status"))["quorum_names"]) == 3 and s,
        60,
        ignore=(CephCommandError,),
    )
    assert sorted(status["quorum_names"]) == ["pve1", "pve2", "pve3"]
    assert status["monmap"]["fsid"] == b.config()["global"]["fsid"]
    mon_host = b.config()["global"]["mon_host"]
    assert all(f"[v2:{n.ip}:3300,v1:{n.ip}:6789]" in mon_host for n in cluster.spec.nodes)
    for node in cluster.spec.nodes:  # each daemon reports its lab node as its host, as PVE expects
        assert cluster.ceph("mon", "metadata", node.name)["hostname"] == node.name
    with pytest.raises(CephBackendError, match="already exist"):
        b.create_mon("pve1", "pve1", cluster.spec.nodes[0].ip)


@needs_ceph
@pytest.mark.lab
def test_two_mgrs_one_active_one_standby(cluster: Cluster) -> None:
    for node in cluster.spec.nodes[:2]:
        cluster.timed(f"mgr.{node.name}", cluster.backend.create_mgr, node.name, node.name)
    dump = wait_for(
        "an active MGR with a standby",
        lambda: (d := cluster.ceph("mgr", "dump"))["available"] and d["standbys"] and d,
        30,
        ignore=(CephCommandError,),
    )
    assert {dump["active_name"], *[s["name"] for s in dump["standbys"]]} == {"pve1", "pve2"}


@needs_ceph
@pytest.mark.lab
def test_three_osds_one_per_host(cluster: Cluster) -> None:
    b = cluster.backend
    ids = {}
    for node in cluster.spec.nodes:
        assert not b.disk_in_use(node.name, node.disks[0])
        ids[node.name] = cluster.timed(f"osd@{node.name}", b.create_osd, node.name, node.disks[0], None)
        assert b.disk_in_use(node.name, node.disks[0])
        assert b.osd_ids_on(node.name) == {ids[node.name]: node.disks[0]}
    # Started, as ceph-volume leaves them; the CRUSH location, up and in come with their boot.
    wait_for(
        "3 OSDs up and in",
        lambda: (stat := cluster.ceph("osd", "stat"))["num_up_osds"] == stat["num_in_osds"] == 3,
        120,
        ignore=(CephCommandError,),
    )
    tree = _osd_tree_nodes(cluster)
    for node in cluster.spec.nodes:
        host = tree[node.name]
        assert host["type"] == "host" and host["children"] == [ids[node.name]]
        osd = tree[f"osd.{ids[node.name]}"]
        assert (osd["status"], osd["reweight"], osd["device_class"]) == ("up", 1.0, "ssd")
        metadata = cluster.ceph("osd", "metadata", str(ids[node.name]))
        assert (metadata["hostname"], metadata["osd_objectstore"]) == (node.name, "bluestore")
    # weight from the size, in TiB, as Ceph sets it
    assert tree[f"osd.{ids['pve3']}"]["crush_weight"] == pytest.approx(1.0, abs=0.01)
    assert tree[f"osd.{ids['pve1']}"]["crush_weight"] == pytest.approx(0.5, abs=0.01)
    with pytest.raises(CephBackendError, match="already in use"):
        b.create_osd("pve1", cluster.disk("pve1"), None)


@needs_ceph
@pytest.mark.lab
def test_size3_pool_goes_active_clean_and_health_ok(cluster: Cluster) -> None:
    def create() -> None:
        cluster.ceph("osd", "pool", "create", "tank", "128")
        cluster.ceph("osd", "pool", "application", "enable", "tank", "rbd")

        def clean() -> bool:
            summary = cluster.ceph("pg", "stat")["pg_summary"]
            states = {s["name"] for s in summary["num_pg_by_state"]}
            return summary["num_pgs"] >= 129 and states == {"active+clean"}

        wait_for("every PG active+clean", clean, 90, 0.3, ignore=(CephCommandError,))

    cluster.timed("pool active+clean", create)
    assert cluster.ceph("osd", "pool", "get", "tank", "size")["size"] == 3
    cluster.timed("HEALTH_OK", wait_for, "HEALTH_OK", lambda: _health(cluster)["status"] == "HEALTH_OK", 60)
    # Pacific's devicehealth pool carries the name Quincy+ (PVE 8/9) gives the MGR pool
    assert ".mgr" in [p["poolname"] for p in cluster.ceph("osd", "lspools")]
    bringup = sum(v for k, v in cluster.timings.items())
    print(f"\nbring-up to HEALTH_OK: {bringup:.1f} s")


@needs_ceph
@pytest.mark.lab
def test_rbd_with_conf_path(cluster: Cluster) -> None:
    b = cluster.backend
    b.rbd("create", "tank/vm-100-disk-0", "--size", "1G")
    assert b.rbd("ls", "-p", "tank") == ["vm-100-disk-0"]
    assert b.rbd("info", "tank/vm-100-disk-0")["size"] == 1024**3
    b.rbd("rm", "tank/vm-100-disk-0")
    assert b.rbd("ls", "-p", "tank") == []


@needs_ceph
@pytest.mark.lab
def test_memory_budget(cluster: Cluster) -> None:
    daemons = cluster.backend.daemons()
    assert sorted((d["kind"], d["node"]) for d in daemons if d["running"]) == [
        ("mgr", "pve1"),
        ("mgr", "pve2"),
        ("mon", "pve1"),
        ("mon", "pve2"),
        ("mon", "pve3"),
        ("osd", "pve1"),
        ("osd", "pve2"),
        ("osd", "pve3"),
    ]
    total = 0
    for d in daemons:
        status = Path(f"/proc/{d['pid']}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    print(f"\nRSS of 3 MONs, 2 MGRs, 3 OSDs: {total // 1024} MiB")
    assert total < 2 * 1024 * 1024  # kB


@needs_ceph
@pytest.mark.lab
def test_command_errors_carry_ceph_wording(cluster: Cluster) -> None:
    with pytest.raises(CephCommandError) as info:
        cluster.ceph("osd", "pool", "get", "nosuchpool", "size")
    assert info.value.errno_name == "ENOENT"
    assert info.value.message == "unrecognized pool 'nosuchpool'"


@needs_ceph
@pytest.mark.lab
def test_fail_node_degrades_and_recover_node_heals(cluster: Cluster) -> None:
    b = cluster.backend
    [osd_id] = b.osd_ids_on("pve3")
    start = time.monotonic()
    b.fail_node("pve3")
    assert not [d for d in b.daemons() if d["node"] == "pve3" and d["running"]]

    def osd_down() -> bool:
        return not next(o for o in cluster.ceph("osd", "dump")["osds"] if o["osd"] == osd_id)["up"]

    wait_for(f"osd.{osd_id} marked down", osd_down, 20, 0.3, ignore=(CephCommandError,))
    cluster.timings["fail_node -> osd down"] = round(time.monotonic() - start, 2)
    health = wait_for(
        "PG_DEGRADED", lambda: "PG_DEGRADED" in (h := _health(cluster))["checks"] and h, 30, ignore=(CephCommandError,)
    )
    assert health["status"] == "HEALTH_WARN"

    start = time.monotonic()
    b.recover_node("pve3")
    wait_for(
        "HEALTH_OK after recovery", lambda: _health(cluster)["status"] == "HEALTH_OK", 60, ignore=(CephCommandError,)
    )
    cluster.timings["recover_node -> HEALTH_OK"] = round(time.monotonic() - start, 2)
    assert len(cluster.ceph("quorum_status")["quorum_names"]) == 3


@needs_ceph
@pytest.mark.lab
def test_stop_and_start_osd(cluster: Cluster) -> None:
    b = cluster.backend
    [osd_id] = b.osd_ids_on("pve2")
    cluster.timed("stop_osd", b.stop_osd, osd_id)
    assert _osd_tree_nodes(cluster)[f"osd.{osd_id}"]["status"] == "down"
    cluster.timed("start_osd", b.start_osd, osd_id)
    assert _osd_tree_nodes(cluster)[f"osd.{osd_id}"]["status"] == "up"


@needs_ceph
@pytest.mark.lab
def test_destroy_osd_with_cleanup_frees_the_disk(cluster: Cluster) -> None:
    b = cluster.backend
    disk = cluster.disk("pve3")
    [osd_id] = b.osd_ids_on("pve3")
    cluster.ceph("osd", "out", str(osd_id))
    b.stop_osd(osd_id)
    cluster.timed("destroy_osd", b.destroy_osd, osd_id, True)
    tree = _osd_tree_nodes(cluster)
    assert f"osd.{osd_id}" not in tree and tree["pve3"]["children"] == []
    assert osd_id not in [o["osd"] for o in cluster.ceph("osd", "dump")["osds"]]
    assert b.osd_ids_on("pve3") == {}
    assert not b.disk_in_use("pve3", disk)
    # the freed disk takes a new OSD, and the cluster heals again
    new_id = cluster.timed("osd again", b.create_osd, "pve3", disk, "nvme")
    wait_for(
        "HEALTH_OK with the new OSD", lambda: _health(cluster)["status"] == "HEALTH_OK", 90, ignore=(CephCommandError,)
    )
    assert _osd_tree_nodes(cluster)[f"osd.{new_id}"]["device_class"] == "nvme"


@needs_ceph
@pytest.mark.lab
def test_destroy_osd_without_cleanup_keeps_disk_in_use(cluster: Cluster) -> None:
    b = cluster.backend
    disk = cluster.disk("pve3")
    [osd_id] = b.osd_ids_on("pve3")
    cluster.ceph("osd", "out", str(osd_id))
    b.stop_osd(osd_id)
    with pytest.raises(CephBackendError, match="has a holder"):
        b.wipe_disk("pve3", disk)
    b.destroy_osd(osd_id, False)
    assert b.disk_in_use("pve3", disk)  # the BlueStore label is still there
    # The LV and its `ceph.osd_id` tag stay too: wipedisk still refuses (API2/Disks.pm has_holder).
    assert b.lv_tags("pve3", disk) is not None
    with pytest.raises(CephBackendError, match="has a holder"):
        b.wipe_disk("pve3", disk)
    b.zap_disk("pve3", disk)  # ceph-volume lvm zap --destroy, on the node: the only way out
    assert not b.disk_in_use("pve3", disk) and b.lv_tags("pve3", disk) is None


@needs_ceph
@pytest.mark.lab
def test_failed_osd_create_leaves_nothing_behind(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    b = cluster.backend
    disk = cluster.disk("pve3")
    before = cluster.ceph("osd", "ls")

    def broken_start(meta: Any) -> int:
        raise RuntimeError("no power")

    monkeypatch.setattr(b.procs, "start", broken_start)  # fails after `osd new` and mkfs
    with pytest.raises(RuntimeError, match="no power"):
        b.create_osd("pve3", disk, None)
    assert cluster.ceph("osd", "ls") == before
    assert b.osd_ids_on("pve3") == {}
    assert not b.disk_in_use("pve3", disk)


@needs_ceph
@pytest.mark.lab
def test_destroy_mgr_and_mon(cluster: Cluster) -> None:
    b = cluster.backend
    b.destroy_mgr("pve2")
    assert [d for d in b.daemons() if d["kind"] == "mgr"] == [
        d for d in b.daemons() if d["kind"] == "mgr" and d["id"] == "pve1"
    ]
    assert "mgr.pve2" not in [e["entity"] for e in cluster.ceph("auth", "ls")["auth_dump"]]
    cluster.timed("destroy_mon", b.destroy_mon, "pve3")
    assert sorted(cluster.ceph("quorum_status")["quorum_names"]) == ["pve1", "pve2"]
    assert cluster.spec.node("pve3").ip not in b.config()["global"]["mon_host"]
    assert "mon.pve3" not in b.config()


@needs_ceph
@pytest.mark.lab
def test_shutdown_stops_every_tracked_process(cluster: Cluster) -> None:
    pids = [d["pid"] for d in cluster.backend.daemons() if d["running"]]
    assert pids
    cluster.timed("shutdown", cluster.backend.shutdown)
    assert not [p for p in cluster.tracker.load() if is_ours(p)]
    assert not [d for d in cluster.backend.daemons() if d["running"]]
    for pid in pids:
        assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()
