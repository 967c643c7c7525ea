"""bench/chain.py (the chain PVE and Ceph force) and bench/timeline.py (where wall time goes), without HTTP."""

from __future__ import annotations

import pytest

from bench.chain import (
    LabTask,
    StackFacts,
    forced_limit,
    mgr_available_task,
    mon_join_task,
    osd_boot_task,
    pg_report_task,
)
from bench.timeline import Request, breakdown, merged, slowest_calls

FACTS = StackFacts(
    init_node="pve1",
    pool_sizes={"vm-pool": 3},
    vm_create_pools={"101": "vm-pool"},
    vm_move_pools={"103": ("vm-pool",)},
)


def task(ttype: str, tid: str, node: str, start: float, seconds: float) -> LabTask:
    return LabTask(ttype, tid, node, start, start + seconds)


def cold_up() -> list[LabTask]:
    """A bring-up as a too-cautious orchestration runs it: everything one after another."""
    return [
        task("vncshell", "", "pve1", 0.0, 3.0),
        task("vncshell", "", "pve2", 0.0, 2.0),
        task("vncshell", "", "pve3", 0.0, 2.5),
        task("cephcreatemon", "mon.pve1", "pve1", 4.0, 1.0),
        task("cephcreatemon", "mon.pve2", "pve2", 6.0, 1.0),
        task("cephcreatemon", "mon.pve3", "pve3", 8.0, 1.0),
        task("cephcreatemgr", "mgr.pve1", "pve1", 10.0, 0.5),
        task("cephcreateosd", "sdb", "pve1", 11.0, 2.0),
        task("cephcreateosd", "sdc", "pve1", 13.0, 2.0),
        task("cephcreateosd", "sdb", "pve2", 11.0, 2.0),
        task("cephcreateosd", "sdb", "pve3", 11.0, 2.5),
        task("cephcreatepool", "vm-pool", "pve1", 16.0, 1.0),
        task("qmcreate", "101", "pve1", 18.0, 0.5),
        task("qmcreate", "103", "pve3", 18.0, 0.5),  # local disks
        task("qmstart", "103", "pve3", 18.6, 0.2),
        task("qmmove", "103", "pve3", 19.0, 3.0),
        task("hastart", "101", "pve1", 19.0, 0.3),
    ]


def test_the_limit_is_the_longest_chain_the_rules_force() -> None:
    limit = forced_limit(cold_up(), FACTS)
    # Short MON joins: the daemons run in the first MON's time alone, the second MON after them.
    # packages pve1 (3) -> mon.pve1 (1) -> osd sdb and sdc on pve1 (2 + 2) -> mon.pve2 (1) -> mon.pve3 (1).
    tasks = cold_up()
    assert limit.earliest_end[tasks[3]] == pytest.approx(4.0)  # mon.pve1 after pve1's packages
    assert limit.earliest_end[tasks[6]] == pytest.approx(4.5)  # the MGR needs only the first MON here
    assert limit.earliest_end[tasks[8]] == pytest.approx(8.0)  # the second OSD on pve1 after the first
    assert limit.earliest_end[tasks[4]] == pytest.approx(9.0)  # mon.pve2 after every OSD and MGR create
    assert limit.earliest_end[tasks[11]] == pytest.approx(5.0)  # pool create needs only one MON
    assert limit.earliest_end[tasks[12]] == pytest.approx(7.0)  # RBD VM after the 3rd host's OSD (6.5)
    assert limit.earliest_end[tasks[13]] == pytest.approx(0.5)  # local disks: at once
    assert limit.earliest_end[tasks[15]] == pytest.approx(9.5)  # the move: pool ready (6.5) + 3
    assert limit.earliest_end[tasks[16]] == pytest.approx(7.3)  # HA after its VM
    assert limit.seconds == pytest.approx(10.0)
    assert [t.label for t in limit.chain] == [
        "vncshell on pve1",
        "cephcreatemon mon.pve1 on pve1",
        "cephcreateosd sdb on pve1",
        "cephcreateosd sdc on pve1",
        "cephcreatemon mon.pve2 on pve2",
        "cephcreatemon mon.pve3 on pve3",
    ]


def test_no_mgr_or_osd_create_runs_while_the_second_mon_joins() -> None:
    # Slow MON joins: the daemons wait for the second MON (their other order would hold up mon.pve2).
    tasks = [
        task("cephcreatemon", "mon.pve1", "pve1", 0.0, 1.0),
        task("cephcreatemon", "mon.pve2", "pve2", 1.0, 4.0),
        task("cephcreatemon", "mon.pve3", "pve3", 5.0, 4.0),
        task("cephcreateosd", "sdb", "pve1", 9.0, 3.0),
        task("cephcreatemgr", "mgr.pve2", "pve2", 9.0, 1.0),
    ]
    limit = forced_limit(tasks, FACTS)
    assert limit.earliest_end[tasks[3]] == pytest.approx(8.0)  # after mon.pve2 (5), beside mon.pve3
    assert limit.earliest_end[tasks[4]] == pytest.approx(6.0)
    assert limit.seconds == pytest.approx(9.0)  # the MON chain; daemons first would give 1 + 3 + 4 + 4 = 12


def test_the_second_mons_join_holds_up_the_daemons_and_the_third_mon_not_the_next_create() -> None:
    # PVE's MON task ends once the daemon is started; the join comes after it (bench/mon_joins.py).
    mons = [task("cephcreatemon", f"mon.pve{i}", f"pve{i}", 2.0 * i - 2, 1.0) for i in (1, 2, 3)]
    joins = [mon_join_task(mons[1], 6.0), mon_join_task(mons[2], 12.0)]
    daemons = [task("cephcreateosd", "sdb", "pve1", 6.0, 5.0), task("cephcreatemgr", "mgr.pve2", "pve2", 6.0, 1.0)]
    limit = forced_limit([*mons, *joins, *daemons], FACTS)
    assert joins[0].seconds == pytest.approx(3.0)  # mon.pve2's task ended at 3, it joined at 6
    assert limit.earliest_end[joins[0]] == pytest.approx(5.0)  # its create could end by 2, + 3 s to join
    assert limit.earliest_end[mons[2]] == pytest.approx(6.0)  # mon.pve3's create waits for that quorum
    assert limit.earliest_end[daemons[0]] == pytest.approx(10.0)  # the OSD too; mon.pve3's join does not matter
    assert limit.earliest_end[joins[1]] == limit.seconds == pytest.approx(13.0)  # its own 7 s after its create
    assert [t.label for t in limit.chain][-2:] == ["cephcreatemon mon.pve3 on pve3", "monjoin mon.pve3 on pve3"]
    assert mon_join_task(mons[0], -1.0).seconds == 0.0  # a join the log stamps before the task's end


def test_mons_stay_one_at_a_time_in_the_order_they_ran() -> None:
    tasks = [task("cephcreatemon", f"mon.pve{i}", f"pve{i}", 10.0 * i, 2.0) for i in (1, 2, 3)]
    assert forced_limit(tasks, FACTS).seconds == pytest.approx(6.0)


def test_a_pool_needs_osds_on_size_hosts_and_an_mgr() -> None:
    tasks = [
        task("cephcreatemon", "mon.pve1", "pve1", 0.0, 1.0),
        task("cephcreateosd", "sdb", "pve1", 1.0, 1.0),
        task("cephcreateosd", "sdb", "pve2", 1.0, 5.0),
        task("cephcreatemgr", "mgr.pve1", "pve1", 1.0, 8.0),
        task("cephcreatepool", "small", "pve1", 1.0, 1.0),
        task("qmcreate", "101", "pve1", 20.0, 1.0),
    ]
    two = StackFacts(init_node="pve1", pool_sizes={"small": 2}, vm_create_pools={"101": "small"})
    assert forced_limit(tasks, two).seconds == pytest.approx(10.0)  # the MGR ends at 9, then the VM
    one = StackFacts(init_node="pve1", pool_sizes={"small": 1}, vm_create_pools={"101": "small"})
    without_mgr = [t for t in tasks if t.type != "cephcreatemgr"]
    assert forced_limit(without_mgr, one).seconds == pytest.approx(6.0)  # pve2's OSD ends at 6, not needed
    assert forced_limit(without_mgr, one).earliest_end[without_mgr[-1]] == pytest.approx(3.0)


def test_a_pool_waits_for_its_osds_to_boot_and_the_first_mgr_to_be_available() -> None:
    # PVE's OSD and MGR tasks end once their daemons are started; the boots and activation come after.
    osds = [task("cephcreateosd", "sdb", f"pve{i}", 1.0, 1.0) for i in (1, 2)]
    mgr = task("cephcreatemgr", "mgr.pve1", "pve1", 1.0, 0.5)
    steps = [osd_boot_task(osds[0], 3.0), osd_boot_task(osds[1], 7.0), mgr_available_task(mgr, 5.0)]
    pool = task("cephcreatepool", "small", "pve1", 1.0, 1.0)
    vm = task("qmcreate", "101", "pve1", 20.0, 1.0)
    tasks = [task("cephcreatemon", "mon.pve1", "pve1", 0.0, 1.0), *osds, mgr, *steps, pool, vm]
    two = StackFacts(init_node="pve1", pool_sizes={"small": 2}, vm_create_pools={"101": "small"})
    limit = forced_limit(tasks, two)
    assert steps[1].seconds == pytest.approx(5.0)  # pve2's OSD: task ended at 2, booted at 7
    assert limit.earliest_end[vm] == limit.seconds == pytest.approx(8.0)  # after that boot (7), + 1
    assert [t.label for t in limit.chain][-2:] == ["osdboot sdb on pve2", "qmcreate 101 on pve1"]
    one = StackFacts(init_node="pve1", pool_sizes={"small": 1}, vm_create_pools={"101": "small"})
    # One host's OSD is enough; the MGR is available at 1 + 0.5 + 3.5, then the VM.
    assert forced_limit(tasks, one).earliest_end[vm] == pytest.approx(6.0)


def test_tasks_without_times_are_left_out_and_an_empty_log_has_no_limit() -> None:
    assert LabTask.from_record({"type": "qmcreate", "id": "1", "node": "pve1", "start": 1.0, "end": None}) is None
    assert forced_limit([], FACTS).seconds == 0.0


def test_breakdown_splits_the_wall_into_startup_tasks_waits_gaps_and_finish() -> None:
    tasks = [task("cephcreatemon", "mon.pve1", "pve1", 12.0, 3.0)]
    requests = [
        Request(12.0, "POST", "/nodes/{node}/ceph/mon/{monid}"),
        Request(15.1, "GET", "/nodes/{node}/tasks/{upid}/status"),  # 3.0 s of task, 0.1 s idle: not a poll
        Request(16.0, "GET", "/nodes/{node}/ceph/mon"),  # 0.9 s: a gap (first of its kind)
        Request(17.0, "GET", "/nodes/{node}/ceph/mon"),  # 1.0 s: a wait (the same read again)
        Request(20.0, "GET", "/nodes/{node}/ceph/mon"),  # 3.0 s: beyond the poll window, a gap
    ]
    parts = breakdown(10.0, 21.5, tasks, requests)
    assert parts.startup == pytest.approx(2.0)
    assert parts.tasks == pytest.approx(3.0)
    assert parts.waits == pytest.approx(1.0)
    assert parts.gaps == pytest.approx(0.1 + 0.9 + 3.0)
    assert parts.finish == pytest.approx(1.5)
    assert parts.total == pytest.approx(11.5)


def test_merged_joins_overlapping_spans() -> None:
    assert merged([(3.0, 4.0), (0.0, 2.0), (1.0, 2.5)]) == [(0.0, 2.5), (3.0, 4.0)]


def test_peer_phases_time_our_extras_apart() -> None:
    from bench.peer_phases import CLEAN_WAIT, DELETE_GUARDS, STARTUP, phases

    create = [
        Request(1.0, "GET", "/nodes"),
        Request(1.1, "POST", "/nodes/{node}/ceph/pool"),
        Request(1.5, "GET", "/nodes/{node}/tasks/{upid}/status"),
        Request(1.7, "GET", "/nodes/{node}/ceph/status"),
        Request(2.2, "GET", "/nodes/{node}/ceph/status"),
        Request(2.3, "GET", "/nodes/{node}/ceph/pool"),
    ]
    startup, own, wait = phases("create", 0.0, 3.0, create)
    assert (startup.name, own.name, wait.name) == (STARTUP, "create", CLEAN_WAIT)
    assert startup.seconds == pytest.approx(1.0) and (startup.reads, startup.writes) == (0, 0)
    assert wait.seconds == pytest.approx(0.7) and (wait.reads, wait.writes) == (2, 0)
    assert own.seconds == pytest.approx(1.3) and (own.reads, own.writes) == (3, 1)
    delete = [
        Request(1.0, "GET", "/nodes/{node}/ceph/pool"),
        Request(1.2, "GET", "/storage"),
        Request(1.3, "GET", "/nodes/{node}/ceph/pool/{name}/status"),
        Request(1.4, "DELETE", "/nodes/{node}/ceph/pool/{name}"),
    ]
    _, own, guards = phases("delete", 0.0, 2.0, delete)
    assert guards.name == DELETE_GUARDS and guards.seconds == pytest.approx(0.3) and guards.reads == 2
    assert own.seconds == pytest.approx(0.7) and own.writes == 1


def test_vm_creates_on_one_pools_storage_take_its_lock_one_at_a_time() -> None:
    facts = StackFacts(init_node="pve1", vm_create_pools={"101": "vm-pool", "102": "vm-pool", "103": "other"})
    tasks = [
        task("qmcreate", "101", "pve1", 0.0, 1.0),
        task("qmcreate", "102", "pve2", 0.0, 1.0),  # another node, the same storage: after 101
        task("qmcreate", "103", "pve3", 0.0, 1.0),  # another storage: at once
    ]
    limit = forced_limit(tasks, facts)
    assert [limit.earliest_end[t] for t in tasks] == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(1.0)]


def test_time_a_task_waited_for_a_lock_is_not_counted_again() -> None:
    """Two creates queued on the storage lock: the second ran 1.8 s, 0.9 s of it waiting for the first."""
    facts = StackFacts(init_node="pve1", vm_create_pools={"101": "vm-pool", "102": "vm-pool"})
    first = task("qmcreate", "101", "pve1", 0.0, 1.0)
    second = LabTask("qmcreate", "102", "pve2", 0.1, 1.9, lock_wait=0.9)
    limit = forced_limit([first, second], facts)
    assert limit.earliest_end[second] == pytest.approx(1.9)  # 1.0 + 0.9 of work, not 1.0 + 1.8
    record = {"type": "qmcreate", "id": "102", "node": "pve2", "start": 0.1, "end": 1.9, "lock_wait": 0.9}
    assert LabTask.from_record(record) == second


def test_a_counted_pg_report_lag_stands_between_the_pool_ready_and_its_disks() -> None:
    """Ceph reported the pool clean 1.5 s after its PGs were (its OSDs' stamps): the disks wait that out."""
    tasks = [
        task("cephcreatemon", "mon.pve1", "pve1", 0.0, 1.0),
        *(task("cephcreateosd", "sdb", f"pve{i}", 1.0, 2.0) for i in (1, 2, 3)),
        task("cephcreatemgr", "mgr.pve1", "pve1", 1.0, 1.0),
        task("cephcreatepool", "vm-pool", "pve1", 3.0, 0.5),
        task("qmcreate", "101", "pve1", 6.0, 1.0),
        task("qmcreate", "103", "pve3", 0.0, 0.5),
        task("qmmove", "103", "pve3", 6.0, 1.0),
    ]
    strict = forced_limit(tasks, FACTS)
    assert strict.seconds == pytest.approx(4.0)  # OSDs end at 3, then the VM (1) and the move (1)
    report = pg_report_task("vm-pool", 3.6, 5.1)
    assert report.seconds == pytest.approx(1.5) and report.label == "pgreport vm-pool on ceph"
    counted = forced_limit([*tasks, report], FACTS)
    assert counted.earliest_end[report] == pytest.approx(4.5)  # pool ready at 3, then the lag
    assert counted.earliest_end[tasks[6]] == pytest.approx(5.5)
    assert counted.earliest_end[tasks[8]] == pytest.approx(5.5)
    assert counted.seconds == pytest.approx(5.5)
    assert [t.type for t in counted.chain][-2:] == ["pgreport", "qmcreate"]
    # A wait that saw the pool before Ceph's stamp (a later state change) counts no lag.
    assert pg_report_task("vm-pool", 5.0, 4.0).seconds == 0.0


def test_slowest_calls_rank_by_total_answer_time_without_terminals() -> None:
    requests = [
        Request(0.0, "GET", "/nodes/{node}/disks/list", 1.0),
        Request(0.1, "GET", "/nodes/{node}/disks/list", 5.0),
        Request(0.2, "GET", "/nodes/{node}/disks/list", 0.5),
        Request(0.3, "GET", "/nodes/{node}/tasks/{upid}/status", 0.01),
        Request(0.4, "GET", "/nodes/{node}/vncwebsocket", 60.0),  # a session, not a slow answer
        Request(0.5, "POST", "/nodes/{node}/ceph/osd", 2.0),
    ]
    first, second, third = slowest_calls(requests)
    assert (first.call, first.count, first.total, first.median, first.longest) == (
        "GET /nodes/{node}/disks/list",
        3,
        pytest.approx(6.5),
        1.0,
        5.0,
    )
    assert (second.call, third.call) == ("POST /nodes/{node}/ceph/osd", "GET /nodes/{node}/tasks/{upid}/status")
    assert slowest_calls(requests, top=1) == [first]
