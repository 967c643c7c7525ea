"""bench/gen_stack.py makes stack configs the program accepts, of the size asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import gen_stack
from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.loader import load_config
from tests.unit.program.program_harness import HA_GROUP, HA_RESOURCE, HA_RULE, MON, OSD, VM, run_program
from tests.unit.program.program_stacks import ENV


def unprefixed(config: dict[str, Any]) -> dict[str, Any]:
    return {key.split(":", 1)[1]: value for key, value in config.items()}


@pytest.mark.parametrize("pve_version", [8, 9])
def test_default_size_is_valid(pve_version: int) -> None:
    cfg = load_config(unprefixed(gen_stack.generate(pve_version=pve_version)), env=ENV)
    assert len(cfg.nodes) == 12
    assert all(len(node.osds) == 4 for node in cfg.nodes)
    assert len(cfg.vms) == 100
    assert len(cfg.monitors) == 5
    assert {vm.node for vm in cfg.vms} == set(cfg.node_names)  # spread over every node


@pytest.mark.parametrize(("pve_version", "placement"), [(8, HA_GROUP), (9, HA_RULE)])
def test_small_stack_graph(pve_version: int, placement: str) -> None:
    cfg = load_config(unprefixed(gen_stack.generate(4, 2, 6, pve_version)), env=ENV)
    graph = run_program(lambda: HciCluster("hci", HciClusterArgs(config=cfg)) and None)
    assert (graph.count(MON), graph.count(OSD), graph.count(VM), graph.count(HA_RESOURCE)) == (3, 8, 6, 6)
    assert graph.count(placement) == 1


def test_writes_the_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen_stack, "ROOT", tmp_path)
    assert gen_stack.main(["-n", "3", "-d", "1", "-v", "2", "--name", "bench"]) == 0
    written = yaml.safe_load((tmp_path / "Pulumi.bench.yaml").read_text())["config"]
    assert written["proxmox-hci:monitors"] == ["pve1", "pve2", "pve3"]
    assert len(written["proxmox-hci:vms"]) == 2


def test_refuses_sizes_the_program_cannot_take() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        gen_stack.generate(nodes=2)
    with pytest.raises(ValueError, match=r"1\.\.24"):
        gen_stack.generate(disks=25)
