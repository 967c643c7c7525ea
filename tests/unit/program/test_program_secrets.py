"""No credential reaches a resource input or output in plain text."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from components.hci_cluster import HciCluster, HciClusterArgs
from hci_config.loader import load_config
from tests.unit.program.program_harness import run_program
from tests.unit.program.program_stacks import ENV, dev_raw

PASSWORD = "pw-0b5e1c1e-not-for-state"
TOKEN = "root@pam!ci=9d1c7d4e-not-for-state"


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string and key, secret-wrapped ones included: a credential belongs nowhere."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value
        if path.endswith("__provider.value") or path.endswith("__provider"):
            # The pickled provider: what a dynamic provider captured at construction.
            yield path, base64.b64decode(value + "==").decode("latin-1")


def test_credentials_from_the_environment_stay_out_of_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_VE_PASSWORD", PASSWORD)
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", TOKEN)
    monkeypatch.setenv("PROXMOX_VE_USERNAME", "root@pam")
    config = load_config(dev_raw(), env=ENV)
    graph = run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)
    assert graph.resources
    for res in graph.resources:
        for where, text in [*strings(res.wire_inputs), *strings(res.outputs)]:
            assert PASSWORD not in text and TOKEN.split("=")[1] not in text, f"{res.name}{where} leaks a credential"
            assert "PROXMOX_VE_" not in text, f"{res.name}{where} names a credential variable"


def test_no_input_is_a_credential_field() -> None:
    config = load_config(dev_raw(), env=ENV)
    graph = run_program(lambda: HciCluster("hci", HciClusterArgs(config=config)) and None)
    suspicious = ("password", "token", "secret", "apikey", "api_key")
    for res in graph.resources:
        for key in res.inputs:
            assert not any(word in key.lower() for word in suspicious), f"{res.name}.{key}"
