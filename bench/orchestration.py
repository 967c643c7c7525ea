"""Cold `pulumi up` of the dev stack against a fresh lab: wall time versus what PVE and Ceph force.

Two yardsticks, one run. The forced limit (bench/chain.py): the chain of lab tasks PVE and Ceph
impose (packages, init, MONs one at a time, MGRs and OSDs once two MONs keep a quorum, one OSD
create per node at a time, each OSD's boot and the first MGR's activation after their tasks (Ceph's
cluster log), pools after OSDs up on `size` hosts, RBD disks after their pool, HA after the VM), each task with the
duration it had in this run; the figure to meet is wall / limit <= 1.1. Beside it, for reading, the
same limit with Ceph's PG report lag counted as forced (bench/pg_report.py: the OSDs' own stamps of a
pool's PGs active+clean, against the pool's wait on `ceph status`, the only read of PG states PVE
has): what a program that checks a pool is active+clean before it puts disks on it waits out.
Then where the wall time went (bench/timeline.py): startup, tasks, waits, gaps, finish.

The older figure stays: the critical path is the longest chain through the stack's dependency graph (from `pulumi stack
export`), each resource weighted by the lab tasks it caused (from the lab's task log, with
sub-second start and end times). Orchestration efficiency = critical path / wall time; the target
is >= 0.8. Waits that are not PVE tasks (quorum, health gates, PGs active+clean) count as
overhead here, so the figure is a lower bound on how well the program overlaps its work.

Usage: .venv/bin/python -m bench.orchestration [--stack-file Pulumi.dev.yaml] [--lab-args "..."] [--target 1.1]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.chain import (
    MGR,
    MON,
    OSD,
    POOL,
    LabTask,
    StackFacts,
    forced_limit,
    mgr_available_task,
    mon_join_task,
    osd_boot_task,
    pg_report_task,
)
from bench.mon_joins import available_stamps, boot_stamps, join_stamps
from bench.pg_report import clean_since, state_stamp
from bench.timeline import Request, breakdown, slowest_calls
from hci_config.loader import load_config
from hci_config.model import HciConfig
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import start_lab, stop_lab

Task = dict[str, Any]


def _kind(urn: str) -> str:
    return urn.split("::")[-2].rsplit("$", 1)[-1]


def tasks_of(resource: dict[str, Any], tasks: list[Task]) -> list[Task]:
    """The lab tasks a resource's create caused, recognised by task type, id and node."""
    kind, inputs, outputs = _kind(resource["urn"]), resource.get("inputs", {}), resource.get("outputs", {})

    def pick(ttype: str | tuple[str, ...], tid: str | None = None, node: str | None = None) -> list[Task]:
        types = (ttype,) if isinstance(ttype, str) else ttype
        return [
            t
            for t in tasks
            if t["type"] in types and (tid is None or t["id"] == tid) and (node is None or t["node"] == node)
        ]

    if kind.endswith("ceph:Install"):
        return pick("vncshell", node=inputs.get("node"))
    if kind.endswith("ceph:Monitor"):
        return pick("cephcreatemon", f"mon.{outputs.get('mon_id') or inputs.get('node')}")
    if kind.endswith("ceph:Manager"):
        return pick("cephcreatemgr", f"mgr.{outputs.get('mgr_id') or inputs.get('node')}")
    if kind.endswith("ceph:Osd"):
        return pick("cephcreateosd", str(inputs.get("device", "")).rsplit("/", 1)[-1], inputs.get("node"))
    if kind.endswith("ceph:Pool"):
        return pick("cephcreatepool", inputs.get("pool_name"))
    if kind.endswith("vm:DiskMove"):
        return pick("qmmove", str(inputs.get("vm_id")))
    if kind.endswith("VmLegacy"):
        return pick(("qmcreate", "qmstart", "hastart", "qmconfig"), str(outputs.get("vmId") or inputs.get("vmId")))
    return []


def busy_seconds(tasks: list[Task]) -> float:
    """Wall time the tasks covered (overlapping tasks count once)."""
    spans = sorted((t["start"], t["end"]) for t in tasks if t.get("start") and t.get("end"))
    total, cur_start, cur_end = 0.0, None, None
    for start, end in spans:
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def critical_path(resources: list[dict[str, Any]], weight: dict[str, float]) -> tuple[float, list[str]]:
    """Longest weighted chain through the dependency graph (resources come in dependency order)."""
    best: dict[str, tuple[float, list[str]]] = {}
    for res in resources:
        urn = res["urn"]
        deps = set(res.get("dependencies", [])) | ({res["parent"]} if res.get("parent") else set())
        before = max((best[d] for d in deps if d in best), default=(0.0, []), key=lambda x: x[0])
        best[urn] = (before[0] + weight.get(urn, 0.0), [*before[1], urn])
    return max(best.values(), default=(0.0, []), key=lambda x: x[0])


def runs_of(chain: tuple[LabTask, ...], longest_apart: int = 3) -> list[list[LabTask]]:
    """The chain's tasks, runs of more than `longest_apart` tasks of one type as one group each."""
    groups: list[list[LabTask]] = []
    for task in chain:
        if groups and groups[-1][0].type == task.type:
            groups[-1].append(task)
        else:
            groups.append([task])
    return [part for group in groups for part in ([group] if len(group) > longest_apart else [[t] for t in group])]


def chain_line(run: list[LabTask], epoch: float, could_end: float) -> str:
    first, last = run[0], run[-1]
    ran = f"ran {first.start - epoch:.1f}-{last.end - epoch:.1f} s, could end by {could_end:.1f} s"
    if len(run) == 1:
        return f"{first.work:6.1f} s  {first.label}  ({ran})"
    # e.g. a hundred VM creates in the storage lock's order: one line
    return f"{sum(t.work for t in run):6.1f} s  {len(run)} x {first.type} ({first.label} .. {last.label}; {ran})"


def failed_task_lines(tasks: list[Task]) -> list[str]:
    """One line per (task type, exit status) among the tasks that did not end OK, most frequent first."""
    counts = Counter(
        (str(t.get("type")), str(t.get("exitstatus")))
        for t in tasks
        if t.get("exitstatus") not in (None, "OK") and not str(t.get("exitstatus")).startswith("WARNINGS")
    )
    return [f"{n} x {ttype}: {status}" for (ttype, status), n in counts.most_common()] or ["none"]


POOL_TYPE = "pulumi-python:dynamic/ceph:Pool"


def pool_waits_seen(resources: list[dict[str, Any]]) -> dict[str, float]:
    """Pool name -> when its CephPool create returned, its wait having seen the PGs active+clean (the
    state's `created` stamp)."""
    return {
        str(r["inputs"]["pool_name"]): state_stamp(r["created"])
        for r in resources
        if r.get("type") == POOL_TYPE and r.get("created") and "pool_name" in r.get("inputs", {})
    }


def pg_report_tasks(cleans: dict[str, float | None], seen: dict[str, float]) -> list[LabTask]:
    """Ceph's report lag per pool, where both ends are known and in order (a pool whose PGs changed
    state after its wait, or that its wait did not see, has none)."""
    return [
        pg_report_task(pool, clean, seen[pool])
        for pool, clean in cleans.items()
        if clean is not None and pool in seen and clean <= seen[pool]
    ]


def daemon_steps(
    timed: list[LabTask], create_type: str, stamps: dict[str, float], step: Callable[[LabTask, float], LabTask]
) -> list[LabTask]:
    """A step after each create of `create_type` whose daemon the cluster log names (`mon.pve2` -> `pve2`)."""
    named = [(t, t.id.partition(".")[2]) for t in timed if t.type == create_type]
    return [step(t, stamps[name]) for t, name in named if name in stamps]


def mon_join_tasks(timed: list[LabTask], joined: dict[str, float]) -> list[LabTask]:
    """A join step for each MON create the cluster log saw join."""
    return daemon_steps(timed, MON, joined, mon_join_task)


OSD_TYPE = "pulumi-python:dynamic/ceph:Osd"


def osd_ids(resources: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(node, device name as its create task names it: `sdb`) -> the OSD id, from the CephOsd outputs."""
    return {
        (str(r["inputs"]["node"]), str(r["outputs"]["devpath"]).rsplit("/", 1)[-1]): int(r["outputs"]["osd_id"])
        for r in resources
        if r.get("type") == OSD_TYPE and r.get("outputs", {}).get("osd_id") is not None and r["outputs"].get("devpath")
    }


def osd_boot_tasks(timed: list[LabTask], booted: dict[int, float], ids: dict[tuple[str, str], int]) -> list[LabTask]:
    """A boot step for each OSD create whose OSD the cluster log saw boot."""
    creates = [(t, ids.get((t.node, t.id))) for t in timed if t.type == OSD]
    return [osd_boot_task(t, booted[osd_id]) for t, osd_id in creates if osd_id is not None and osd_id in booted]


def mgr_available_tasks(timed: list[LabTask], available: dict[str, float]) -> list[LabTask]:
    """An activation step for each MGR create the cluster log saw become available."""
    return daemon_steps(timed, MGR, available, mgr_available_task)


def facts_of(cfg: HciConfig) -> StackFacts:
    """What bench/chain.py's rules need from the stack config."""
    pools = cfg.rbd_storages  # storage -> its pool
    return StackFacts(
        init_node=cfg.effective_api_nodes[0],
        pool_sizes={p.name: p.size for p in cfg.pools},
        vm_create_pools={
            str(vm.vm_id): pools[disk.storage].name for vm in cfg.vms for disk in vm.disks if disk.storage in pools
        },
        vm_move_pools={
            str(vm.vm_id): moves
            for vm in cfg.vms
            if (moves := tuple(pools[d.move_to].name for d in vm.disks if d.move_to and d.move_to in pools))
        },
    )


def stack_config(stack_file: str, env: dict[str, str]) -> HciConfig:
    raw = yaml.safe_load(Path(stack_file).read_text())["config"]
    keys = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("proxmox-hci:")}
    return load_config(keys, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack-file", default=str(REPO / "Pulumi.dev.yaml"))
    parser.add_argument("--lab-args", default="--pve-version 9")
    parser.add_argument("--save", help="also write the raw figures (tasks, requests, resources) to this JSON")
    parser.add_argument("--target", type=float, default=1.1, help="wall / forced limit to meet (1.3 for a big stack)")
    parser.add_argument(
        "--parallel",
        type=int,
        help="the engine's --parallel (its default: 4 x CPUs, pulumi/pulumi pkg/cmd/pulumi/operations/up.go)",
    )
    args = parser.parse_args()
    parallel = args.parallel or 4 * len(os.sched_getaffinity(0))  # GOMAXPROCS: the CPUs it may run on
    base = Path(tempfile.mkdtemp(prefix="bench-orchestration-"))
    lab = start_lab(base / "lab", *shlex.split(args.lab_args))
    try:
        config = yaml.safe_load(Path(args.stack_file).read_text())
        lab_env = lab_environment(lab.info.state_dir)
        facts = facts_of(stack_config(args.stack_file, lab_env))
        project = PulumiProject.create(base, "bench", config, engine_bin(), lab_env)
        lab.control("POST", "/lab/requests/reset")
        start, epoch = time.monotonic(), time.time()
        out = project.up(*(["--parallel", str(args.parallel)] if args.parallel else []), check=False)
        wall = time.monotonic() - start
        if out.returncode != 0:
            # A failed run is the one worth reading afterwards: keep its task and request logs.
            tasks = lab.tasks()
            if args.save:
                raw = {"epoch": epoch, "wall": wall, "failed": True, "output": out.stdout[-20000:] + out.stderr[-4000:]}
                raw |= {"tasks": tasks, "requests": lab.request_times()}
                Path(args.save).write_text(json.dumps(raw))
            print(f"cold pulumi up FAILED after {wall:.1f} s (exit {out.returncode}); failed lab tasks:")
            for line in failed_task_lines(tasks):
                print("    " + line)
            print(out.stdout[-3000:])
            raise SystemExit(1)
        state = json.loads(project.run("stack", "export").stdout)
        resources = state["deployment"]["resources"]
        tasks = lab.tasks()
        weight = {r["urn"]: busy_seconds(tasks_of(r, tasks)) for r in resources}
        _, path = critical_path(resources, weight)
        # Tasks along the path can overlap (the first MON starts its MGR's task while the next MON is
        # built): count their union, never a second of lab work twice.
        by_urn = {r["urn"]: r for r in resources}
        length = busy_seconds([t for urn in path for t in tasks_of(by_urn[urn], tasks)])
        print(f"cold pulumi up: {len(resources)} resources, {len(tasks)} lab tasks, engine --parallel {parallel}")
        print(f"  wall time            {wall:7.1f} s")
        print(f"  lab tasks, all       {busy_seconds(tasks):7.1f} s busy (overlaps counted once)")
        print(f"  critical path        {length:7.1f} s of lab tasks (their union) along:")
        for urn in path:
            if weight.get(urn):
                spans = [(t["start"] - epoch, t["end"] - epoch) for t in tasks_of(by_urn[urn], tasks)]
                when = ", ".join(f"{a:.1f}-{b:.1f}" for a, b in spans)
                print(f"    {weight[urn]:6.1f} s  {_kind(urn)} {urn.rsplit('::', 1)[-1]}  (at {when} s)")
        ratio = length / wall if wall else 0.0
        print(
            f"orchestration efficiency (critical path / wall): {ratio:.2f} (target >= 0.8): "
            f"{'OK' if ratio >= 0.8 else 'MISSED'}"
        )
        timed = [t for t in map(LabTask.from_record, tasks) if t is not None]
        # PVE's MON tasks end once the daemon is started; Ceph's cluster log says when each joined.
        lines = [str(line["t"]) for line in lab.api().nodes(facts.init_node).ceph.log.get(limit=0)]
        joins = mon_join_tasks(timed, join_stamps(lines))
        print("MON joins (the leader's line in Ceph's cluster log, GET /nodes/{node}/ceph/log):")
        for join in joins:
            print(f"    {join.id}: create task ended {join.start - epoch:.2f} s, in quorum at {join.end - epoch:.2f} s")
        # So do its OSD and MGR tasks: the OSDs boot, and the first MGR becomes available, after them.
        boots = osd_boot_tasks(timed, boot_stamps(lines), osd_ids(resources))
        actives = mgr_available_tasks(timed, available_stamps(lines))
        print("OSD boots and the active MGR (the MON's `boot` and MGR map lines in the cluster log):")
        for step in [*boots, *actives]:
            print(f"    {step.label}: create task ended {step.start - epoch:.2f} s, up at {step.end - epoch:.2f} s")
        timed += [*joins, *boots, *actives]
        limit = forced_limit(timed, facts)
        print(f"forced chain (what PVE and Ceph impose, this run's task durations): {limit.seconds:.1f} s along:")
        for run in runs_of(limit.chain):
            print("    " + chain_line(run, epoch, limit.earliest_end[run[-1]]))
        listings = {pool: json.loads(lab.ceph("pg", "ls-by-pool", pool, "-f", "json")) for pool in facts.pool_sizes}
        cleans = {pool: clean_since(listing) for pool, listing in listings.items()}
        reports = pg_report_tasks(cleans, pool_waits_seen(resources))
        if reports:
            print("Ceph's PG report lag (the OSDs' stamps, `ceph pg ls-by-pool`, to the pool's wait on `ceph status`):")
            for report in reports:
                created = [t for t in timed if t.type == POOL and t.id == report.id]
                ended = f"create task ended {created[-1].end - epoch:.2f} s, " if created else ""
                print(
                    f"    {report.id}: {ended}PGs active+clean by Ceph at {report.start - epoch:.2f} s, "
                    f"seen by the pool's wait at {report.end - epoch:.2f} s: {report.seconds:.2f} s"
                )
            counted = forced_limit([*timed, *reports], facts)
            print(
                f"  wall / limit with that lag counted as forced (for the pools' active+clean check; the target "
                f"is on the limit without): {wall:.1f} / {counted.seconds:.1f} = {wall / counted.seconds:.2f}"
            )
        else:
            # A stamp after the wait: the PGs peered again since (an OSD that joined later, say).
            stamps = {pool: f"{c - epoch:.2f} s" if c else "not all active+clean" for pool, c in cleans.items()}
            print(f"Ceph's PG report lag: not measured (the PGs' stamps came after the pools' waits: {stamps})")
        request_log = lab.request_times()
        if args.save:
            raw = {"epoch": epoch, "wall": wall, "resources": resources, "tasks": tasks, "requests": request_log}
            raw |= {"pg_clean": cleans, "pg_listings": listings, "mon_joins": {j.id: j.end for j in joins}}
            raw |= {"osd_boots": {b.label: b.end for b in boots}, "mgr_available": {a.id: a.end for a in actives}}
            Path(args.save).write_text(json.dumps(raw))
        requests = [Request(r["time"], r["method"], r["path"], r.get("seconds") or 0.0) for r in request_log]
        parts = breakdown(epoch, epoch + wall, timed, requests)
        print(f"where the wall time went ({len(requests)} requests):")
        for name, seconds, what in (
            ("startup", parts.startup, "engine, plugins and program until the first request"),
            ("tasks", parts.tasks, "at least one lab task running"),
            ("waits", parts.waits, "no task, a provider polling (quorum, up+in, active+clean, gates)"),
            ("gaps", parts.gaps, "no task, no poll: engine and program between steps, sync calls"),
            ("finish", parts.finish, "after the last request: state saved, engine ends"),
        ):
            print(f"    {name:<8}{seconds:7.1f} s  {what}")
        print("slowest API calls, by the lab's answer time (total / median / longest):")
        for slow in slowest_calls(requests):
            times = f"{slow.total:6.1f} s / {slow.median:5.2f} s / {slow.longest:5.2f} s"
            print(f"    {slow.call:<48} x{slow.count:<5} {times}")
        bound = wall / limit.seconds if limit.seconds else float("inf")
        verdict = "OK" if bound <= args.target else "MISSED"
        figures = f"{wall:.1f} / {limit.seconds:.1f} = {bound:.2f}"
        print(f"wall / forced limit: {figures} (target <= {args.target:g}): {verdict}")
    finally:
        stop_lab(base / "lab")


if __name__ == "__main__":
    main()
