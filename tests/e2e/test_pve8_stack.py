"""The dev stack as a PVE 8 cluster spells it (an HA group instead of a node-affinity rule), end to
end against a PVE 8 lab: the program picks Hagroup and Haresource.group from the stack's version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hci_tools.pulumi_project import PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory
from tests.unit.program.program_stacks import pve8_raw

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pve8(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, PulumiProject]]:
    lab = lab_factory("--pve-version", "8")
    raw = pve8_raw()
    raw["cephVersion"] = "squid"  # PVE 8 offers quincy, reef and squid; the stack asks for one it has
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


def test_pve8_stack_second_up_changes_nothing(pve8: tuple[Lab, PulumiProject]) -> None:
    _, project = pve8
    project.up("--expect-no-changes")
