"""pytest fixtures for the lab: `lab` (one per session), `lab_factory` (fresh labs on demand).

Labs are started with the real CLI (`python -m lab up`) in their own process and stopped by PID
at the end of the session, whatever the tests did. Set PROXMOX_HCI_LAB_DIR to run the tests
against a lab that is already up instead (it is then left running).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from lab.cli import control
from lab.statefile import LabInfo


@dataclass
class Lab:
    """A running lab, as a test sees it."""

    info: LabInfo
    _cleanup: list[Any] = field(default_factory=list, repr=False)

    def __getattr__(self, name: str) -> Any:  # endpoint, ca_cert, nodes, ... straight from lab.json
        return getattr(self.info, name)

    @property
    def token_id(self) -> str:
        return self.info.api_token.split("=", 1)[0]

    def api(self) -> Any:
        """proxmoxer with the API token (most calls)."""
        from proxmoxer import ProxmoxAPI

        host = self.info.endpoint.removeprefix("https://")
        user, _, rest = self.info.api_token.partition("!")
        name, _, value = rest.partition("=")
        return ProxmoxAPI(
            host, user=user, token_name=name, token_value=value, verify_ssl=self.info.ca_cert, timeout=120
        )

    def root_api(self) -> Any:
        """proxmoxer with a root@pam password ticket (the root-only calls)."""
        from proxmoxer import ProxmoxAPI

        host = self.info.endpoint.removeprefix("https://")
        return ProxmoxAPI(
            host, user="root@pam", password=self.info.root_password, verify_ssl=self.info.ca_cert, timeout=120
        )

    def ceph(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """The `ceph` CLI against this lab's cluster (the truth, not the API's view of it)."""
        out = subprocess.run(
            ["ceph", "-c", self.info.ceph_conf, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and out.returncode != 0:
            raise AssertionError(f"ceph {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def rbd(self, *args: str, timeout: float = 60) -> str:
        out = subprocess.run(
            ["rbd", "-c", self.info.ceph_conf, *args], capture_output=True, text=True, timeout=timeout, check=True
        )
        return out.stdout

    def control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return control(self.info, method, path, payload)

    def fail_node(self, node: str) -> None:
        self.control("POST", f"/lab/nodes/{node}/fail")

    def recover_node(self, node: str) -> None:
        self.control("POST", f"/lab/nodes/{node}/recover")

    def fault(self, name: str, **kwargs: Any) -> None:
        self.control("POST", f"/lab/faults/{name}", kwargs)

    def clear_faults(self) -> None:
        self.control("POST", "/lab/faults-clear")

    def request_counts(self) -> dict[tuple[str, str], int]:
        data = self.control("GET", "/lab/requests")
        return {(c["method"], c["path"]): c["count"] for c in data["counts"]}

    def tasks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/lab/tasks")
        return result


def start_lab(state_dir: Path, *options: str) -> Lab:
    subprocess.run(
        [sys.executable, "-m", "lab", "up", "--state-dir", str(state_dir), *options], check=True, timeout=120
    )
    return Lab(LabInfo.load(state_dir))


def stop_lab(state_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "lab", "down", "--state-dir", str(state_dir)], check=False, timeout=180)


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


def api_reachable(lab: Lab) -> bool:
    try:
        requests.get(lab.info.endpoint + "/api2/json/version", verify=lab.info.ca_cert, timeout=5)
    except requests.RequestException:
        return False
    return True
