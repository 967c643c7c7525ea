"""The provider edge: nothing secret pickled, config read in configure(), wire values, type tokens."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc

from dynamic_providers import base
from dynamic_providers.ceph_init import CephInit, CephInitProvider
from dynamic_providers.ceph_install import CephInstall
from dynamic_providers.ceph_mgr import CephManager
from dynamic_providers.ceph_mon import CephMonitor, CephMonitorProvider
from dynamic_providers.ceph_osd import CephOsd, CephOsdProvider
from dynamic_providers.ceph_pool import CephPool, CephPoolProvider
from dynamic_providers.disk_move import DiskMove
from dynamic_providers.health_gate import CephHealthGate
from dynamic_providers.rbd_storage import RbdStorage
from dynamic_providers.values import UNKNOWN

SECRET = "s3cr3t-password-value"
TOKEN = "root@pam!pulumi=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
STACK_CONFIG = {
    "proxmoxve:endpoint": "https://10.0.0.1:8006/",
    "proxmoxve:apiToken": TOKEN,
    "proxmoxve:username": "root@pam",
    "proxmoxve:password": SECRET,
    "proxmox-hci:other": "x",
}


def configured(provider: Any) -> Any:
    provider.configure(ConfigureRequest(Config(STACK_CONFIG, "proxmox-hci")))
    return provider


def test_wire_constants_match_pulumi() -> None:
    assert rpc._special_secret_sig == base.SECRET_SIG
    assert rpc._special_sig_key == base.SIG_KEY


def test_configure_reads_the_proxmoxve_keys() -> None:
    provider = configured(CephOsdProvider())
    creds = provider.client()._creds
    assert creds.endpoint == "https://10.0.0.1:8006" and creds.has_root_password
    assert "proxmox-hci:other" not in provider._config  # only the provider's own keys are kept


def test_configured_provider_pickles_without_secrets() -> None:
    # What Pulumi stores in state: the provider as dill pickles it, base64-encoded.
    provider = configured(CephOsdProvider())
    raw = base64.b64decode(serialize_provider(provider))
    assert SECRET.encode() not in raw and b"aaaaaaaa-bbbb" not in raw
    assert b"dynamic_providers.ceph_osd" in raw  # pickled by reference to the importable module
    restored = dill.loads(raw)
    assert isinstance(restored, CephOsdProvider) and getattr(restored, "_config", None) is None


def test_serialized_provider_need_not_be_secret() -> None:
    assert CephOsdProvider.serialize_as_secret_always is False


def test_unconfigured_provider_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_VE_ENDPOINT", "https://env-host:8006")
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", TOKEN)
    assert CephOsdProvider().client()._creds.endpoint == "https://env-host:8006"


def test_check_with_unknowns_makes_no_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # No endpoint anywhere: any API call would fail, so passing proves check stays offline.
    monkeypatch.delenv("PROXMOX_VE_ENDPOINT", raising=False)
    provider = CephPoolProvider()
    result = provider.check(
        {}, {"api_nodes": [Unknown()], "pool_name": Unknown(), "size": 3.0, "__provider": "serialized"}
    )
    assert result.failures == []
    assert result.inputs["pool_name"] == UNKNOWN and result.inputs["size"] == 3
    assert "__provider" not in result.inputs


def test_check_failures_name_properties() -> None:
    result = CephInitProvider().check({}, {"api_nodes": ["pve1"], "network": "10.0.0.0"})
    assert [(f.property, "prefix length" in f.reason) for f in result.failures] == [("network", True)]


def test_secret_inputs_are_unwrapped() -> None:
    wrapped = {rpc._special_sig_key: rpc._special_secret_sig, "value": "pve1"}
    result = CephMonitorProvider().check({}, {"node": wrapped})
    assert result.inputs["node"] == "pve1" and result.inputs["mon_id"] == "pve1"


def test_diff_reports_replace_and_order() -> None:
    provider = CephMonitorProvider()
    olds = {
        "node": "pve1",
        "mon_id": "pve1",
        "address": "10.0.0.11",
        "allow_shrink": False,
        "adopt": False,
        "in_quorum": True,
        "__provider": "x",
    }
    news = provider.check(olds, {**olds, "address": "10.0.0.21"}).inputs
    result = provider.diff("pve1/pve1", olds, news)
    assert result.changes is True and result.replaces == ["address"] and result.delete_before_replace is True
    same = provider.diff("pve1/pve1", olds, provider.check(olds, {"node": "pve1"}).inputs)
    assert same.changes is False


def test_diff_of_unknown_during_preview() -> None:
    provider = CephOsdProvider()
    olds = provider.check({}, {"node": "pve1", "device": "/dev/sdb"}).inputs
    result = provider.diff("pve1/0", {**olds, "osd_id": 0.0}, {**olds, "node": Unknown()})
    assert result.replaces == ["node"] and result.delete_before_replace is False


@pytest.mark.parametrize(
    ("cls", "token"),
    [
        (CephInstall, "dynamic/ceph:Install"),
        (CephInit, "dynamic/ceph:Init"),
        (CephMonitor, "dynamic/ceph:Monitor"),
        (CephManager, "dynamic/ceph:Manager"),
        (CephOsd, "dynamic/ceph:Osd"),
        (CephPool, "dynamic/ceph:Pool"),
        (RbdStorage, "dynamic/storage:Rbd"),
        (CephHealthGate, "dynamic/ceph:HealthGate"),
        (DiskMove, "dynamic/vm:DiskMove"),
    ],
)
def test_type_tokens(cls: Any, token: str) -> None:
    assert cls._resource_type_name == token  # shown as pulumi-python:<token>
