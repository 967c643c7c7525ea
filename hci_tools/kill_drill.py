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

tests/e2e/test_kill_drill.py chains points on one lab (each recovery is itself killed at the next
point); bench/kill_drill.py runs every point on a fresh lab and prints the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hci_tools.pulumi_project import REPO, PulumiProject

POLL = 0.1  # seconds between two looks at the lab while waiting for a step
STEP_TIMEOUT = 600.0
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

    def seen(self, tasks: Sequence[dict[str, Any]], requests: dict[tuple[str, str], int], before: int) -> bool:
        if self.task is not None:
            kind, ident = self.task
            return any(t["type"] == kind and t["id"] == ident for t in tasks)
        return self.request is not None and requests.get(self.request, 0) > before


# Each inside a different kind of step of the dev stack's cold up (kinds and ids from its task log).
UP_POINTS: tuple[KillPoint, ...] = (
    KillPoint("vm-103", "VM create (local storage, first thing created)", task=("qmcreate", "103")),
    KillPoint("install", "Ceph install (pveceph install in the node's terminal)", task=("vncshell", "")),
    KillPoint("init", "pveceph init (a call, no task)", request=("POST", "/nodes/{node}/ceph/init")),
    KillPoint("mon-pve1", "first MON create (also starts mgr.pve1)", task=("cephcreatemon", "mon.pve1"), after=0.3),
    KillPoint("mon-pve2", "MON create, joining quorum", task=("cephcreatemon", "mon.pve2"), after=1.0),
    KillPoint("mon-pve3", "MON create, joining quorum", task=("cephcreatemon", "mon.pve3"), after=1.0),
    KillPoint("mgr-pve2", "MGR create", task=("cephcreatemgr", "mgr.pve2"), after=1.0),
    KillPoint("osd", "OSD create (ceph-volume on the disk)", task=("cephcreateosd", "sdb"), after=1.5),
    KillPoint("pool", "pool create", task=("cephcreatepool", DATA_POOL)),
    KillPoint("storage", "RBD storage create (a call, no task)", request=("POST", "/storage")),
    KillPoint("vm-101", "VM create on Ceph", task=("qmcreate", "101")),
    KillPoint("disk-move", "live disk move to Ceph", task=("qmmove", "103")),
    KillPoint("ha", "HA resource create (a call, no task)", request=("POST", "/cluster/ha/resources")),
)
DESTROY_POINTS: tuple[KillPoint, ...] = (
    KillPoint("destroy-ha-rule", "HA rule delete", request=("DELETE", "/cluster/ha/rules/{rule}")),
    KillPoint("destroy-ha-resource", "HA resource delete", request=("DELETE", "/cluster/ha/resources/{sid}")),
    KillPoint("destroy-ha-resource-2", "second HA resource delete", request=("DELETE", "/cluster/ha/resources/{sid}")),
)
INTERRUPT_POINTS: tuple[KillPoint, ...] = (
    KillPoint("ctrl-c-mon", "MON create", task=("cephcreatemon", "mon.pve2"), after=1.0, signal=signal.SIGINT),
    KillPoint("ctrl-c-osd", "OSD create", task=("cephcreateosd", "sdb"), after=1.0, signal=signal.SIGINT),
    KillPoint("ctrl-c-vm", "VM create", task=("qmcreate", "101"), signal=signal.SIGINT),
)


@dataclass
class Interrupted:
    point: KillPoint
    returncode: int
    at: float  # seconds into the run
    log: str


@dataclass
class Recovery:
    seconds: float
    steps: list[tuple[str, int]]  # (command, exit code)
    output: str

    @property
    def ok(self) -> bool:
        return all(code == 0 for _, code in self.steps)


class DataWriter:
    """Writes known bytes into an RBD image as soon as the pool exists, and checks them later."""

    def __init__(self, lab: Any, directory: Path) -> None:
        self.lab = lab
        self.path = directory / "drill-data.bin"
        self.digest: str | None = None

    def write_if_possible(self) -> None:
        if self.digest is not None or DATA_POOL not in self._pools():
            return
        data = os.urandom(DATA_BYTES)
        self.path.write_bytes(data)
        self.lab.rbd("import", str(self.path), f"{DATA_POOL}/{DATA_IMAGE}")
        self.digest = hashlib.sha256(data).hexdigest()

    def problem(self) -> str | None:
        if self.digest is None:
            return None
        back = self.path.with_suffix(".back")
        back.unlink(missing_ok=True)
        self.lab.rbd("export", f"{DATA_POOL}/{DATA_IMAGE}", str(back))
        found = hashlib.sha256(back.read_bytes()).hexdigest()
        return None if found == self.digest else f"data written before the kill changed: {found} != {self.digest}"

    def _pools(self) -> list[str]:
        try:
            return str(self.lab.ceph("osd", "pool", "ls", timeout=10)).split()
        except (AssertionError, subprocess.SubprocessError):
            return []


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
    start = time.monotonic()
    with log.open("w") as sink:
        run = subprocess.Popen(
            pulumi_command(project, *command),
            cwd=project.root,
            env={**project.env, **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a CI job's
        )
    at = -1.0
    try:
        while time.monotonic() - start < STEP_TIMEOUT:
            if run.poll() is not None:
                break  # it ended before the step: the point was missed (the caller sees returncode 0)
            if data is not None:
                data.write_if_possible()
            tasks = lab.tasks() if point.task else []
            requests = lab.request_counts() if point.request else {}
            if point.seen(tasks, requests, before):
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
    return Interrupted(point, returncode, at, log.read_text())


def recover(project: PulumiProject, command: Sequence[str], killed: bool) -> Recovery:
    """cancel (after a kill), hci_tools.resume, and the command again; each non-interactive."""
    start = time.monotonic()
    steps: list[tuple[str, int]] = []
    output = []
    sequence: list[list[str]] = []
    if killed:
        sequence.append(pulumi_command(project, "cancel", "--yes"))
    sequence.append([sys.executable, "-m", "hci_tools.resume", "--stack", project.stack])
    sequence.append(pulumi_command(project, *command))
    env = {**project.env, "PYTHONPATH": str(REPO)}
    for cmd in sequence:
        out = subprocess.run(cmd, cwd=project.root, env=env, capture_output=True, text=True, check=False)
        steps.append((" ".join(cmd[:3]), out.returncode))
        output.append(f"$ {' '.join(cmd)}\n{out.stdout[-4000:]}{out.stderr[-4000:]}")
        if out.returncode != 0 and cmd[1:2] != ["cancel"]:  # cancel fails when the lock is already gone
            break
    steps = [(cmd, 0 if cmd.startswith("pulumi cancel") else code) for cmd, code in steps]
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
