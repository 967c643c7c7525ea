"""Run the program on Pulumi mocks and keep what the engine would have been told about each resource.

The stock MockMonitor hands tests only type, name and inputs. RecordingMonitor also keeps the
options the engine acts on (dependencies, protect, ignoreChanges, parent) and the inputs as
they went over the wire (secrets still wrapped), so tests can check ordering and secrecy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime.sync_await import _ensure_event_loop

from dynamic_providers.ceph_init import CephInit
from dynamic_providers.ceph_install import CephInstall
from dynamic_providers.ceph_mgr import CephManager
from dynamic_providers.ceph_mon import CephMonitor
from dynamic_providers.ceph_osd import CephOsd
from dynamic_providers.ceph_pool import CephPool
from dynamic_providers.disk_move import DiskMove
from dynamic_providers.health_gate import CephHealthGate
from dynamic_providers.rbd_storage import RbdStorage


def dynamic_type(cls: type) -> str:
    return f"pulumi-python:{cls._resource_type_name}"  # type: ignore[attr-defined]


INSTALL = dynamic_type(CephInstall)
INIT = dynamic_type(CephInit)
MON = dynamic_type(CephMonitor)
MGR = dynamic_type(CephManager)
OSD = dynamic_type(CephOsd)
POOL = dynamic_type(CephPool)
STORAGE = dynamic_type(RbdStorage)
GATE = dynamic_type(CephHealthGate)
MOVE = dynamic_type(DiskMove)
VM = "proxmoxve:index/vmLegacy:VmLegacy"
HA_RESOURCE = "proxmoxve:index/haresource:Haresource"
HA_GROUP = "proxmoxve:index/hagroup:Hagroup"
HA_RULE = "proxmoxve:index/harule:Harule"
APT_STANDARD = "proxmoxve:apt/standard/repository:Repository"
APT_REPOSITORY = "proxmoxve:apt/repository:Repository"

FSID = "5f3c2a1e-0000-4000-8000-00000000f51d"


class HciMocks(mocks.Mocks):
    """Echo inputs as state and add the outputs each provider would compute."""

    def __init__(self) -> None:
        self._osd_ids = itertools.count()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        inputs = args.inputs
        extra: dict[str, Callable[[], dict[str, Any]]] = {
            INSTALL: lambda: {"installed_version": "19.2.3"},
            INIT: lambda: {"fsid": FSID},
            MON: lambda: {"mon_id": inputs.get("mon_id") or inputs["node"], "in_quorum": True, "address": "x"},
            MGR: lambda: {"mgr_id": inputs.get("mgr_id") or inputs["node"], "state": "active"},
            OSD: lambda: (
                {"devpath": inputs["device"]}
                | (
                    {"osd_id": None, "retired_id": next(self._osd_ids)}
                    if inputs.get("retired")
                    else {"osd_id": next(self._osd_ids)}
                )
            ),
            POOL: lambda: {"pool_id": 2},
            GATE: lambda: {"status": "HEALTH_OK", "summary": ""},
            MOVE: lambda: {"node": "pve3", "volume": f"{inputs['storage']}:vm-disk"},
            APT_STANDARD: lambda: {"filePath": "/etc/apt/sources.list.d/proxmox.sources", "index": 0},
        }
        state.update(extra.get(args.typ, dict)())
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program must not call functions at preview time: {args.token}")


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    wire_inputs: dict[str, Any]  # as serialized: secrets still wrapped
    dependencies: list[str]
    protect: bool
    ignore_changes: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)  # components: what register_outputs saved


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.registered: dict[str, Registered] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            _ensure_event_loop()
            self.registered[response.urn] = Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=rpc.deserialize_properties(request.object),
                wire_inputs=json_format.MessageToDict(request.object),
                dependencies=list(request.dependencies),
                protect=request.protect,
                ignore_changes=list(request.ignoreChanges),
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn in self.registered:
            _ensure_event_loop()
            self.registered[request.urn].outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class Graph:
    """The registered resources, with the queries the tests need."""

    def __init__(self, registered: dict[str, Registered]) -> None:
        self.resources = list(registered.values())
        self._by_urn = registered

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"{len(found)} resources named {name}"
        return found[0]

    def count(self, typ: str) -> int:
        return len(self.of_type(typ))

    def parent_of(self, res: Registered) -> Registered | None:
        return self._by_urn.get(res.parent)

    def depends(self, res: Registered, on: Registered) -> bool:
        """A direct dependency, as depends_on or an input Output sends it."""
        return on.urn in res.dependencies

    def ancestors(self, res: Registered) -> set[str]:
        """Every URN `res` waits for, directly or through others."""
        seen: set[str] = set()
        todo = list(res.dependencies)
        while todo:
            urn = todo.pop()
            if urn not in seen:
                seen.add(urn)
                todo.extend(self._by_urn[urn].dependencies if urn in self._by_urn else [])
        return seen

    def after(self, res: Registered, other: Registered) -> bool:
        return other.urn in self.ancestors(res)

    def custom(self) -> Iterator[Registered]:
        return (r for r in self.resources if r.custom)


def run_program(build: Callable[[], Any], project: str = "proxmox-hci", stack: str = "dev") -> Graph:
    """Run `build` (which declares resources) on mocks; return every registered resource."""
    monitor = RecordingMonitor(HciMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)

    @pulumi.runtime.test
    def program() -> Any:
        return build()

    program()
    return Graph(monitor.registered)
