"""Faults during a full `pulumi up` of the dev stack (issue 12, item 3): converged, retries, duplicates.

Each scenario runs on a fresh lab: a cold `pulumi up` with a fault injected through the lab's control
endpoints (lab/handlers/control.py), from the start or from the moment the lab sees a given step:

  dropped       10 % of connections dropped (fakepve's flaky_network), every client
  proxy-5xx     a reverse proxy's HTML 502 page, three times each, on task status polls and the
                MON, OSD and pool creates
  slow-ceph     slow Ceph from the first OSD create: a fifth of every OSD's messages delayed 0.05 s
                (Ceph's own dispatch delay injection), fakepve's simulated RBD work slower too
  ceph-conf     another client holds the cfs lock on ceph.conf for 15 s from the cluster's init,
                so the first MON creates find it taken (PVE gives up after 10 s)
  node-595      pve3 answers 595 (PVE's proxy cannot reach it) for 60 s from the first MON create

A plain `pulumi up` is run again, with the fault still on, if one fails (at most RUNS in all). Then
the fault is cleared and hci_tools.kill_drill's checks run: HEALTH_OK, exactly the declared objects,
no pending operation, `up --expect-no-changes`. Printed per scenario: runs needed, converged, requests
our providers retried (their "retrying ..." notices in the output), objects made twice (tasks of the
lab's log that created the same object twice, and any object count off the declared one), seconds.

Usage: .venv/bin/python -m bench.faults_up [--scenarios NAME,NAME]   (through /work/bin/heavy)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hci_tools import kill_drill as drill
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.client import Lab, start_lab, stop_lab

RUNS = 3
PROXY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
PROXY_PATHS = (
    ("GET", "/nodes/{node}/tasks/{upid}/status"),
    ("POST", "/nodes/{node}/ceph/mon/{monid}"),
    ("POST", "/nodes/{node}/ceph/osd"),
    ("POST", "/nodes/{node}/ceph/pool"),
)


def proxy_pages(lab: Lab) -> None:
    for method, suffix in PROXY_PATHS:
        lab.fault("fail", method=method, suffix=suffix, status=502, message=PROXY_PAGE, html=True, times=3)


@dataclass(frozen=True)
class Scenario:
    name: str
    apply: Callable[[Lab], None]
    when: drill.KillPoint | None = None  # the step whose start triggers the fault; None: before the run


SCENARIOS = (
    Scenario("dropped", lambda lab: lab.fault("flaky_network", drop_rate=0.1, seed=7)),
    Scenario("proxy-5xx", proxy_pages),
    Scenario(
        "slow-ceph",
        lambda lab: lab.fault("ceph_slow", secs=0.05),
        drill.KillPoint("osd", "OSD create", task=("cephcreateosd", "sdb")),
    ),
    Scenario(
        "ceph-conf",
        lambda lab: lab.fault("ceph_conf_locked", secs=15),
        drill.KillPoint("init", "init", request=("POST", "/nodes/{node}/ceph/init")),
    ),
    Scenario(
        "node-595",
        lambda lab: lab.fault("node_unreachable", node="pve3", secs=60),
        drill.KillPoint("mon", "MON create", task=("cephcreatemon", "mon.pve1")),
    ),
)


@dataclass
class Result:
    name: str
    runs: int
    converged: bool
    retries: int
    duplicates: int
    seconds: float
    why: str

    def line(self) -> str:
        return (
            f"{self.name:12s} {self.runs:4d} {'yes' if self.converged else 'NO ':9s} "
            f"{self.retries:7d} {self.duplicates:10d} {self.seconds:8.1f}"
        )


HEADER = f"{'scenario':12s} {'runs':>4s} {'converged':9s} {'retries':>7s} {'duplicates':>10s} {'seconds':>8s}"


def up_with_fault(project: PulumiProject, lab: Lab, scenario: Scenario, applied: bool, log: Path) -> tuple[int, bool]:
    """One plain `pulumi up`; the fault goes in before it, or when its step is seen. (exit code, applied)"""
    if not applied and scenario.when is None:
        scenario.apply(lab)
        applied = True
    when = scenario.when
    known = {t["upid"] for t in lab.tasks()} if when else set()
    before = lab.request_counts().get(when.request, 0) if when and when.request else 0
    with log.open("w") as sink:
        run = subprocess.Popen(
            drill.pulumi_command(project, "up", "--yes", "--skip-preview"),
            cwd=project.root,
            env=project.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        while run.poll() is None:
            if not applied and when is not None:
                tasks = lab.tasks() if when.task else []
                requests = lab.request_counts() if when.request else {}
                if when.seen(tasks, known, requests, before):
                    scenario.apply(lab)
                    applied = True
            time.sleep(drill.POLL)
    return run.returncode, applied


def retries_in(output: str) -> int:
    """Our providers' "retrying ..." notices, counted once each: in the run's "Diagnostics:" list, where
    Pulumi lists every diagnostic under its resource (its status lines repeat the latest one)."""
    diagnostics = output.partition("\nDiagnostics:\n")[2]
    return sum(1 for line in diagnostics.splitlines() if line.startswith("    retrying "))


def run_scenario(base: Path, scenario: Scenario) -> Result:
    lab = start_lab(base / "lab", "--pve-version", "9")
    try:
        config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
        project = PulumiProject.create(base, "dev", config, engine_bin(), lab_environment(lab.info.state_dir))
        started = time.monotonic()
        applied, runs, code, outputs = False, 0, 1, []
        while runs < RUNS and code != 0:
            runs += 1
            log = base / f"up-{runs}.log"
            code, applied = up_with_fault(project, lab, scenario, applied, log)
            outputs.append(log.read_text())
        seconds = time.monotonic() - started
        lab.clear_faults()
        problems = [] if code == 0 else [f"{runs} runs failed; the last:\n{outputs[-1][-3000:]}"]
        problems += drill.problems(lab, project, None)
        duplicates = drill.duplicate_tasks(lab)
        # An object count off the declared one is a duplicate too (problems() names it).
        retries = sum(retries_in(text) for text in outputs)
        return Result(
            scenario.name,
            runs,
            not problems and not duplicates,
            retries,
            len(duplicates),
            seconds,
            "\n".join(problems + duplicates),
        )
    finally:
        stop_lab(base / "lab")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", help="comma-separated names (default: all)")
    args = parser.parse_args()
    names = args.scenarios.split(",") if args.scenarios else [s.name for s in SCENARIOS]
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        sys.exit(f"unknown scenarios: {sorted(unknown)}; known: {', '.join(s.name for s in SCENARIOS)}")
    base = Path(tempfile.mkdtemp(prefix="bench-faults-up-"))
    print(f"labs and logs under {base}\n{HEADER}", flush=True)
    results = []
    for scenario in SCENARIOS:
        if scenario.name in names:
            result = run_scenario(base / scenario.name, scenario)
            print(result.line(), flush=True)
            if result.why:
                print("    " + result.why.replace("\n", "\n    ")[:4000], flush=True)
            results.append(result)
    print(
        f"\nconverged {sum(r.converged for r in results)} of {len(results)}; "
        f"retries {sum(r.retries for r in results)}; duplicates {sum(r.duplicates for r in results)}",
        flush=True,
    )
    sys.exit(0 if all(r.converged for r in results) else 1)


if __name__ == "__main__":
    main()
