"""The dev stack as a PVE 8 cluster spells it (an HA group instead of a node-affinity rule), end to
end against a PVE 8 lab: the program picks Hagroup and Haresource.group from the stack's version.

Once per PVE 8 release that differs for the install: 8.3.0 with reef (the GUI wizard's default there,
declared with pveRelease so hci_config checks the release rule) and the newest 8.4 with squid (no
pveRelease: CephInstall asks each node at preview). Ceph is installed through each node's terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hci_tools.pulumi_project import PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory
from tests.unit.program.program_stacks import pve8_raw

pytestmark = pytest.mark.e2e


# On 8.3.0 also the layout where PVE's first MON makes a MGR the stack does not declare (on pve2).
RELEASES = [
    ("8.3.0", "reef", {"pveRelease": "8.3.0", "monitors": ["pve2", "pve3", "pve1"], "managers": ["pve3", "pve1"]}),
    ("8.4.21", "squid", {}),
]


@pytest.fixture(scope="module", params=RELEASES, ids=[f"{r}-{c}" for r, c, _ in RELEASES])
def pve8(
    request: pytest.FixtureRequest, lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lab, PulumiProject]]:
    release, ceph, extra = request.param
    lab = lab_factory("--pve-release", release)
    raw = pve8_raw()
    raw.update(cephVersion=ceph, **extra)  # PVE 8 offers quincy, reef and squid
    config: dict[str, Any] = {"config": {f"proxmox-hci:{key}": value for key, value in raw.items()}}
    project = PulumiProject.create(
        tmp_path_factory.mktemp("pve8"), "pve8", config, engine_bin(), lab_environment(lab.info.state_dir)
    )
    project.up()
    yield lab, project
    lab_factory.stop(lab)


def test_ha_group_and_grouped_resources_on_pve8(pve8: tuple[Lab, PulumiProject]) -> None:
    lab, _ = pve8
    groups = {g["group"]: g for g in lab.api().cluster.ha.groups.get()}
    assert list(groups) == ["hci-nodes"]
    assert set(groups["hci-nodes"]["nodes"].split(",")) == {"pve1:1", "pve2:1", "pve3:1"}
    resources = {r["sid"]: r for r in lab.api().cluster.ha.resources.get()}
    assert {sid: r.get("group") for sid, r in resources.items()} == {"vm:101": "hci-nodes", "vm:102": "hci-nodes"}
    status = lab.api().cluster.ceph.status.get()
    assert status["health"]["status"] == "HEALTH_OK" and len(status["quorum_names"]) == 3


def test_ceph_came_through_each_nodes_terminal(pve8: tuple[Lab, PulumiProject]) -> None:
    lab, _ = pve8
    status = lab.control("GET", "/lab/status")
    release = lab.api().nodes("pve1").version.get()["version"]
    wanted = {"8.3.0": "reef", "8.4.21": "squid"}[release]
    assert {name: node["ceph_installed"] for name, node in status["nodes"].items()} == dict.fromkeys(
        ("pve1", "pve2", "pve3"), wanted
    )
    terminals = [t for t in lab.tasks() if t["type"] == "vncshell"]
    assert len(terminals) == 3 and {t["exitstatus"] for t in terminals} == {"OK"}
    # pveceph install wrote the Ceph source; reef has no pulumi-proxmoxve handle, so nothing else did.
    files = lab.api().nodes("pve1").apt.repositories.get()["files"]
    ceph = [r for f in files if "ceph" in f["path"] for r in f["repositories"] if r.get("Enabled", 1)]
    assert ceph and all(any(f"ceph-{wanted}" in uri for uri in r["URIs"]) for r in ceph), ceph


def test_exactly_the_declared_managers_run(pve8: tuple[Lab, PulumiProject]) -> None:
    lab, project = pve8
    declared = project.read_config()["config"]["proxmox-hci:managers"]
    mgrs = lab.api().nodes("pve1").ceph.mgr.get()
    assert sorted(m["name"] for m in mgrs) == sorted(declared)  # on 8.3.0 PVE's mgr.pve2 is gone
    assert sorted(m["state"] for m in mgrs) == ["active", "standby"]


def test_pve8_stack_second_up_changes_nothing(pve8: tuple[Lab, PulumiProject]) -> None:
    _, project = pve8
    project.up("--expect-no-changes")
