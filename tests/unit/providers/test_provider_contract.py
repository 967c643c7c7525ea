"""The providers' contracts: with stored state (module, class, token), and pure logic without pulumi."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dynamic_providers.logic
from dynamic_providers.base import PveProvider

REPO = Path(__file__).resolve().parents[3]

# What every stack's state refers to (docs/architecture.md, "The state contract"): the type token,
# and the module and class its provider is pickled by reference to. Renaming any of them breaks
# every existing stack; tests/e2e/test_upgrade.py checks the same table against a real deployment.
CONTRACT = {
    "ceph:Install": ("dynamic_providers.ceph_install", "CephInstall", "CephInstallProvider"),
    "ceph:Init": ("dynamic_providers.ceph_init", "CephInit", "CephInitProvider"),
    "ceph:Monitor": ("dynamic_providers.ceph_mon", "CephMonitor", "CephMonitorProvider"),
    "ceph:Manager": ("dynamic_providers.ceph_mgr", "CephManager", "CephManagerProvider"),
    "ceph:Osd": ("dynamic_providers.ceph_osd", "CephOsd", "CephOsdProvider"),
    "ceph:Pool": ("dynamic_providers.ceph_pool", "CephPool", "CephPoolProvider"),
    "storage:Rbd": ("dynamic_providers.rbd_storage", "RbdStorage", "RbdStorageProvider"),
    "ceph:HealthGate": ("dynamic_providers.health_gate", "CephHealthGate", "CephHealthGateProvider"),
    "vm:DiskMove": ("dynamic_providers.disk_move", "DiskMove", "DiskMoveProvider"),
}


def resources() -> list[tuple[str, Any, Any]]:
    out = []
    for token, (module_name, resource, provider) in CONTRACT.items():
        module = importlib.import_module(module_name)
        out.append((token, getattr(module, resource), getattr(module, provider)))
    return out


@pytest.mark.parametrize(("token", "resource", "provider"), resources(), ids=list(CONTRACT))
def test_state_contract_names(token: str, resource: Any, provider: Any) -> None:
    assert resource._resource_type_name == f"dynamic/{token}"
    assert issubclass(provider, PveProvider) and provider.__module__ == resource.__module__
    assert provider.__qualname__ == provider.__name__  # top level: picklable by reference


def test_pure_logic_imports_without_pulumi() -> None:
    modules = sorted(
        f"dynamic_providers.logic.{info.name}" for info in pkgutil.iter_modules(dynamic_providers.logic.__path__)
    )
    assert "dynamic_providers.logic.pool" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'requests', 'proxmoxer', 'grpc'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
