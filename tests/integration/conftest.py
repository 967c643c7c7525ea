"""Fixtures for driving the dynamic providers against a lab, the way the Pulumi engine calls them.

`Driver` runs check, then create / read / diff + update / delete, and passes state back through
`wire()`, which does what the engine's round trip does: None values vanish, numbers become floats.
Each test module starts its own lab (`lab_factory`), so modules do not depend on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

PROJECT = "proxmox-hci"
ENV_VARS = (
    "PROXMOX_VE_ENDPOINT",
    "PROXMOX_VE_API_TOKEN",
    "PROXMOX_VE_USERNAME",
    "PROXMOX_VE_PASSWORD",
    "PROXMOX_VE_INSECURE",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
)


class CheckFailed(AssertionError):
    pass


def wire(props: dict[str, Any]) -> dict[str, Any]:
    """State as the engine hands it back: None dropped, ints as floats (Struct numbers are doubles)."""

    def one(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            return [one(v) for v in value] if isinstance(value, list) else value
        return float(value)

    return {k: one(v) for k, v in props.items() if v is not None}


@dataclass
class Resource:
    id: str
    outs: dict[str, Any]


class Driver:
    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def check(self, news: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.provider.check(olds or {}, news)
        if result.failures:
            raise CheckFailed("; ".join(f"{f.property}: {f.reason}" for f in result.failures))
        return dict(result.inputs)

    def inputs_of(self, res: Resource) -> dict[str, Any]:
        return {k: v for k, v in res.outs.items() if k in self.provider.spec.names}

    def create(self, **news: Any) -> Resource:
        result = self.provider.create(self.check(news))
        return Resource(result.id, wire(result.outs))

    def read(self, res: Resource) -> Any:
        return self.provider.read(res.id, res.outs)

    def diff(self, res: Resource, **changes: Any) -> Any:
        olds = self.inputs_of(res)
        return self.provider.diff(res.id, res.outs, self.check({**olds, **changes}, olds))

    def update(self, res: Resource, **changes: Any) -> Resource:
        olds = self.inputs_of(res)
        news = self.check({**olds, **changes}, olds)
        result = self.provider.update(res.id, res.outs, news)
        return Resource(res.id, wire(result.outs))

    def delete(self, res: Resource) -> None:
        self.provider.delete(res.id, res.outs)


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Iterator[Any]:
    """A fresh 3-node lab for this module: Ceph packages installed, Ceph not initialised."""
    lab = lab_factory("--ceph-installed")
    yield lab
    lab_factory.stop(lab)


@pytest.fixture(scope="module")
def lab_env(hci_lab: Any) -> Iterator[None]:
    """The lab's CA for verification; no PROXMOX_VE_* variables, so only configure() supplies credentials."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("REQUESTS_CA_BUNDLE", str(hci_lab.ca_cert))
        yield


def stack_config(lab: Any, token_only: bool = False) -> dict[str, Any]:
    config = {"proxmoxve:endpoint": lab.endpoint, "proxmoxve:apiToken": lab.api_token}
    if not token_only:
        config.update({"proxmoxve:username": "root@pam", "proxmoxve:password": lab.root_password})
    return config


@pytest.fixture(scope="module")
def drive(hci_lab: Any, lab_env: None) -> Any:
    """drive(ProviderClass, token_only=False) -> a Driver for a configured provider."""

    def make(provider_cls: Any, token_only: bool = False) -> Driver:
        provider = provider_cls()
        provider.configure(ConfigureRequest(Config(stack_config(hci_lab, token_only), PROJECT)))
        return Driver(provider)

    return make


@pytest.fixture(scope="module")
def bootstrap(drive: Any, hci_lab: Any) -> Any:
    """bootstrap() -> init, a MON on every node and the first node's MGR, all through the providers."""
    from dynamic_providers.ceph_init import CephInitProvider
    from dynamic_providers.ceph_mgr import CephManagerProvider
    from dynamic_providers.ceph_mon import CephMonitorProvider

    def run() -> dict[str, Resource]:
        out = {"init": drive(CephInitProvider).create(api_nodes=hci_lab.nodes, network=hci_lab.public_network)}
        for node in hci_lab.nodes:
            out[f"mon-{node}"] = drive(CephMonitorProvider).create(node=node)
        out["mgr"] = drive(CephManagerProvider).create(node=hci_lab.nodes[0])
        return out

    return run
