"""The kill drill with the real engine against a lab (hci_tools/kill_drill.py; issue 12, item 2), CI's share.

All on one lab, to keep the e2e tier short: `pulumi up` of the dev stack, from nothing, SIGKILLed to its
process group inside five different kinds of step (install, a MON joining quorum, OSD, pool, live disk
move). Points are chained: after each kill comes the documented recovery (`pulumi cancel`,
`python -m hci_tools.resume`), and the next `pulumi up` is itself killed at the next point, so it must
first get past the step the previous run was killed in. The last recovery runs to the end and must
converge. Then `pulumi destroy --exclude-protected` killed inside an HA resource delete, and a Ctrl-C
(one SIGINT) in the up that puts the HA objects back, each recovered and checked. bench/kill_drill.py
runs every point (13 of up, 3 of destroy, 3 Ctrl-C), each recovered to convergence, and prints the table.
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
# Five kinds of step, in the order a cold up reaches them (names from drill.UP_POINTS). Each must be a
# step the killed run before it cannot have reached: a task PVE goes on running after the kill is
# seen only by the drill's next look (0.1 s and more), and the RBD storage call is followed that
# closely by the disk move (a gate with no OSD change passes on its first read) that the killed
# run's move task could already have run. The call kind (no task) is the destroy and Ctrl-C tests' own.
CI_CHAIN = ("install", "mon-pve2", "osd", "pool", "disk-move")
CI_DESTROY = "destroy-ha-resource"
CI_INTERRUPT = "ctrl-c-ha"


def points(names: Sequence[str]) -> list[drill.KillPoint]:
    by_name = {p.name: p for p in (*drill.UP_POINTS, *drill.DESTROY_POINTS, *drill.INTERRUPT_POINTS)}
    return [by_name[name] for name in names]


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
        assert interrupted.survivors == [], f"processes of the run interrupted at {point.name} left running"
        print(f"\n{point.name:24s} {point.step:55s} interrupted at {interrupted.at:5.1f} s")
    assert interrupted is not None
    return drill.recover(one.project, command, killed=interrupted.point.signal == signal.SIGKILL)


def test_up_killed_inside_five_kinds_of_step_converges(killed: Drill) -> None:
    final = chain(killed, points(CI_CHAIN), UP)
    assert final.ok, final.output[-6000:]
    assert drill.problems(killed.lab, killed.project, killed.data) == []
    assert drill.duplicate_tasks(killed.lab) == []
    assert killed.data.digest is not None  # data was written before the last kills, and read back intact
    print(f"\nconverged after {len(CI_CHAIN)} chained kill points; last recovery {final.seconds:.0f} s")


def test_each_recovery_said_what_it_took_over(killed: Drill) -> None:
    """The run after the kill inside mon.pve2's create (its log is the next point's) took the MON the killed
    run made over, and said so in its output; the run after the OSD kill, likewise its OSD."""
    after_mon = (killed.project.root / "interrupted-osd.log").read_text()
    assert "took over mon.pve2: it is exactly what this create would make" in after_mon, after_mon[-4000:]
    after_osd = (killed.project.root / "interrupted-pool.log").read_text()
    assert "took over osd." in after_osd, after_osd[-4000:]


def test_destroy_killed_converges(killed: Drill) -> None:
    final = chain(killed, points([CI_DESTROY]), DESTROY)
    assert final.ok, final.output[-6000:]
    assert drill.problems(killed.lab, killed.project, killed.data, destroyed=True) == []


def test_up_interrupted_by_ctrl_c_converges(killed: Drill) -> None:
    """After the destroy, an up puts the HA objects back; one SIGINT inside it, then the same recovery."""
    final = chain(killed, points([CI_INTERRUPT]), UP)
    assert final.ok, final.output[-6000:]
    assert drill.problems(killed.lab, killed.project, killed.data) == []
    assert drill.duplicate_tasks(killed.lab) == []
