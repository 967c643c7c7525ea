"""The chain PVE and Ceph force on a cold bring-up, from the lab's task log: the shortest wall time
any orchestration could reach with the tasks' own durations. Pure (bench/orchestration.py prints it;
tests/unit/tools/test_bench_chain.py).

Each task starts, at the earliest, when what PVE or Ceph requires of it has ended:
- a node's Ceph packages (the install terminal, `vncshell`) before any Ceph task on that node;
- init (synchronous, no task) after the packages of the node it runs on;
- MON creates one at a time, each after init: PVE writes ceph.conf under its cluster lock
  (pve-manager PVE/API2/Ceph/MON.pm, createmon: cfs_lock_file('ceph.conf'));
- a MON create's task ends once its daemon is started (MON.pm createmon does not wait for the quorum);
  the MON then joins, when the MONs' election says so. Its join is a step of its own (`mon_join_task`,
  from the task's end to the leader's line in Ceph's cluster log, bench/mon_joins.py); without one,
  the create's end counts as the join;
- an MGR or OSD create needs a MON quorum for its whole run, and its node's packages (MGR.pm takes no
  lock). A new MON joins the monmap before it has synced, and n MONs need n // 2 + 1 in quorum, so
  there is none until the second MON has joined (from two on, the MONs in quorum stay a majority).
  Either these creates wait for the second MON's join, or they run in the first MON's time alone and
  the second MON waits for them: the limit is the shorter of the two orders. MON creates from the
  third on need that quorum too (createmon connects to RADOS before its task);
- an OSD create's task ends once ceph-volume has started the daemon (its activate ends with `systemctl
  start`, a unit of Type=simple); the OSD boots into the osdmap after it. Its boot is a step of its own
  (`osd_boot_task`, from the task's end to the MON's `osd.N ... boot` line in the cluster log), and so
  is the first MGR's activation (`mgr_available_task`, to `Manager daemon X is now available`); without
  them, the create's end counts;
- one OSD create at a time per node (PVE/API2/Ceph/OSD.pm createosd runs under pve-storage
  src/PVE/Diskmanage.pm locked_disk_action, a node-wide lock file);
- a pool's create needs a MON; its PGs need OSDs on `size` hosts and an MGR to report them, so
  the pool is ready when its create has ended, the first OSD on its `size`-th host has booted and the
  first MGR is available.
  More OSDs joining later do not stop the allocations: Ceph re-peers the PGs they take, and an `rbd
  create` meanwhile is slower but goes through (bench/rbd_during_joins.py, 12 nodes, 45 OSDs joining
  over 65 s: create + rm median 0.31 s, p90 1.11 s, max 6.8 s, against 0.15 s on the settled pool);
- a VM whose disks are created on RBD needs that pool ready (adding the storage is synchronous), and
  VM creates on one pool's storage run one at a time: PVE allocates each disk under the storage's
  cluster-wide lock (pve-storage src/PVE/Storage.pm vdisk_alloc, cluster_lock_storage ->
  cfs_lock_storage for a shared storage). The whole create counts (its allocation is nearly all of
  it) but not the time it waited for the lock, which the lab reports apart (`lock_wait`);
  a disk move to RBD needs the pool ready and the VM created; a VM's start, config and HA tasks
  need its create (and HA its disk moves).

A task counts for its work: its run less the time it waited for cluster locks (the lab's log says how
long), so tasks that queued on a lock are not counted twice. Serialised tasks keep the order they ran
in. What is not a task (init, storage adds, waiting for quorum or active+clean) costs nothing here, so
the limit is a lower bound.

One wait that is not a task can be counted, as its own figure: Ceph's report of a pool's PGs
active+clean. `ceph status`, PVE's only read of PG states, shows them a lag after the OSDs' own
stamps (bench/pg_report.py), and a program that checks a pool is active+clean before it puts disks
on it waits that lag out. `pg_report_task` makes it a step of the chain (from Ceph's stamp to when
the pool's wait saw it) between the pool being ready and what needs the pool; without such steps,
the rules are as above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PACKAGES = "vncshell"
MON = "cephcreatemon"
MGR = "cephcreatemgr"
OSD = "cephcreateosd"
POOL = "cephcreatepool"
VM_CREATE = "qmcreate"
DISK_MOVE = "qmmove"
AFTER_VM_CREATE = frozenset({"qmstart", "qmconfig", "qmresize", "resize"})
HA = frozenset({"hastart", "hamigrate", "harelocate"})
PG_REPORT = "pgreport"  # not a PVE task: Ceph's PG report lag for a pool (pg_report_task)
MON_JOIN = "monjoin"  # not a PVE task: a new MON joining the quorum after its create (mon_join_task)
OSD_BOOT = "osdboot"  # not a PVE task: a new OSD booting into the osdmap after its create (osd_boot_task)
MGR_AVAILABLE = "mgravailable"  # not a PVE task: the first MGR becoming available after its create


@dataclass(frozen=True)
class LabTask:
    """One task of the lab's log (GET /lab/tasks), with sub-second wall-clock start and end."""

    type: str
    id: str
    node: str
    start: float
    end: float
    lock_wait: float = 0.0  # of its run, the seconds it waited for cluster locks

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def work(self) -> float:
        """Its run without the lock waits: what it costs where it is serialised."""
        return max(0.0, self.seconds - self.lock_wait)

    @property
    def label(self) -> str:
        return f"{self.type} {self.id} on {self.node}".replace("  ", " ")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LabTask | None:
        """None for a task the log has no times for (never started, or still running)."""
        start, end = record.get("start"), record.get("end")
        if start is None or end is None:
            return None
        ttype, tid, node = str(record.get("type")), str(record.get("id") or ""), str(record.get("node"))
        return cls(ttype, tid, node, start, end, float(record.get("lock_wait") or 0.0))


def pg_report_task(pool: str, clean: float, seen: float) -> LabTask:
    """The lag between a pool's PGs being active+clean by Ceph's stamps and a wait on `ceph status` seeing it."""
    return LabTask(PG_REPORT, pool, "ceph", clean, max(clean, seen))


def mon_join_task(create: LabTask, joined: float) -> LabTask:
    """A MON's join, from its create task's end to the election that put it in the quorum."""
    return LabTask(MON_JOIN, create.id, create.node, create.end, max(create.end, joined))


def osd_boot_task(create: LabTask, booted: float) -> LabTask:
    """An OSD's boot, from its create task's end (ceph-volume has started the daemon) to the MON's `boot` line."""
    return LabTask(OSD_BOOT, create.id, create.node, create.end, max(create.end, booted))


def mgr_available_task(create: LabTask, available: float) -> LabTask:
    """A MGR's activation, from its create task's end to the MGR map's `Manager daemon X is now available`."""
    return LabTask(MGR_AVAILABLE, create.id, create.node, create.end, max(create.end, available))


@dataclass(frozen=True)
class StackFacts:
    """What the rules need from the stack's config beyond the task log."""

    init_node: str  # where init runs (the first api node)
    pool_sizes: Mapping[str, int] = field(default_factory=dict)  # pool -> size
    vm_create_pools: Mapping[str, str] = field(default_factory=dict)  # vmid -> pool its disks are created on
    vm_move_pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # vmid -> pools its disks move to


@dataclass(frozen=True)
class Limit:
    seconds: float  # from the first task's earliest start (0) to the last task's earliest end
    chain: tuple[LabTask, ...]  # the binding chain, first to last
    earliest_end: Mapping[LabTask, float]


def forced_limit(tasks: Iterable[LabTask], facts: StackFacts) -> Limit:
    """The earliest every task could end under the rules above; the latest of those is the limit.

    Both orders of the quorum rule are tried (daemons after the second MON, or the second MON after
    them) and the shorter one counts.
    """
    ordered = sorted(tasks, key=lambda t: (t.start, t.end))
    limits = [_limit(ordered, facts, daemons_first) for daemons_first in (False, True)]
    return min(limits, key=lambda limit: limit.seconds)


def _limit(ordered: Sequence[LabTask], facts: StackFacts, daemons_first: bool) -> Limit:
    end: dict[LabTask, float] = {}
    binding: dict[LabTask, LabTask | None] = {}

    def finish(task: LabTask) -> float:
        if task not in end:
            ready, cause = 0.0, None
            for before in rules.prerequisites(task):
                if finish(before) > ready:
                    ready, cause = end[before], before
            end[task], binding[task] = ready + task.work, cause
        return end[task]

    rules = _Rules(ordered, facts, finish, daemons_first)
    for task in ordered:
        finish(task)
    if not end:
        return Limit(0.0, (), {})
    last = max(end, key=lambda t: end[t])
    chain: list[LabTask] = []
    cursor: LabTask | None = last
    while cursor is not None:
        chain.append(cursor)
        cursor = binding[cursor]
    return Limit(end[last], tuple(reversed(chain)), end)


class _Rules:
    def __init__(
        self,
        ordered: Sequence[LabTask],
        facts: StackFacts,
        finish: Callable[[LabTask], float],
        daemons_first: bool,
    ) -> None:
        self.facts = facts
        self.daemons_first = daemons_first  # MGRs and OSDs in the first MON's time, the second MON after them
        self.finish = finish  # a task's earliest end, for choosing which hosts' OSDs a pool waits for
        self.by_type: dict[str, list[LabTask]] = {}
        for task in ordered:
            self.by_type.setdefault(task.type, []).append(task)
        self.packages = {t.node: t for t in self.by_type.get(PACKAGES, [])}

    def of(self, ttype: str, **match: str) -> list[LabTask]:
        return [t for t in self.by_type.get(ttype, []) if all(getattr(t, k) == v for k, v in match.items())]

    def first(self, ttype: str) -> list[LabTask]:
        return self.by_type.get(ttype, [])[:1]

    def previous(self, task: LabTask, same_node: bool = False) -> list[LabTask]:
        return _just_before(task, [t for t in self.by_type[task.type] if not same_node or t.node == task.node])

    def step_after(self, step_type: str, create: LabTask) -> LabTask:
        """The step of `step_type` after this create (a join, boot or activation), or the create itself
        where the log has none."""
        return next(iter(self.of(step_type, id=create.id, node=create.node)), create)

    def joined(self, mons: list[LabTask]) -> list[LabTask]:
        return [self.step_after(MON_JOIN, mon) for mon in mons]

    def quorum(self) -> list[LabTask]:
        """The MON join after which the MONs keep a quorum: the second, or the first in the other order."""
        mons = self.by_type.get(MON, [])
        return self.joined(mons[: 1 if self.daemons_first else 2][-1:])

    def daemons(self) -> list[LabTask]:
        return [*self.by_type.get(MGR, []), *self.by_type.get(OSD, [])]

    def node_packages(self, node: str) -> list[LabTask]:
        return [self.packages[node]] if node in self.packages else []

    def init(self) -> list[LabTask]:
        return self.node_packages(self.facts.init_node)

    def pool_ready(self, pool: str) -> list[LabTask]:
        """The pool's create, the first OSD of the `size`-th host to have one up, the first MGR available."""
        first_osd_per_host: dict[str, LabTask] = {}
        for osd in self.by_type.get(OSD, []):
            first_osd_per_host.setdefault(osd.node, self.step_after(OSD_BOOT, osd))
        hosts = sorted(first_osd_per_host.values(), key=self.finish)
        size = self.facts.pool_sizes.get(pool, 3)
        return [
            *self.of(POOL, id=pool),
            *hosts[:size][-1:],
            *(self.step_after(MGR_AVAILABLE, mgr) for mgr in self.first(MGR)),
        ]

    def usable(self, pool: str) -> list[LabTask]:
        """What disks on the pool wait for: Ceph's report of it active+clean if counted, else the pool ready."""
        return self.of(PG_REPORT, id=pool) or self.pool_ready(pool)

    def previous_create_on(self, pool: str, task: LabTask) -> list[LabTask]:
        """The VM create before this one whose disks went to the same pool (the storage lock's order)."""
        return _just_before(task, [t for t in self.by_type[VM_CREATE] if self.facts.vm_create_pools.get(t.id) == pool])

    def vm(self, vmid: str) -> list[LabTask]:
        return self.of(VM_CREATE, id=vmid)

    def prerequisites(self, task: LabTask) -> list[LabTask]:
        kind = task.type
        if kind == MON:
            index = self.by_type[MON].index(task)
            return [
                *self.node_packages(task.node),
                *self.init(),
                *self.previous(task),
                *(self.daemons() if self.daemons_first and index == 1 else []),
                *(self.joined(self.by_type[MON][1:2]) if index >= 2 else []),
            ]
        if kind == MON_JOIN:
            return self.of(MON, id=task.id)
        if kind == OSD_BOOT:
            return self.of(OSD, id=task.id, node=task.node)
        if kind == MGR_AVAILABLE:
            return self.of(MGR, id=task.id)
        if kind == MGR:
            return [*self.node_packages(task.node), *self.quorum()]
        if kind == OSD:
            return [*self.node_packages(task.node), *self.quorum(), *self.previous(task, same_node=True)]
        if kind == POOL:
            return [*self.init(), *self.first(MON)]
        if kind == VM_CREATE:
            pool = self.facts.vm_create_pools.get(task.id)
            return [*self.usable(pool), *self.previous_create_on(pool, task)] if pool else []
        if kind == DISK_MOVE:
            pools = self.facts.vm_move_pools.get(task.id, ())
            return [*self.vm(task.id), *(t for pool in pools for t in self.usable(pool))]
        if kind == PG_REPORT:
            return self.pool_ready(task.id)
        if kind in AFTER_VM_CREATE:
            return self.vm(task.id)
        if kind in HA:
            return [*self.vm(task.id), *self.of(DISK_MOVE, id=task.id)]
        return []


def _just_before(task: LabTask, peers: list[LabTask]) -> list[LabTask]:
    """The task before `task` among `peers` (in the order they ran), as a list of none or one."""
    index = peers.index(task)
    return peers[index - 1 : index] if index else []
