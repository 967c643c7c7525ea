"""__main__.py end to end on mocks: stack config in, resources and stack outputs out, errors as clean exits."""

from __future__ import annotations

import json
import logging
import runpy
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource

from tests.unit.program.program_harness import FSID, OSD, Graph, run_program
from tests.unit.program.program_stacks import ENV, ROOT, dev_raw


@pytest.fixture(autouse=True)
def lab_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    yield
    pulumi.runtime.set_all_config({})


def run_main(raw: dict[str, Any]) -> tuple[Graph, dict[str, Any]]:
    """Run __main__.py with `raw` as the stack config, as the Pulumi CLI would hand it over (strings)."""
    bag = {f"proxmox-hci:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    outputs: dict[str, Any] = {}

    def program() -> Any:
        pulumi.runtime.set_all_config(bag)
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        stack = get_root_resource()
        names = ["fsid", "cephHealth", "monQuorum", "osdCount", "pools", "storages", "vmNodes"]
        return pulumi.Output.all(*[stack.outputs[n] for n in names]).apply(  # type: ignore[union-attr]
            lambda values: outputs.update(zip(names, values, strict=True))
        )

    graph = run_program(program)
    return graph, outputs


def test_main_exports_the_cluster() -> None:
    graph, outputs = run_main(dev_raw())
    assert graph.count(OSD) == 3
    assert outputs == {
        "fsid": FSID,
        "cephHealth": "HEALTH_OK",
        "monQuorum": ["pve1", "pve2", "pve3"],
        "osdCount": 3,
        "pools": ["vm-pool"],
        "storages": ["ceph-vm"],
        "vmNodes": {"app1": "pve1", "app2": "pve2", "legacy1": "pve3"},
    }


def test_invalid_config_stops_before_any_resource() -> None:
    raw = dev_raw() | {"monitors": ["pve1", "pve2"], "typo": 1}
    with pytest.raises(pulumi.RunError) as info:
        run_main(raw)
    message = str(info.value)
    assert "typo: unknown key" in message
    assert "monitors: 2 monitor(s) cannot keep quorum" in message


def test_warnings_reach_the_pulumi_log(caplog: pytest.LogCaptureFixture) -> None:
    raw = dev_raw() | {"managers": ["pve1"]}
    with caplog.at_level(logging.WARNING):
        run_main(raw)
    assert "managers: a single MGR has no standby; list two nodes" in caplog.text
