"""The kill drill: `pulumi up` (or `destroy`) of the dev stack killed at a chosen step, then recovered as an
operator's CI would, and checked for convergence (issue 12, item 2).

A kill point names a kind of step by what the lab sees of it: a task appearing in its task log
(`cephcreatemon mon.pve2`), or a request reaching it (`POST /storage`, for the calls PVE answers
without a task). The run is started in a process group of its own, as a CI job's, and the signal
goes to that group the moment the step is seen (plus `after` seconds): SIGKILL, as a cancelled job
or a dropped SSH session delivers it, or one SIGINT, as Ctrl-C does.

Recovery is the documented sequence, non-interactive, the same whatever was interrupted:
`pulumi cancel --yes` (after a SIGKILL), `python -m hci_tools.resume`, then one plain `pulumi up`
(or the destroy again). Converged (`problems()` is empty) means: HEALTH_OK; exactly the declared
MONs, MGRs, OSDs, pools, storages, VMs and HA resources; no pending operation in `pulumi stack
export`; `pulumi up --expect-no-changes` passes; and the data written before the kill reads back
intact.

tests/e2e/test_kill_drill.py chains a few points of different kinds on one lab (each recovery is itself
killed at the next point); bench/kill_drill.py runs every point, each recovered to convergence, and
prints the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hci_tools.pulumi_project import REPO, PulumiCommandFailed, PulumiProject
from hci_tools.run_processes import RUN_ID_VARIABLE, new_run_id, processes_of

POLL = 0.1  # seconds between two looks at the lab while waiting for a step
STEP_TIMEOUT = 600.0
SURVIVOR_WINDOW = 30.0  # no process of a killed run may be left this long after the kill (issue 12, item 8)
HEALTH_TIMEOUT = 240.0
DATA_POOL = "vm-pool"
DATA_IMAGE = "drill-data"
DATA_BYTES = 4 * 2**20

# What the dev stack declares (Pulumi.dev.yaml), as the lab shows it.
MONS = {"pve1", "pve2", "pve3"}
MGRS = {"pve1", "pve2"}
OSDS = 3
POOLS = {DATA_POOL}
STORAGES = {"ceph-vm"}
VMS = {101, 102, 103}
HA_RESOURCES = {"vm:101", "vm:102"}
HA_RULES = {"hci-nodes"}


@dataclass(frozen=True)
class KillPoint:
    name: str
    step: str  # the kind of step it interrupts, for the table
    task: tuple[str, str] | None = None  # (type, id) of a task the step runs
    request: tuple[str, str] | None = None  # (method, path template) of a call PVE answers without a task
    after: float = 0.0  # seconds after the step is seen
    signal: int = signal.SIGKILL
    nth: int = 1  # for a request: the nth one of this run

    def seen(
        self, tasks: Sequence[dict[str, Any]], known: set[str], requests: dict[tuple[str, str], int], before: int
    ) -> bool:
        """Has this run reached the step: a new task of ours (not among `known`), or one more request?"""
        if self.task is not None:
            kind, ident = self.task
            return any(t["type"] == kind and t["id"] == ident and t["upid"] not in known for t in tasks)
        return self.request is not None and requests.get(self.request, 0) >= before + self.nth


# Each inside a different kind of step of the dev stack's cold up (kinds and ids from its task log), in
# the order a run reaches them, so that each recovery can itself be killed at the next one (CHAIN).
UP_POINTS: tuple[KillPoint, ...] = (
    KillPoint("vm-103", "VM create (local storage, first thing created)", task=("qmcreate", "103")),
    KillPoint("install", "Ceph install (pveceph install in the node's terminal)", task=("vncshell", "")),
    KillPoint("init", "pveceph init (a call, no task)", request=("POST", "/nodes/{node}/ceph/init")),
    KillPoint("mon-pve1", "first MON create (also starts mgr.pve1)", task=("cephcreatemon", "mon.pve1"), after=0.3),
    # PVE's MON task ends once the daemon is started (about 0.5 s here); a second later the provider
    # is waiting for the MON to join the quorum, which takes a 2 s election or more.
    KillPoint("mon-pve2", "MON joining quorum (after its task)", task=("cephcreatemon", "mon.pve2"), after=1.0),
    KillPoint("mon-pve3", "MON joining quorum (after its task)", task=("cephcreatemon", "mon.pve3"), after=1.0),
    # Likewise the MGR task ends once the daemon is started; a second later the MGR is registering.
    KillPoint("mgr-pve2", "MGR registering (after its task)", task=("cephcreatemgr", "mgr.pve2"), after=1.0),
    KillPoint("osd", "OSD create (ceph-volume on the disk)", task=("cephcreateosd", "sdb"), after=1.5),
    KillPoint("pool", "pool create", task=("cephcreatepool", DATA_POOL)),
    KillPoint("storage", "RBD storage create (a call, no task)", request=("POST", "/storage")),
    KillPoint("disk-move", "live disk move to Ceph", task=("qmmove", "103")),
    KillPoint("ha", "HA resource create (a call, no task)", request=("POST", "/cluster/ha/resources")),
    # Runs beside the disk move, so a chain cannot reach both; the bench runs it on a lab of its own.
    KillPoint("vm-101", "VM create on Ceph", task=("qmcreate", "101")),
)
CHAIN = tuple(point for point in UP_POINTS if point.name != "vm-101")
DESTROY_POINTS: tuple[KillPoint, ...] = (
    KillPoint("destroy-ha-rule", "HA rule delete", request=("DELETE", "/cluster/ha/rules/{rule}")),
    KillPoint("destroy-ha-resource", "HA resource delete", request=("DELETE", "/cluster/ha/resources/{sid}")),
    KillPoint(
        "destroy-ha-resource-2", "second HA resource delete", request=("DELETE", "/cluster/ha/resources/{sid}"), nth=2
    ),
)
# Ctrl-C: Pulumi cancels, waits for the steps in flight and ends; nothing to `pulumi cancel` after it.
FRESH_INTERRUPTS: tuple[KillPoint, ...] = (
    KillPoint("ctrl-c-mon", "MON create", task=("cephcreatemon", "mon.pve2"), after=1.0, signal=signal.SIGINT),
    KillPoint("ctrl-c-osd", "OSD create", task=("cephcreateosd", "sdb"), after=1.0, signal=signal.SIGINT),
)
# In an up that puts back what `destroy --exclude-protected` removed (the HA objects).
SHARED_INTERRUPTS: tuple[KillPoint, ...] = (
    KillPoint("ctrl-c-ha", "HA resource create", request=("POST", "/cluster/ha/resources"), signal=signal.SIGINT),
)
INTERRUPT_POINTS = FRESH_INTERRUPTS + SHARED_INTERRUPTS


@dataclass
class Interrupted:
    point: KillPoint
    returncode: int
    at: float  # seconds into the run; -1: the run ended before reaching the step
    log: str
    survivors: list[str] = field(default_factory=list)  # processes of the run alive SURVIVOR_WINDOW after it

    @property
    def reached(self) -> bool:
        return self.at >= 0


@dataclass
class Recovery:
    seconds: float
    steps: list[tuple[str, int]]  # (command, exit code)
    output: str

    @property
    def ok(self) -> bool:
        return all(code == 0 for _, code in self.steps)


class DataWriter:
    """Writes known bytes into an RBD image as soon as the stack's RBD storage exists, and checks them later.

    Not before: until its create is recorded, a pool is the run's to finish, and a pool that already
    holds data is not one a create makes (logic/pool.py, takeover). Once the storage on it exists,
    the pool's create is in the state, and the data is what a VM would have written.
    """

    def __init__(self, lab: Any, directory: Path) -> None:
        self.lab = lab
        self.path = directory / "drill-data.bin"
        self.digest: str | None = None
        self._writer: threading.Thread | None = None

    def write_if_possible(self) -> None:
        """Start the write once the storage exists, in a thread: the caller's polling must not stall."""
        if self._writer is None and self._storage_exists():
            self._writer = threading.Thread(target=self._write, daemon=True)
            self._writer.start()

    def _write(self) -> None:
        data = os.urandom(DATA_BYTES)
        self.path.write_bytes(data)
        self.lab.rbd("import", str(self.path), f"{DATA_POOL}/{DATA_IMAGE}")
        self.digest = hashlib.sha256(data).hexdigest()

    def problem(self) -> str | None:
        if self._writer is not None:
            self._writer.join()
        if self.digest is None:
            return None
        back = self.path.with_suffix(".back")
        back.unlink(missing_ok=True)
        self.lab.rbd("export", f"{DATA_POOL}/{DATA_IMAGE}", str(back))
        found = hashlib.sha256(back.read_bytes()).hexdigest()
        return None if found == self.digest else f"data written before the kill changed: {found} != {self.digest}"

    def _storage_exists(self) -> bool:
        return any(s.get("storage") in STORAGES for s in self.lab.api().storage.get())


def pulumi_command(project: PulumiProject, *args: str) -> list[str]:
    return ["pulumi", *args, "--stack", project.stack, "--non-interactive"]


def interrupt(
    project: PulumiProject,
    lab: Any,
    point: KillPoint,
    command: Sequence[str],
    data: DataWriter | None = None,
    env: dict[str, str] | None = None,
) -> Interrupted:
    """Run `pulumi <command>` and signal its process group when `point`'s step is seen."""
    log = project.root / f"interrupted-{point.name}.log"
    before = lab.request_counts().get(point.request, 0) if point.request else 0
    known = {t["upid"] for t in lab.tasks()}
    run_id = new_run_id()
    start = time.monotonic()
    with log.open("w") as sink:
        run = subprocess.Popen(
            pulumi_command(project, *command),
            cwd=project.root,
            env={**project.env, **(env or {}), RUN_ID_VARIABLE: run_id},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a CI job's
        )
    at = -1.0
    try:
        while time.monotonic() - start < STEP_TIMEOUT:
            ended = run.poll() is not None
            if data is not None:
                data.write_if_possible()
            tasks = lab.tasks() if point.task else []
            requests = lab.request_counts() if point.request else {}
            if ended:
                break  # it ended before the step was seen: the point was missed (`reached` is false)
            if point.seen(tasks, known, requests, before):
                time.sleep(point.after)
                at = time.monotonic() - start
                os.killpg(run.pid, point.signal)
                break
            time.sleep(POLL)
        returncode = run.wait(timeout=STEP_TIMEOUT)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    deadline = time.monotonic() + SURVIVOR_WINDOW
    while processes_of(run_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = [command for _, command in processes_of(run_id)]
    for pid, _ in processes_of(run_id):  # the next run must not race them; the drill reports them
        os.kill(pid, signal.SIGKILL)
    return Interrupted(point, returncode, at, log.read_text(), survivors)


def prepare(project: PulumiProject, killed: bool) -> Recovery:
    """What comes before the next run: `pulumi cancel` (after a kill; the lock the killed run left),
    then `python -m hci_tools.resume`. Both non-interactive, the same whatever was interrupted."""
    sequence: list[list[str]] = [pulumi_command(project, "cancel", "--yes")] if killed else []
    sequence.append([sys.executable, "-m", "hci_tools.resume", "--stack", project.stack])
    return _run_all(project, sequence)


def finish(project: PulumiProject, command: Sequence[str]) -> Recovery:
    """The one plain run that must converge."""
    return _run_all(project, [pulumi_command(project, *command)])


def recover(project: PulumiProject, command: Sequence[str], killed: bool) -> Recovery:
    """prepare() then finish(): the whole documented recovery, timed."""
    before, after = prepare(project, killed), None
    if before.ok:
        after = finish(project, command)
    steps = before.steps + (after.steps if after else [])
    output = before.output + ("\n" + after.output if after else "")
    return Recovery(before.seconds + (after.seconds if after else 0.0), steps, output)


def _run_all(project: PulumiProject, sequence: Sequence[Sequence[str]]) -> Recovery:
    start = time.monotonic()
    steps: list[tuple[str, int]] = []
    output = []
    env = {**project.env, "PYTHONPATH": str(REPO)}
    for cmd in sequence:
        out = subprocess.run(list(cmd), cwd=project.root, env=env, capture_output=True, text=True, check=False)
        # `pulumi cancel` fails when there is no lock to cancel (the run ended on its own): not a failure.
        code = 0 if list(cmd[1:2]) == ["cancel"] else out.returncode
        steps.append((" ".join(cmd[:3]), code))
        output.append(f"$ {' '.join(cmd)}\n{out.stdout[-4000:]}{out.stderr[-4000:]}")
        if code != 0:
            break
    return Recovery(time.monotonic() - start, steps, "\n".join(output))


def wait_for(what: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(2)
    return what()


def _ceph(lab: Any, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def pending_operations(project: PulumiProject) -> list[str]:
    deployment = json.loads(project.run("stack", "export").stdout)["deployment"]
    return [f"{op['type']} {op['resource']['urn']}" for op in deployment.get("pending_operations") or []]


def problems(lab: Any, project: PulumiProject, data: DataWriter | None, *, destroyed: bool = False) -> list[str]:
    """Why the stack has not converged after a recovery (empty: converged).

    After `destroy --exclude-protected`, the HA rule and resources are gone and the rest stays.
    """
    try:
        return _problems(lab, project, data, destroyed)
    except (AssertionError, OSError, ValueError, KeyError, PulumiCommandFailed) as exc:  # nothing to ask
        return [f"could not check convergence: {type(exc).__name__}: {str(exc)[:2000]}"]


def _problems(lab: Any, project: PulumiProject, data: DataWriter | None, destroyed: bool) -> list[str]:
    out = []
    if not wait_for(lambda: _ceph(lab, "health")["status"] == "HEALTH_OK", HEALTH_TIMEOUT):
        out.append(f"health is {_ceph(lab, 'health')['status']}, not HEALTH_OK")
    status = _ceph(lab, "status")
    if set(status["quorum_names"]) != MONS or len(_ceph(lab, "mon", "dump")["mons"]) != len(MONS):
        names = sorted(m["name"] for m in _ceph(lab, "mon", "dump")["mons"])
        out.append(f"MONs: {names}, quorum {status['quorum_names']}")
    mgr = _ceph(lab, "mgr", "dump")
    mgrs = {mgr.get("active_name"), *(s["name"] for s in mgr.get("standbys", []))} - {None, ""}
    if mgrs != MGRS:
        out.append(f"MGRs: {sorted(mgrs)}, declared {sorted(MGRS)}")
    osdmap = status["osdmap"]
    if (osdmap["num_osds"], osdmap["num_up_osds"], osdmap["num_in_osds"]) != (OSDS, OSDS, OSDS):
        out.append(f"OSDs (all, up, in): {osdmap['num_osds']}, {osdmap['num_up_osds']}, {osdmap['num_in_osds']}")
    pools = set(lab.ceph("osd", "pool", "ls").split()) - {".mgr"}
    if pools != POOLS:
        out.append(f"pools: {sorted(pools)}")
    api = lab.api()
    rbd = {s["storage"] for s in api.storage.get() if s.get("type") == "rbd"}
    if rbd != STORAGES:
        out.append(f"RBD storages: {sorted(rbd)}")
    vms = {int(r["vmid"]) for r in api.cluster.resources.get(type="vm")}
    if vms != VMS:
        out.append(f"VMs: {sorted(vms)}")
    ha = {r["sid"] for r in api.cluster.ha.resources.get()}
    rules = {r["rule"] for r in api.cluster.ha.rules.get()}
    wanted_ha, wanted_rules = (set(), set()) if destroyed else (HA_RESOURCES, HA_RULES)
    if (ha, rules) != (wanted_ha, wanted_rules):
        out.append(f"HA resources {sorted(ha)}, rules {sorted(rules)}")
    pending = pending_operations(project)
    if pending:
        out.append(f"pending operations left in the state: {pending}")
    if not destroyed:
        again = project.up("--expect-no-changes", check=False)
        if again.returncode != 0:
            out.append(f"`pulumi up --expect-no-changes` failed:\n{again.stdout[-3000:]}")
    if data is not None:
        changed = data.problem()
        if changed:
            out.append(changed)
    return out


def duplicate_tasks(lab: Any) -> list[str]:
    """Objects made twice: successful create tasks of the same type on the same object."""
    seen: dict[tuple[str, str, str], int] = {}
    for task in lab.tasks():
        made = task["type"] in ("cephcreatemon", "cephcreatemgr", "cephcreateosd", "cephcreatepool", "qmcreate")
        if made and task.get("exitstatus") == "OK":
            key = (task["node"], task["type"], task["id"])
            seen[key] = seen.get(key, 0) + 1
    return [f"{kind} {ident} on {node} x{count}" for (node, kind, ident), count in sorted(seen.items()) if count > 1]
