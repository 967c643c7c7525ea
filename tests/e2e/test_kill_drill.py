"""The kill drill with the real engine against a lab (hci_tools/kill_drill.py; issue 12, item 2).

`pulumi up` of the dev stack, from nothing, SIGKILLed to its process group inside each kind of step
(install, init, each MON, MGR, OSD, pool, storage, VM create, disk move, HA). Points are chained on
one lab to keep CI short: after each kill comes the documented recovery (`pulumi cancel`,
`python -m hci_tools.resume`), and the next `pulumi up` is itself killed at the next point, so it
must first get past the step the previous run was killed in. The last recovery runs to the end and
must converge. Then three kills of `pulumi destroy --exclude-protected`, and, on a second lab, three
Ctrl-Cs (one SIGINT). bench/kill_drill.py runs every point on a fresh lab of its own and times it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hci_tools import kill_drill as drill
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory

pytestmark = pytest.mark.e2e

UP = ("up", "--yes", "--skip-preview")
DESTROY = ("destroy", "--yes", "--skip-preview", "--exclude-protected")


@dataclass
class Drill:
    lab: Lab
    project: PulumiProject
    data: drill.DataWriter


def new_drill(lab_factory: LabFactory, base: Path) -> Drill:
    lab = lab_factory("--pve-version", "9")
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    project = PulumiProject.create(base, "dev", config, engine_bin(), lab_environment(lab.info.state_dir))
    return Drill(lab, project, drill.DataWriter(lab, base))


@pytest.fixture(scope="module")
def killed(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    one = new_drill(lab_factory, tmp_path_factory.mktemp("drill"))
    yield one
    lab_factory.stop(one.lab)


def chain(one: Drill, points: Sequence[drill.KillPoint], command: Sequence[str]) -> drill.Recovery:
    """Interrupt `command` at each point in turn, recovering between; then the run that must converge."""
    interrupted = None
    for point in points:
        if interrupted is not None:
            before = drill.prepare(one.project, killed=interrupted.point.signal == signal.SIGKILL)
            assert before.ok, before.output[-6000:]
        interrupted = drill.interrupt(one.project, one.lab, point, command, one.data)
        assert interrupted.reached, (
            f"the run after {point.name}'s predecessor ended (exit {interrupted.returncode}) before reaching "
            f"{point.name} ({point.step}):\n{interrupted.log[-6000:]}"
        )
        print(f"\n{point.name:24s} {point.step:55s} interrupted at {interrupted.at:5.1f} s")
    assert interrupted is not None
    return drill.recover(one.project, command, killed=interrupted.point.signal == signal.SIGKILL)


def test_up_killed_inside_every_kind_of_step_converges(killed: Drill) -> None:
    final = chain(killed, drill.CHAIN, UP)
    assert final.ok, final.output[-6000:]
    assert drill.problems(killed.lab, killed.project, killed.data) == []
    assert drill.duplicate_tasks(killed.lab) == []
    assert killed.data.digest is not None  # data was written before the last kills, and read back intact
    print(f"\nconverged {len(drill.CHAIN)} of {len(drill.CHAIN)} kill points; last recovery {final.seconds:.0f} s")


def test_each_recovery_said_what_it_took_over(killed: Drill) -> None:
    """The run after the kill inside mon.pve2's create (its log is the next point's) took the MON the killed
    run made over, and said so in its output; the run after the OSD kill, likewise its OSD."""
    after_mon = (killed.project.root / "interrupted-mon-pve3.log").read_text()
    assert "took over mon.pve2: it is exactly what this create would make" in after_mon, after_mon[-4000:]
    after_osd = (killed.project.root / "interrupted-pool.log").read_text()
    assert "took over osd." in after_osd, after_osd[-4000:]


def test_destroy_killed_three_times_converges(killed: Drill) -> None:
    final = chain(killed, drill.DESTROY_POINTS, DESTROY)
    assert final.ok, final.output[-6000:]
    assert drill.problems(killed.lab, killed.project, killed.data, destroyed=True) == []


def test_up_interrupted_by_ctrl_c_three_times_converges(
    lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    one = new_drill(lab_factory, tmp_path_factory.mktemp("ctrl-c"))
    try:
        final = chain(one, drill.INTERRUPT_POINTS, UP)
        assert final.ok, final.output[-6000:]
        assert drill.problems(one.lab, one.project, one.data) == []
        assert drill.duplicate_tasks(one.lab) == []
    finally:
        lab_factory.stop(one.lab)
