"""adoptExisting: every Ceph object the stack declares takes over what is already there, or none does."""

from __future__ import annotations

import pytest

from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.loader import load_config
from tests.unit.program.program_harness import INIT, INSTALL, MGR, MON, OSD, POOL, STORAGE, run_program
from tests.unit.program.program_stacks import ENV, dev_raw

ADOPTABLE = (INSTALL, INIT, MON, MGR, OSD, POOL, STORAGE)


@pytest.mark.parametrize("adopt", [False, True])
def test_adopt_existing_reaches_every_ceph_resource(adopt: bool) -> None:
    raw = dev_raw()
    if adopt:
        raw["adoptExisting"] = True
    config = load_config(raw, env=ENV)
    graph = run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)
    resources = [res for typ in ADOPTABLE for res in graph.of_type(typ)]
    assert len(resources) == 3 + 1 + 3 + 2 + 3 + 1 + 1  # installs, init, MONs, MGRs, OSDs, pool, storage
    assert {res.name: res.inputs["adopt"] for res in resources} == {res.name: adopt for res in resources}
