"""The providers' contracts: with stored state (module, class, token), with components (constructor
keywords = the inputs dataclass), with mypy (a misspelt input is an error), and pure logic without pulumi.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dynamic_providers.logic
from dynamic_providers.base import PveProvider
from dynamic_providers.logic.spec import REQUIRED

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
    "pve:NodeMaintenance": ("dynamic_providers.node_maintenance", "NodeMaintenance", "NodeMaintenanceProvider"),
    "pve:NodeEvacuated": ("dynamic_providers.node_maintenance", "NodeEvacuated", "NodeEvacuatedProvider"),
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


@pytest.mark.parametrize(("token", "resource", "provider"), resources(), ids=list(CONTRACT))
def test_constructor_keywords_are_the_inputs(token: str, resource: Any, provider: Any) -> None:
    params = inspect.signature(resource.__init__).parameters
    keywords = [name for name in params if name not in ("self", "resource_name", "opts")]
    spec = provider.spec
    assert keywords == list(spec.names)
    for item in spec.fields:
        default = params[item.name].default
        if item.default is REQUIRED:
            assert default is inspect.Parameter.empty, item.name
        elif default is not None or item.default is None:  # None in the signature: the dataclass default
            assert default == item.default, item.name


def test_registered_props_fill_defaults_and_name_the_outputs() -> None:
    from dynamic_providers.logic import storage

    args = {"storage": "s", "pool": "p", "content": None, "krbd": False, "nodes": None}
    props = storage.SPEC.props({**args, "allow_delete_with_volumes": False, "adopt": False, "opts": None})
    assert props["content"] == ["images"] and props["nodes"] is None and "opts" not in props
    from dynamic_providers.logic import osd

    props = osd.SPEC.props({name: None for name in osd.SPEC.names} | {"node": "pve1", "device": "/dev/sdb"})
    assert (props["osd_id"], props["devpath"], props["wipe"]) == (None, None, False)


def test_refreshed_refuses_a_name_that_is_no_input() -> None:
    from dynamic_providers.logic import disk_move

    inputs = disk_move.MoveInputs(vm_id=100, disk="scsi0", storage="a")
    assert disk_move.SPEC.refreshed(inputs, storage="b")["storage"] == "b"
    with pytest.raises(TypeError, match="DiskMove has no input stroage"):
        disk_move.SPEC.refreshed(inputs, stroage="b")


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


def test_a_misspelt_input_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "typo.py"
    snippet.write_text(
        "from dynamic_providers.logic.pool import PoolInputs\n"
        "def size(inputs: PoolInputs) -> int:\n"
        "    return inputs.sise\n"
        "PoolInputs(api_nodes=('pve1',), pool_nmae='vm')\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", str(snippet)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 1, out.stdout
    assert '"PoolInputs" has no attribute "sise"' in out.stdout
    assert 'Unexpected keyword argument "pool_nmae"' in out.stdout
