"""The HCI policy pack on the real engine: `pulumi preview --policy-pack policy` runs the pack
through our language host's RunPlugin; each rule fails a stack that breaks it, naming the resource
and the fix, and the dev stack passes. Previews only, against the session's lab (nothing is created).

Rules the program itself refuses before declaring anything (fewer than 3 MONs, two MONs on one
node, HA on local disks) are shown with tests/e2e/policy_probe, a program that declares the same
resources straight from its config.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab

pytestmark = pytest.mark.e2e

POLICY = str(REPO / "policy")
PROBE = Path(__file__).parent / "policy_probe"
KIND = "proxmox-hci:kind"


def dev_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    return data


def project(base: Path, stack: str, config: dict[str, Any], lab: Lab, kind: str | None, **kw: Any) -> PulumiProject:
    proj = PulumiProject.create(base, stack, config, engine_bin(), lab_environment(lab.info.state_dir), **kw)
    if kind:
        proj.run("stack", "tag", "set", KIND, kind)
    return proj


def preview(proj: PulumiProject) -> subprocess.CompletedProcess[str]:
    return proj.preview("--policy-pack", POLICY, check=False)


def violations(out: subprocess.CompletedProcess[str]) -> str:
    return out.stdout + out.stderr


def test_the_dev_stack_passes_every_policy_even_as_a_cluster(tmp_path: Path, lab: Lab) -> None:
    out = preview(project(tmp_path, "dev", dev_config(), lab, kind="cluster"))
    text = violations(out)
    assert out.returncode == 0, text[-4000:]
    assert "proxmox-hci@v" in text, text[-4000:]  # the pack ran: it is listed under Policies
    assert "[mandatory]" not in text and "[advisory]" not in text, text[-4000:]


def broken_cluster_config() -> dict[str, Any]:
    """The dev stack with every rule the program accepts broken: size-2 pool, one MGR, protection off,
    allowDataLoss on. (An even MON count is the program's own config check now; the probe below
    shows the pack's mon-quorum rule.)"""
    data = copy.deepcopy(dev_config())
    config = data["config"]
    config["proxmox-hci:pools"][0].update(size=2, minSize=1)
    config["proxmox-hci:nodes"].append({"name": "pve4"})
    config["proxmox-hci:managers"] = ["pve1"]
    config["proxmox-hci:protect"] = False
    config["proxmox-hci:allowDataLoss"] = True
    return data


def test_a_cluster_stack_breaking_the_rules_fails_with_each_violation_named(tmp_path: Path, lab: Lab) -> None:
    out = preview(project(tmp_path, "prod", broken_cluster_config(), lab, kind="cluster"))
    text = violations(out)
    assert out.returncode != 0, "mandatory violations must fail the preview"
    expected = {
        "pool-replicas": ["pool vm-pool (hci-ceph-pool-vm-pool) has size 2", "has min_size 1", "Set size: 3"],
        "data-protected": [
            "OSD hci-ceph-osd-pve1-sdb holds data but is not protected",
            "VM hci-vm-app1-qemu holds data",
        ],
        "no-data-loss-flag": ["pool hci-ceph-pool-vm-pool has allow_data_loss on", "allowDataLoss false"],
        "mgr-standby": ["only one MGR (hci-ceph-mgr-pve1)", "List a second node"],
    }
    for policy, phrases in expected.items():
        assert policy in text, f"{policy} not reported:\n{text[-6000:]}"
        for phrase in phrases:
            assert phrase in text, f"{policy}: {phrase!r} not in the output:\n{text[-6000:]}"
    assert "stack-kind-tag" not in text


def test_the_same_config_on_a_lab_stack_keeps_only_the_rules_labs_share(tmp_path: Path, lab: Lab) -> None:
    out = preview(project(tmp_path, "lab", broken_cluster_config(), lab, kind="lab"))
    text = violations(out)
    assert out.returncode == 0, text[-4000:]  # what is left is advisory on a lab
    assert "only one MGR" in text
    for lab_exempt in ("has size 2", "is not protected", "has allow_data_loss on"):
        assert lab_exempt not in text, lab_exempt


def probe_config(mons: list[str], disk_storage: str) -> dict[str, Any]:
    return {
        "config": {
            "policy-probe:mons": mons,
            "policy-probe:mgrs": ["pve1", "pve2"],
            "policy-probe:haDiskStorage": disk_storage,
        }
    }


PROBE_FILES = (PROBE / "Pulumi.yaml", PROBE / "__main__.py", REPO / "dynamic_providers")


def test_what_the_program_refuses_the_pack_refuses_too(tmp_path: Path, lab: Lab) -> None:
    """Two MONs (one node twice) and an HA VM on local-lvm, in a stack with no kind tag."""
    proj = project(tmp_path, "probe", probe_config(["pve1", "pve1"], "local-lvm"), lab, kind=None, files=PROBE_FILES)
    out = preview(proj)
    text = violations(out)
    assert out.returncode != 0, text[-4000:]
    assert "2 MONs (probe-mon-0, probe-mon-1) run on node pve1" in text
    assert "2 MON(s) (probe-mon-0, probe-mon-1): fewer than 3" in text
    assert "VM probe (vm:201) is HA-managed (probe-ha)" in text, text[-5000:]
    assert 1 and "scsi0 on local-lvm" in text
    assert "the stack tag proxmox-hci:kind is not set" in text  # advisory


def test_the_probe_keeping_the_rules_passes(tmp_path: Path, lab: Lab) -> None:
    proj = project(
        tmp_path, "probe", probe_config(["pve1", "pve2", "pve3"], "ceph-vm"), lab, kind="lab", files=PROBE_FILES
    )
    out = preview(proj)
    text = violations(out)
    assert out.returncode == 0, text[-4000:]
    assert "proxmox-hci@v" in text and "[mandatory]" not in text and "[advisory]" not in text, text[-4000:]
