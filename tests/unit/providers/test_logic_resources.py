"""Per-resource decisions: validation rules, identities, adoption, refusals, parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from dynamic_providers.errors import NotFound, UnsafeToProceed
from dynamic_providers.logic import disk_move, health, init, install, mgr, mon, osd, pool, pve_releases, storage
from dynamic_providers.logic.spec import check_inputs, diff_inputs
from dynamic_providers.values import mon_address_ip

CONF = """[global]
\tauth_client_required = cephx
\tcluster_network = 10.0.0.0/24
\tfsid = 0c9a8a5e-1d1b-4f8c-9d0c-111111111111
\tosd_pool_default_min_size = 2
\tosd pool default size = 3
\tpublic_network = 10.0.0.0/24

[client]
\tkeyring = /etc/pve/priv/$cluster.$name.keyring
"""


# -- install ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("19.2.1-pve3", "squid"),
        ("ceph version 18.2.4 (abc) reef (stable)", "reef"),
        ("20.2.0", "tentacle"),
        ("fake", None),
        (None, None),
    ],
)
def test_release_of(text: str | None, release: str | None) -> None:
    assert install.release_of(text) == release


def test_install_version_change_refused_unless_node_changes() -> None:
    olds, _ = check_inputs(install.SPEC, {}, {"node": "pve1"})
    _, failures = check_inputs(install.SPEC, olds, {**olds, "version": "tentacle"})
    assert [p for p, _ in failures] == ["version"]
    _, failures = check_inputs(install.SPEC, olds, {**olds, "node": "pve2", "version": "tentacle"})
    assert failures == []


def test_installer_options_are_nul_separated_as_the_wizard_sends_them() -> None:
    plan = pve_releases.InstallPlan("squid", "no-subscription", experimental=False)
    assert install.installer_options(plan) == "--version\0squid\0--repository\0no-subscription"
    preview = pve_releases.InstallPlan("tentacle", "test", experimental=True)
    assert install.installer_options(preview).split("\0")[-1] == "--allow-experimental"
    assert (
        install.manual_command(preview) == "pveceph install --version tentacle --repository test --allow-experimental"
    )


# -- init ------------------------------------------------------------------------------------


def test_read_global_from_pve_conf() -> None:
    live = init.read_global(CONF)
    assert live == {
        "fsid": "0c9a8a5e-1d1b-4f8c-9d0c-111111111111",
        "network": "10.0.0.0/24",
        "cluster_network": None,
        "size": 3,
        "min_size": 2,
    }


def test_init_min_size_above_size() -> None:
    _, failures = check_inputs(
        init.SPEC, {}, {"api_nodes": ["pve1"], "network": "10.0.0.0/24", "size": 2, "min_size": 3}
    )
    assert [p for p, _ in failures] == ["min_size"]


# -- MON -------------------------------------------------------------------------------------

MONS = [
    {"name": "pve1", "host": "pve1", "addr": "10.0.0.11:6789/0", "quorum": 1},
    {"name": "pve2", "host": "pve2", "addr": "[v2:10.0.0.12:3300/0,v1:10.0.0.12:6789/0]", "quorum": 1},
    {"name": "pve3", "host": "pve3", "addr": "10.0.0.13:6789/0", "quorum": 1},
]


@pytest.mark.parametrize(
    ("addr", "ip"),
    [
        ("10.0.0.11:6789/0", "10.0.0.11"),
        ("[v2:10.0.0.12:3300/0,v1:10.0.0.12:6789/0]", "10.0.0.12"),
        ("[v2:[2001:db8::1]:3300/0,v1:[2001:db8::1]:6789/0]", "2001:db8::1"),
        ("10.0.0.9", "10.0.0.9"),
        (None, None),
    ],
)
def test_mon_address_forms(addr: str | None, ip: str | None) -> None:
    assert mon_address_ip(addr) == ip


def test_mon_replace_order_depends_on_id() -> None:
    old = mon.MonInputs(node="pve1", mon_id="pve1", address="10.0.0.11")
    assert mon.delete_before_replace(old, replace(old, address="10.0.0.21"))  # same id: must go first
    assert not mon.delete_before_replace(old, mon.MonInputs(node="pve4", mon_id="pve4"))  # new MON joins first


@pytest.mark.parametrize(
    ("mons", "allow", "safe", "expected"),
    [
        (MONS, False, True, "fewer than 3"),  # 3 -> 2
        (MONS, True, True, None),  # opted in
        (MONS[:1], True, True, "last monitor"),  # never the last, opt-in or not
        ([*MONS, {"name": "pve4", "quorum": 1}], False, False, "Ceph says"),  # cmd-safety unsafe
        ([*MONS, {"name": "pve4", "quorum": 0}], False, True, "pve4 are out of quorum"),
        ([*MONS, {"name": "pve4", "quorum": 1}], False, True, None),  # 4 -> 3, all in quorum, safe
    ],
)
def test_mon_removal_refusals(mons: list[dict[str, Any]], allow: bool, safe: bool, expected: str | None) -> None:
    reason = mon.removal_refusal(mons, "pve1", allow, safe, "mon.pve1 is not ok-to-rm")
    assert (reason is None) if expected is None else (expected in (reason or ""))


# -- MGR -------------------------------------------------------------------------------------


def test_mgr_last_running_manager_is_kept() -> None:
    mgrs = [{"name": "pve1", "state": "active"}, {"name": "pve2", "state": "stopped"}]
    assert "last running manager" in (mgr.removal_refusal(mgrs, "pve1", False) or "")
    assert mgr.removal_refusal(mgrs, "pve1", True) is None
    assert mgr.removal_refusal([*mgrs, {"name": "pve3", "state": "standby"}], "pve1", False) is None


def test_mgr_undeclared_ones_go_once_a_declared_one_runs() -> None:
    # monitors [pve2, pve3, pve4], managers [pve3, pve4]: the first MON made mgr.pve2.
    mgrs = [
        {"name": "pve2", "host": "pve2", "state": "active"},
        {"name": "pve3", "host": "pve3", "state": "standby"},
        {"name": "pve4", "host": "pve4", "state": "starting"},
    ]
    assert [m["name"] for m in mgr.undeclared(mgrs, ("pve3", "pve4"))] == ["pve2"]
    assert mgr.undeclared(mgrs, ("pve2", "pve3", "pve4")) == []
    not_running = [{**m, "state": "unknown"} if m["name"] != "pve2" else m for m in mgrs]
    assert mgr.undeclared(not_running, ("pve3", "pve4")) == []  # never the only running MGR


# -- OSD -------------------------------------------------------------------------------------

DISKS = [
    {"devpath": "/dev/sda", "used": "BIOS boot", "osdid": -1},
    {"devpath": "/dev/sdb", "osdid": -1, "by_id_link": "/dev/disk/by-id/lab-pve1-sdb"},
    {"devpath": "/dev/sdc", "used": "LVM", "osdid": 4, "osdid-list": [4]},
    {"devpath": "/dev/sdd", "used": "ext4", "osdid": -1},
]


def test_osd_plan_create_take_over_wipe_refuse() -> None:
    by_id = osd.find_disk(DISKS, "/dev/disk/by-id/lab-pve1-sdb")
    assert osd.plan_create("pve1", "/dev/disk/by-id/lab-pve1-sdb", by_id, wipe=False) == osd.CreatePlan(
        "create", "/dev/sdb"
    )
    # The OSD a disk holds is looked at (takeover), wipe or not: wipe never erases an OSD.
    assert osd.plan_create("pve1", "/dev/sdc", DISKS[2], wipe=True) == osd.CreatePlan("take_over", "/dev/sdc", 4)
    with pytest.raises(UnsafeToProceed, match=r"in use \(ext4\).*wipe=true"):
        osd.plan_create("pve1", "/dev/sdd", DISKS[3], wipe=False)
    assert osd.plan_create("pve1", "/dev/sdd", DISKS[3], wipe=True).action == "wipe_then_create"
    with pytest.raises(NotFound, match="/dev/sdz"):
        osd.plan_create("pve1", "/dev/sdz", osd.find_disk(DISKS, "/dev/sdz"), wipe=False)


REAL_DISKS: list[dict[str, Any]] = [
    {
        "devpath": "/dev/sdb",
        "osdid": -1,
        "serial": "S6PNNS0T123456",
        "wwn": "0x5002538e40a1b2c3",
        "by_id_link": "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PNNS0T123456",
    },
    {"devpath": "/dev/vdb", "osdid": -1, "serial": "", "wwn": "unknown"},  # virtio: no by-id link from PVE
    {"devpath": "/dev/sdc", "used": "LVM", "osdid": "7", "osdid-list": ["7"], "serial": "Z1X2"},
]


@pytest.mark.parametrize(
    "device",
    [
        "/dev/sdb",
        "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PNNS0T123456",
        "/dev/disk/by-id/wwn-0x5002538e40a1b2c3",
        "/dev/disk/by-id/scsi-SATA_Samsung_SSD_870_S6PNNS0T123456",  # another udev link of the same disk
    ],
)
def test_osd_device_forms_resolve_to_the_devpath(device: str) -> None:
    assert osd.plan_create("pve1", device, osd.find_disk(REAL_DISKS, device), wipe=False) == (
        osd.CreatePlan("create", "/dev/sdb")
    )


def test_osd_device_forms_that_name_nothing() -> None:
    assert osd.find_disk(REAL_DISKS, "/dev/disk/by-id/wwn-unknown") is None
    assert osd.find_disk(REAL_DISKS, "/dev/disk/by-id/ata-Other_S6PNNS0T999999") is None
    with pytest.raises(NotFound, match=r"a /dev/disk/by-id link \(ata-/nvme-/scsi-..._SERIAL, wwn-WWN\)"):
        osd.plan_create("pve1", "/dev/sdz", None, wipe=False)


def test_osd_leftover_lvs_are_refused_with_the_command_that_clears_them() -> None:
    with pytest.raises(UnsafeToProceed) as info:
        osd.plan_create("pve2", "/dev/sdc", REAL_DISKS[2], wipe=True, in_tree={0, 1, 2})
    text = str(info.value)
    assert text.startswith("/dev/sdc on pve2 still carries the LVs of osd.7, which the OSD tree does not have")
    assert "On pve2, run `ceph-volume lvm zap --destroy /dev/sdc`" in text
    # An OSD the tree has is looked at for takeover as before (osdid arrives as PVE's string).
    assert osd.plan_create("pve2", "/dev/sdc", REAL_DISKS[2], wipe=False, in_tree={7}) == (
        osd.CreatePlan("take_over", "/dev/sdc", 7)
    )


def test_osd_devices_must_differ() -> None:
    _, failures = check_inputs(osd.SPEC, {}, {"node": "pve1", "device": "/dev/sdb", "db_device": "/dev/sdb"})
    assert failures == [("db_device", "CephOsd.db_device is '/dev/sdb', already used as device")]


@pytest.mark.parametrize(
    ("change", "replaces", "first"),
    [
        ({"device": "/dev/sdc"}, ["device"], False),  # a new disk fills before the old one drains
        ({"encrypted": True}, ["encrypted"], True),  # same disk: the old OSD must go first
        ({"crush_device_class": "nvme"}, ["crush_device_class"], True),
        ({"wipe": True}, [], False),  # an opt-in is recorded, nothing is rebuilt
        ({"replacement": "disk-2"}, ["replacement"], True),  # a new disk in the same slot: the dead OSD goes first
    ],
)
def test_osd_replacements(change: dict[str, Any], replaces: list[str], first: bool) -> None:
    olds, _ = check_inputs(osd.SPEC, {}, {"node": "pve1", "device": "/dev/sdb"})
    news, _ = check_inputs(osd.SPEC, olds, {**olds, **change})
    plan = diff_inputs(osd.SPEC, olds, news, osd.delete_before_replace)
    assert plan.replaces == replaces and plan.delete_before_replace is first


def test_tree_osds_flattens_the_crush_tree() -> None:
    tree = {
        "root": {
            "children": [
                {
                    "type": "root",
                    "name": "default",
                    "children": [
                        {
                            "type": "host",
                            "name": "pve1",
                            "children": [
                                {"type": "osd", "id": 0, "status": "up", "in": 1, "pgs": 33, "device_class": "ssd"}
                            ],
                        },
                        {
                            "type": "host",
                            "name": "pve2",
                            "children": [
                                {"type": "osd", "id": "1", "host": "pve2", "status": "down", "in": 0, "pgs": 0}
                            ],
                        },
                    ],
                }
            ]
        }
    }
    osds = osd.tree_osds(tree)
    assert osds[0] == osd.OsdState(0, "pve1", True, True, 33, "ssd")
    assert osds[1].host == "pve2" and not osds[1].up and not osds[1].in_
    # A third OSD, created but not booted: in the osdmap's count, not yet in PVE's (CRUSH-only) tree.
    assert osd.outside_crush({"osdmap": {"num_osds": 3, "num_up_osds": 1}}, osds) == 1
    assert osd.outside_crush({"osdmap": {"num_osds": 2}}, osds) == 0
    assert osd.outside_crush({}, osds) == 0  # a status without an osdmap: nothing known to wait for


# -- pool ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "prop"),
    [
        ({"size": 1, "min_size": 1}, "size"),  # PVE cannot set size 1
        ({"size": 2, "min_size": 3}, "min_size"),
        ({"size": 2, "min_size": 1}, "min_size"),  # needs allow_data_loss
        ({"autoscale_mode": "on", "pg_num": 64}, "pg_num"),
        ({"pool_name": ".mgr"}, "pool_name"),
        ({"pool_name": "a/b"}, "pool_name"),
    ],
)
def test_pool_validation(inputs: dict[str, Any], prop: str) -> None:
    _, failures = check_inputs(pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm", **inputs})
    assert prop in [p for p, _ in failures]


def test_pool_min_size_one_with_opt_in() -> None:
    _, failures = check_inputs(
        pool.SPEC, {}, {"api_nodes": ["pve1"], "pool_name": "vm", "size": 2, "min_size": 1, "allow_data_loss": True}
    )
    assert failures == []


def test_pool_create_never_adds_storages() -> None:
    params = pool.create_params(pool.SPEC.load({"api_nodes": ["pve1"], "pool_name": "vm"}))
    assert params["add_storages"] is False and params["pg_autoscale_mode"] == "on"
    assert params["pg_num"] == 32  # a small start the autoscaler grows, not PVE's budget-eating 128


def live_pool(**changes: Any) -> pool.LivePool:
    """A pool as live_view() reports it: vm, size 3/2, 32 PGs, autoscale off, empty."""
    live = pool.live_view(
        {
            "pool": 1,
            "pool_name": "vm",
            "size": 3,
            "min_size": 2,
            "pg_num": 32,
            "pg_autoscale_mode": "off",
            "application_metadata": {"rbd": {}},
            "crush_rule_name": "replicated_rule",
            "bytes_used": 0,
        }
    )
    return cast(pool.LivePool, {**live, **changes})


# The inputs that match live_pool().
MATCHING_POOL = pool.PoolInputs(
    api_nodes=("pve1",), pool_name="vm", pg_num=32, autoscale_mode="off", crush_rule="replicated_rule"
)


def test_pool_update_sends_size_with_min_size_and_only_changes() -> None:
    live = live_pool()
    wanted = replace(MATCHING_POOL, size=2)
    assert pool.update_params(live, wanted) == {"size": 2, "min_size": 2}
    assert pool.update_params(live, replace(MATCHING_POOL, autoscale_mode="on", pg_num=64)) == {
        "pg_autoscale_mode": "on"
    }
    assert pool.update_params(live, replace(MATCHING_POOL, pg_num=64)) == {"pg_num": 64}
    assert pool.update_params(live, MATCHING_POOL) == {}


def test_pool_live_view_accepts_string_ids() -> None:
    live = pool.live_view(
        {
            "pool": "3",
            "pool_name": "vm",
            "size": "3",
            "min_size": 2,
            "pg_num": 32,
            "pg_autoscale_mode": "on",
            "application_metadata": {"rbd": {}},
            "bytes_used": 0,
            "crush_rule_name": "replicated_rule",
        }
    )
    assert live["pool_id"] == 3 and live["size"] == 3 and live["application"] == "rbd"


def test_pool_refresh_ignores_pg_num_under_autoscale() -> None:
    old = pool.PoolInputs(api_nodes=("pve1",), pool_name="vm", size=3, min_size=2, autoscale_mode="on")
    live = live_pool(autoscale_mode="on", pg_num=128)
    assert "pg_num" not in pool.refreshed_inputs(old, live)
    assert pool.refreshed_inputs(old, live_pool(autoscale_mode="on", pg_num=128, size=2))["size"] == 2  # drift


def test_pool_deletion_guards() -> None:
    storages = [
        {"storage": "vmstore", "type": "rbd", "pool": "vm"},
        {"storage": "x", "type": "rbd"},
        {"storage": "ec", "type": "rbd", "pool": "meta", "data-pool": "vm"},
    ]
    users = pool.storages_using(storages, "vm")
    assert users == ["ec", "vmstore"]
    reason = pool.deletion_refusal("vm", live_pool(bytes_used=4096), 0, users, False)
    assert reason is not None and "ec, vmstore" in reason and "4096 bytes used" in reason
    assert pool.deletion_refusal("vm", live_pool(bytes_used=4096), 0, users, True) is None
    assert pool.deletion_refusal("vm", live_pool(bytes_used=0), 0, [], False) is None
    # An image nobody has written to yet: header objects, no bytes.
    assert "3 objects" in (pool.deletion_refusal("vm", live_pool(bytes_used=0), 3, [], False) or "")
    assert pool.storages_using(storages, "rbd") == ["x"]  # pool defaults to rbd


def test_pool_objects_from_verbose_status() -> None:
    assert pool.objects_of({"statistics": {"objects": "12", "bytes_used": 0}}) == 12
    assert pool.objects_of({"name": "vm"}) == 0  # not reported: bytes_used alone decides


@pytest.mark.parametrize(
    ("version", "pool_id", "expected"),
    [
        ((8, 4, 21), 2, None),  # every PVE 8: another pool's statistics
        ((9, 1, 11), 2, None),
        ((8, 3, 0), 3, 5),  # the pool with the highest id gets its own numbers even there
        ((9, 1, 12), 2, 5),  # fixed
        (None, 2, None),  # release not known: not trusted
    ],
)
def test_pool_object_count_is_not_trusted_on_releases_with_the_statistics_bug(
    version: Any, pool_id: int, expected: int | None
) -> None:
    status = {"statistics": {"objects": 5}}
    assert pool.trusted_objects(status, version, pool_id, [1, 2, 3]) == expected


def test_pool_delete_guard_with_an_untrusted_count_goes_by_bytes_used() -> None:
    assert pool.deletion_refusal("vm", live_pool(bytes_used=0), None, [], False) is None
    reason = pool.deletion_refusal("vm", live_pool(bytes_used=4096), None, [], False) or ""
    assert "it holds data (4096 bytes used)" in reason


# -- storage ---------------------------------------------------------------------------------


def test_storage_live_view_makes_defaults_explicit() -> None:
    live = storage.live_view({"storage": "s", "type": "rbd", "content": "rootdir,images", "nodes": "pve2,pve1"})
    assert live == {
        "storage": "s",
        "type": "rbd",
        "pool": "rbd",
        "content": ["images", "rootdir"],
        "krbd": False,
        "nodes": ["pve1", "pve2"],
    }


def test_storage_update_clears_nodes_with_delete() -> None:
    live = storage.LiveStorage(storage="s", type="rbd", pool="rbd", content=["images"], krbd=False, nodes=["pve1"])
    wanted = storage.StorageInputs(storage="s", pool="rbd", content=("images",), krbd=True, nodes=None)
    assert storage.update_params(live, wanted) == {
        "krbd": True,
        "delete": "nodes",
    }


def test_storage_delete_refused_with_volumes() -> None:
    volumes = [{"volid": f"s:vm-{i}-disk-0"} for i in range(7)]
    reason = storage.deletion_refusal("s", volumes, False)
    assert reason is not None and "7 volume(s)" in reason and "and 2 more" in reason
    assert storage.deletion_refusal("s", volumes, True) is None


def test_storage_content_validation() -> None:
    _, failures = check_inputs(storage.SPEC, {}, {"storage": "st", "pool": "p", "content": ["iso"]})
    assert [p for p, _ in failures] == ["content"]


# -- health ----------------------------------------------------------------------------------


def status_doc(health: str, pgs: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "health": {"status": health, "checks": {"PG_DEGRADED": {"summary": {"message": "Degraded data"}}}},
        "pgmap": {"pgs_by_state": [{"state_name": s, "count": c} for s, c in pgs]},
        "osdmap": {"num_osds": 3, "num_up_osds": 3, "num_in_osds": 2},
    }


@pytest.mark.parametrize(
    ("health_status", "pgs", "require", "met"),
    [
        ("HEALTH_OK", [("active+clean", 33)], "HEALTH_OK", True),
        ("HEALTH_WARN", [("active+clean", 33)], "HEALTH_OK", False),
        # Ceph says HEALTH_OK while PGs backfill onto a new OSD: HEALTH_OK means the rebalance is done, too.
        ("HEALTH_OK", [("active+clean", 30), ("active+remapped+backfilling", 3)], "HEALTH_OK", False),
        ("HEALTH_OK", [("active+clean", 30), ("active+clean+scrubbing", 3)], "HEALTH_OK", True),
        ("HEALTH_WARN", [("active+clean", 30), ("active+remapped+backfilling", 3)], "no_degraded_pgs", True),
        ("HEALTH_WARN", [("active+undersized+degraded", 3)], "no_degraded_pgs", False),
        ("HEALTH_WARN", [("peering", 3)], "no_degraded_pgs", False),
    ],
)
def test_health_requirements(health_status: str, pgs: list[tuple[str, int]], require: str, met: bool) -> None:
    assert health.evaluate(status_doc(health_status, pgs), require)[0] is met


def test_health_summary_is_readable() -> None:
    summary = health.summarise(status_doc("HEALTH_WARN", [("active+undersized+degraded", 3)]))
    assert summary == (
        "HEALTH_WARN; PG_DEGRADED: Degraded data; pgs: 3 active+undersized+degraded; osds: 3 up, 2 in of 3"
    )


# -- disk move -------------------------------------------------------------------------------


def test_disk_move_finds_the_vm_and_its_storage() -> None:
    resources = [{"vmid": 101, "node": "pve1", "type": "qemu"}, {"vmid": 100, "node": "pve3", "type": "qemu"}]
    assert disk_move.vm_node(resources, 100) == "pve3"
    assert disk_move.vm_node(resources, 102) is None
    volume = disk_move.disk_volume({"scsi0": "local-lvm:vm-100-disk-0,size=8G"}, "scsi0")
    assert volume == "local-lvm:vm-100-disk-0" and disk_move.storage_of(volume) == "local-lvm"
    assert disk_move.disk_volume({}, "scsi1") is None


@pytest.mark.parametrize(
    ("disk", "ok"),
    [
        ("scsi0", True),
        ("scsi30", True),
        ("scsi31", False),
        ("virtio15", True),
        ("efidisk0", True),
        ("unused255", True),
        ("net0", False),
    ],
)
def test_disk_keys(disk: str, ok: bool) -> None:
    _, failures = check_inputs(disk_move.SPEC, {}, {"vm_id": 100, "disk": disk, "storage": "ceph-vm"})
    assert (failures == []) is ok


@pytest.mark.parametrize(
    ("pgs", "clean"),
    [
        ([("active+clean", 32), ("active+clean+scrubbing", 1)], True),
        ([("active+clean", 30), ("creating+peering", 2)], False),
        ([("active+remapped+backfilling", 2)], False),
        ([], True),
    ],
)
def test_all_clean(pgs: list[tuple[str, int]], clean: bool) -> None:
    assert health.all_clean(status_doc("HEALTH_OK", pgs))[0] is clean


def test_all_clean_waits_for_a_new_pools_pgs_to_be_reported() -> None:
    status = status_doc("HEALTH_OK", [("active+clean", 1)])  # only .mgr's PG so far
    status["pgmap"]["num_pools"] = 1
    assert health.all_clean(status, expected_pools=2) == (False, "PGs of 1 of 2 pools reported (1 active+clean)")
    status["pgmap"]["num_pools"] = 2
    assert health.all_clean(status, expected_pools=2)[0]


def test_without_the_nodes_clock_health_counts_once_it_held_for_one_lag() -> None:
    settling = health.Settling(7.0)
    assert not settling.held(True, 100.0)  # a first HEALTH_OK may predate the change
    assert not settling.held(True, 106.9)
    assert not settling.held(False, 103.0) and not settling.held(True, 104.0)  # a break starts over
    assert settling.held(True, 111.0)


def test_stats_lag_is_the_clusters_periods_or_cephs_defaults() -> None:
    assert health.stats_period_query() == (
        "mgr:mgr_stats_period;mgr:mgr_tick_period;global:mgr_stats_period;global:mgr_tick_period"
    )
    assert health.stats_lag({}) == 7.0  # Ceph's 5 s + 2 s
    # PVE answers with hyphens; a [mgr] value beats a [global] one, an unreadable one is skipped.
    values = {"mgr": {"mgr-stats-period": "1", "mgr-tick-period": "soon"}, "global": {"mgr-tick-period": "1"}}
    assert health.stats_lag(values) == 2.0
    # Before PVE 9.1.18 a section brings all its DB keys: others are ignored.
    assert health.stats_lag({"mgr": {"mgr/devicehealth/pool-name": ".mgr", "mgr-stats-period": "3"}}) == 5.0


def osd_change_status(up_since: int, in_since: int) -> dict[str, Any]:
    status = status_doc("HEALTH_OK", [("active+clean", 33)])
    status["osdmap"] = {
        "num_osds": 3,
        "num_up_osds": 3,
        "osd_up_since": up_since,
        "num_in_osds": 3,
        "osd_in_since": in_since,
    }
    return status


def test_a_status_counts_once_read_one_lag_after_the_last_osd_change_by_the_nodes_clock() -> None:
    status = osd_change_status(up_since=1_000_010, in_since=1_000_004)  # the last change: 1_000_010
    node_ahead = health.Freshness(lag=2.0, node_offset=50.0)  # the node's clock is 50 s ahead of ours
    assert health.last_osd_change(status) == 1_000_010
    # Fresh from 1_000_010 + 2 s lag + 1 s for whole-second clocks, node time = ours + 50.
    assert node_ahead.wait_left(status, now=1_000_010 + 3 - 50 - 0.5) == 0.5
    assert node_ahead.wait_left(status, now=1_000_010 + 3 - 50) == 0.0
    # A cluster whose OSDs last changed long ago: the first read counts (a day-2 `up` waits for nothing).
    assert node_ahead.wait_left(osd_change_status(1_000, 1_000), now=1_000_000) == 0.0
    # Unknown change or unknown node clock: nothing to wait for here (Settling takes over without a clock).
    assert node_ahead.wait_left(status_doc("HEALTH_OK", []), now=0.0) == 0.0
    assert health.Freshness(lag=2.0, node_offset=None).wait_left(status, now=0.0) == 0.0
