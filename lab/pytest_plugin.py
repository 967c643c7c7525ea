"""pytest fixtures for the lab: `lab` (one per session), `lab_factory` (fresh labs on demand).

Labs are started with the real CLI (`python -m lab up`) in their own process and stopped by PID
at the end of the session, whatever the tests did. Set PROXMOX_HCI_LAB_DIR to run the tests
against a lab that is already up instead (it is then left running).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.client import Lab, start_lab, stop_lab
from lab.statefile import LabInfo


class LabFactory:
    """Starts labs and remembers them, so the session can stop every one it started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[Path] = []

    def __call__(self, *options: str) -> Lab:
        state_dir = self.base / f"lab{len(self.started)}"
        self.started.append(state_dir)
        return start_lab(state_dir, *options)

    def stop(self, lab: Lab) -> None:
        stop_lab(Path(lab.info.state_dir))

    def stop_all(self) -> None:
        for state_dir in self.started:
            stop_lab(state_dir)


@pytest.fixture(scope="session")
def lab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    factory = LabFactory(tmp_path_factory.mktemp("labs"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def lab(lab_factory: LabFactory) -> Lab:
    """One 3-node PVE 9 lab for the session, Ceph packages installed, Ceph not initialised."""
    existing = os.environ.get("PROXMOX_HCI_LAB_DIR")
    if existing:
        return Lab(LabInfo.load(Path(existing)))
    return lab_factory("--ceph-installed")
