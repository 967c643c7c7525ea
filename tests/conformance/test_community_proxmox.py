"""Ansible's community.proxmox 1.4.0 (ansible 12.3.0, over proxmoxer 2.3.0) against a PVE 9 lab with real Ceph
and a PVE 8 lab: the playbook (playbooks/community_proxmox.yml) runs an operator's day, and after each step
asserts what real PVE answers. A failed step is a lab defect until shown otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lab.client import Lab
from tests.conformance.conftest import PlaybookRun, fingerprint, run_playbook

pytestmark = pytest.mark.lab


def node_ips(lab: Lab) -> dict[str, str]:
    return {entry["name"]: entry["ip"] for entry in lab.api().cluster.status.get() if entry["type"] == "node"}


def operator_day(lab: Lab, shared_storage: str, home: Path) -> PlaybookRun:
    extra = {"node_ips": node_ips(lab), "fingerprint": fingerprint(lab), "shared_storage": shared_storage}
    return run_playbook(lab, "community_proxmox.yml", extra, home)


def check(run: PlaybookRun, major: int) -> None:
    steps = [s for s in run.steps if not s.skipped]
    calls = [s for s in steps if s.is_client_step]
    checks = [s for s in steps if s.action == "ansible.builtin.assert"]
    print(
        f"\nconformance PVE {major}: {sum(not s.failed for s in calls)} of {len(calls)} community.proxmox calls and "
        f"{sum(not s.failed for s in checks)} of {len(checks)} checks as on PVE"
    )
    assert steps, f"the playbook ran no task:\n{run.stderr[-4000:]}"
    client_steps = [s for s in steps if s.is_client_step]
    assert len(client_steps) >= 30, [s.name for s in client_steps]  # the whole day ran, not a prefix of it
    assert not run.failures(), f"steps that did not behave as on PVE:\n{run.report()}"
    assert run.returncode == 0, run.stderr[-4000:]


@pytest.fixture(scope="module")
def operator_days(pve9_lab: Lab, pve8_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Any]]:
    """Both majors' playbooks at once: they mostly wait (community.proxmox polls tasks once a second), so
    running them side by side saves most of the shorter one's time."""
    home = tmp_path_factory.mktemp("ansible")
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            9: pool.submit(operator_day, pve9_lab, "ceph-vm", home / "pve9"),
            8: pool.submit(operator_day, pve8_lab, "nfs-shared", home / "pve8"),
        }


def test_community_proxmox_on_pve9_with_ceph(pve9_lab: Lab, operator_days: dict[int, Any]) -> None:
    check(operator_days[9].result(), 9)
    # the disk added on RBD was a real image (the playbook checked it with `rbd info`), and the VMs' deletes
    # removed every image again
    assert json.loads(pve9_lab.rbd("ls", "--format", "json", "vms") or "[]") == []


def test_community_proxmox_on_pve8(operator_days: dict[int, Any]) -> None:
    check(operator_days[8].result(), 8)
