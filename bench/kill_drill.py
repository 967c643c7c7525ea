"""The whole kill drill (issue 12, item 2): every kill point, each recovered to convergence; prints the table.

Each point of `pulumi up` runs on a fresh lab: the dev stack's cold up is killed (SIGKILL to its process
group, or one SIGINT) when the lab sees the point's step, then the documented recovery runs (`pulumi
cancel` after a kill, `python -m hci_tools.resume`, one plain `pulumi up`), and hci_tools.kill_drill's
checks say whether it converged. The lab of the last `up` point (the HA resource create) is kept: its
stack is whole, so `pulumi destroy --exclude-protected` is killed there at each destroy point (the stack
restored by a plain `up` between two), and then a Ctrl-C lands in the up that puts the HA objects back.

The table: point, the step interrupted, when (seconds into the run), converged yes/no, seconds the
recovery took (cancel + resume + the run), objects made twice. tests/e2e/test_kill_drill.py runs a few
of these points, chained on one lab, in CI.

Usage: .venv/bin/python -m bench.kill_drill [--points NAME,NAME] [--list]
  (through /work/bin/heavy: it starts real Ceph daemons)
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from hci_tools import kill_drill as drill
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.client import Lab, start_lab, stop_lab

UP = ("up", "--yes", "--skip-preview")
DESTROY = ("destroy", "--yes", "--skip-preview", "--exclude-protected")
SHARED_FROM = "ha"  # the up point whose lab the destroy points and the Ctrl-C during an up of HA share


@dataclass
class Row:
    point: drill.KillPoint
    command: str
    at: float
    converged: bool
    seconds: float
    duplicates: int
    why: str

    def line(self) -> str:
        how = "SIGINT" if self.point.signal == signal.SIGINT else "SIGKILL"
        at = f"{self.at:6.1f}" if self.at >= 0 else "  miss"
        return (
            f"{self.point.name:22s} {how:7s} {self.command:7s} {self.point.step[:52]:52s} {at} "
            f"{'yes' if self.converged else 'NO ':3s} {self.seconds:7.1f} {self.duplicates:4d}"
        )


HEADER = (
    f"{'point':22s} {'signal':7s} {'run':7s} {'step interrupted':52s} {'at s':>6s} {'ok':3s} {'conv s':>7s} {'dup':>4s}"
)


@dataclass
class Stage:
    lab: Lab
    project: PulumiProject
    data: drill.DataWriter


def new_stage(base: Path) -> Stage:
    lab = start_lab(base / "lab", "--pve-version", "9")
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    project = PulumiProject.create(base, "dev", config, engine_bin(), lab_environment(lab.info.state_dir))
    return Stage(lab, project, drill.DataWriter(lab, base))


def run_point(stage: Stage, point: drill.KillPoint, command: Sequence[str]) -> Row:
    """Interrupt `command` at `point`, recover it, and check convergence."""
    destroy = command[0] == "destroy"
    cut = drill.interrupt(stage.project, stage.lab, point, command, stage.data)
    if not cut.reached:
        why = f"the run ended (exit {cut.returncode}) before the step:\n{cut.log[-2000:]}"
        return Row(point, command[0], cut.at, False, 0.0, 0, why)
    left = [f"left running {drill.SURVIVOR_WINDOW:.0f} s after the signal: {c[:120]}" for c in cut.survivors]
    recovery = drill.recover(stage.project, command, killed=point.signal == signal.SIGKILL)
    (stage.project.root / f"recovery-{point.name}.log").write_text(recovery.output)
    problems = left + ([] if recovery.ok else [f"recovery failed: {recovery.steps}\n{recovery.output[-3000:]}"])
    problems += drill.problems(stage.lab, stage.project, stage.data, destroyed=destroy)
    duplicates = drill.duplicate_tasks(stage.lab)
    return Row(
        point,
        command[0],
        cut.at,
        not problems and not duplicates,
        recovery.seconds,
        len(duplicates),
        "\n".join(problems + duplicates),
    )


def report(row: Row) -> Row:
    print(row.line(), flush=True)
    if row.why:
        print("    " + row.why.replace("\n", "\n    ")[:4000], flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", help="comma-separated point names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the points and exit")
    args = parser.parse_args()
    everything = (*drill.UP_POINTS, *drill.INTERRUPT_POINTS, *drill.DESTROY_POINTS)
    if args.list:
        for point in everything:
            print(f"{point.name:22s} {point.step}")
        return
    chosen = set(args.points.split(",")) if args.points else {p.name for p in everything}
    unknown = chosen - {p.name for p in everything}
    if unknown:
        sys.exit(f"unknown points: {sorted(unknown)}; --list shows them")
    base = Path(tempfile.mkdtemp(prefix="bench-kill-drill-"))
    print(f"labs and logs under {base}\n{HEADER}", flush=True)
    started = time.monotonic()
    rows: list[Row] = []
    shared_needed = any(p.name in chosen for p in (*drill.DESTROY_POINTS, *drill.SHARED_INTERRUPTS))
    fresh = [
        p
        for p in (*drill.UP_POINTS, *drill.FRESH_INTERRUPTS)
        if p.name in chosen or (p.name == SHARED_FROM and shared_needed)
    ]
    shared: Stage | None = None
    try:
        for n, point in enumerate(fresh):
            stage = new_stage(base / f"{n:02d}-{point.name}")
            try:
                row = report(run_point(stage, point, UP))
            except BaseException:
                stop_lab(Path(stage.lab.info.state_dir))
                raise
            if point.name in chosen:
                rows.append(row)
            if point.name == SHARED_FROM and shared_needed:
                shared = stage
            else:
                stop_lab(Path(stage.lab.info.state_dir))
        if shared is not None:
            destroys = [p for p in drill.DESTROY_POINTS if p.name in chosen]
            for i, point in enumerate(destroys):
                if i:  # the stack whole again before the next destroy
                    shared.project.up()
                rows.append(report(run_point(shared, point, DESTROY)))
            for point in drill.SHARED_INTERRUPTS:
                if point.name in chosen:
                    if not destroys:
                        shared.project.run("destroy", "--yes", "--skip-preview", "--exclude-protected")
                    rows.append(report(run_point(shared, point, UP)))
    finally:
        if shared is not None:
            stop_lab(Path(shared.lab.info.state_dir))
    converged = sum(row.converged for row in rows)
    kinds = {row.point.step for row in rows if row.converged}
    print(
        f"\nconverged {converged} of {len(rows)} points ({len(kinds)} kinds of step); "
        f"duplicates {sum(row.duplicates for row in rows)}; total {time.monotonic() - started:.0f} s",
        flush=True,
    )
    sys.exit(0 if converged == len(rows) else 1)


if __name__ == "__main__":
    main()
