"""The third-party client tier: flows of clients nobody here wrote, against a lab, checked against what real
PVE answers. One lab per PVE major for the whole tier: PVE 9 with real Ceph (its RBD steps make real images),
PVE 8 without Ceph daemons (its steps need none).

Ansible and community.proxmox live in a virtualenv of their own (tests/conformance/.venv, made by
scripts/setup.sh from tests/conformance/requirements.lock).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.client import Lab
from lab.pytest_plugin import LabFactory
from lab.tls import certificate_fingerprint
from tests import waiting

HERE = Path(__file__).parent
ANSIBLE_VENV = HERE / ".venv"
PLAYBOOKS = HERE / "playbooks"
# Real seconds one playbook run may take (it polls tasks once a second, as community.proxmox does).
PLAYBOOK_TIMEOUT = 900


@dataclass
class Step:
    """One task of a playbook run: its name, the module it ran, and how it ended."""

    name: str
    action: str
    failed: bool
    skipped: bool
    message: str

    @property
    def is_client_step(self) -> bool:
        """A call of the client under test (a community.proxmox module), not a check or a wait of ours."""
        return self.action.startswith("community.proxmox.")


@dataclass
class PlaybookRun:
    steps: list[Step] = field(default_factory=list)
    returncode: int = 0
    stderr: str = ""

    def failures(self) -> list[Step]:
        return [s for s in self.steps if s.failed]

    def report(self) -> str:
        lines = [f"{'FAILED' if s.failed else 'ok    '} {s.name}: {s.message}" for s in self.steps if s.failed]
        return "\n".join(lines) or "(no failed step)"


def ansible_playbook() -> Path:
    """The pinned ansible-playbook; scripts/setup.sh installs it (a missing one is a set-up error, not a skip)."""
    path = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/setup.sh --venv (it installs tests/conformance/requirements.lock)")
    return path


def step_of(task: dict[str, Any]) -> Step:
    result = task["hosts"].get("localhost", {})
    action = str(result.get("action") or task["task"].get("action") or "")
    failed = bool(result.get("failed")) or bool(result.get("unreachable"))
    message = str(result.get("msg") or result.get("exception") or "").splitlines()[0:1]
    return Step(task["task"]["name"], action, failed, bool(result.get("skipped")), message[0] if message else "")


def run_playbook(lab: Lab, playbook: str, extra: dict[str, Any], home: Path) -> PlaybookRun:
    """ansible-playbook against the lab, as an operator runs it: password login, the lab's CA verified."""
    home.mkdir(parents=True, exist_ok=True)
    info = lab.info
    host, port = info.endpoint.removeprefix("https://").rsplit(":", 1)
    variables = {
        "api_host": host,
        "api_port": int(port),
        "api_user": "root@pam",
        "api_password": info.root_password,
        "pve_major": info.pve_version,
        "nodes": info.nodes,
        "ceph_conf": info.ceph_conf,
        **extra,
    }
    vars_file = home / "vars.json"
    vars_file.write_text(json.dumps(variables))
    env = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": str(ANSIBLE_VENV / "bin" / "python"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "true",  # modules through stdin: no temporary files per task
        "REQUESTS_CA_BUNDLE": info.ca_cert,
    }
    proc = subprocess.run(
        [str(ansible_playbook()), str(PLAYBOOKS / playbook), "-e", f"@{vars_file}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    try:
        output = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        raise AssertionError(
            f"ansible-playbook printed no JSON (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        ) from None
    steps = [step_of(task) for play in output.get("plays", []) for task in play.get("tasks", [])]
    return PlaybookRun(steps=steps, returncode=proc.returncode, stderr=proc.stderr)


def wait_task(api: Any, upid: str, timeout: float = 300) -> str:
    return waiting.wait_task(api, upid, timeout)[0]


def with_rbd_storage(lab: Lab) -> None:
    """Ceph as an operator sets it up for VM disks: init, a MON (with its MGR), an OSD on every node, a pool
    with PVE's defaults (size 3, min_size 2) and the RBD storage `ceph-vm` on it."""
    token, root = lab.api(), lab.root_api()
    token.nodes("pve1").ceph.init.post(network=lab.public_network)
    assert wait_task(token, token.nodes("pve1").ceph.mon("pve1").post()) == "OK"
    waiting.wait_for(
        "an active MGR", lambda: any(m["state"] == "active" for m in token.nodes("pve1").ceph.mgr.get()), 120
    )
    upids = [root.nodes(node).ceph.osd.post(dev="/dev/sdb") for node in lab.nodes]
    assert [wait_task(root, upid) for upid in upids] == ["OK"] * len(upids)
    assert wait_task(token, token.nodes("pve1").ceph.pool.post(name="vms", pg_num=32, add_storages=0)) == "OK"
    token.storage.post(storage="ceph-vm", type="rbd", pool="vms", content="images")

    def pgs_active() -> bool:
        stat = json.loads(lab.ceph("pg", "stat", "--format", "json"))
        states = stat.get("pg_summary", stat).get("num_pg_by_state", [])
        return bool(states) and all("active" in s["name"] for s in states)

    waiting.wait_for("active PGs", pgs_active, 300)


@pytest.fixture(scope="session")
def pve9_lab(lab_factory: LabFactory) -> Iterator[Lab]:
    started = time.monotonic()
    lab = lab_factory("--ceph-installed", "--pve-version", "9")
    with_rbd_storage(lab)
    print(f"\nconformance: PVE 9 lab with Ceph up in {time.monotonic() - started:.0f} s")
    yield lab
    lab_factory.stop(lab)


@pytest.fixture(scope="session")
def pve8_lab(lab_factory: LabFactory) -> Iterator[Lab]:
    lab = lab_factory("--pve-version", "8")
    yield lab
    lab_factory.stop(lab)


def fingerprint(lab: Lab) -> str:
    """What a client that pins the node's certificate expects: the served certificate's fingerprint."""
    return certificate_fingerprint(Path(lab.info.state_dir) / "tls" / "server.pem")
