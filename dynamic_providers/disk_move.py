"""DiskMove: a VM disk moved live to a storage (`move_disk`), deleting the source by default.

The call goes to the VM's current node, looked up in /cluster/resources (the VM may have been
migrated or recovered by HA since it was declared). A disk already on the target storage is left
alone: PVE refuses a same-storage move. A move still running from an interrupted run is waited for
first (interrupted.py), so its result decides, not a second move racing it. Removing the resource
leaves the disk where it is. It has no `adopt`: a disk already on the target is taken as moved
anyway (state written before it was dropped still holds `adopt: false`, which is ignored).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import NotFound
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic import disk_move
from dynamic_providers.logic.disk_move import MoveInputs, MoveOutputs
from dynamic_providers.pve.client import PveClient


def locate(client: PveClient, vmid: int, disk: str) -> tuple[str, str] | None:
    """(node, volume) of the disk now, or None if the VM or the disk is gone."""
    node = disk_move.vm_node(client.cluster_resources("vm"), vmid)
    if node is None:
        return None
    volume = disk_move.disk_volume(client.vm_config(node, vmid), disk)
    return (node, volume) if volume else None


def move(client: PveClient, inputs: MoveInputs) -> MoveOutputs:
    vmid, disk, target = inputs.vm_id, inputs.disk, inputs.storage
    found = locate(client, vmid, disk)
    if found is None:
        raise NotFound(f"VM {vmid} or its disk {disk} does not exist (GET /cluster/resources, then the VM's config)")
    node, volume = found
    what = f"moving disk {disk} of VM {vmid} on {node} to storage {target}"
    if finish_interrupted(client, node, "qmmove", str(vmid), what, inputs.timeout, vmid=vmid):
        found = locate(client, vmid, disk)
        if found is None:
            raise NotFound(f"VM {vmid} or its disk {disk} vanished while an earlier move of it ran")
        node, volume = found
    if disk_move.storage_of(volume) == target:
        return MoveOutputs(node=node, volume=volume)
    client.run_task(
        lambda: client.move_disk(node, vmid, disk=disk, storage=target, delete=inputs.delete_source),
        inputs.timeout,
        what,
    )
    found = locate(client, vmid, disk)
    if found is None or disk_move.storage_of(found[1]) != target:
        raise NotFound(f"disk {disk} of VM {vmid} is not on {target} after the move task ended ({found})")
    return MoveOutputs(node=found[0], volume=found[1])


class DiskMoveProvider(PveProvider[MoveInputs, MoveOutputs]):
    spec = disk_move.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        outputs = move(self.client(), inputs)
        return CreateResult(f"{inputs.vm_id}/{inputs.disk}", self.state(inputs, outputs))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        found = locate(self.client(), old.vm_id, old.disk)
        if found is None:
            return self.gone()
        node, volume = found
        inputs = self.spec.refreshed(old, storage=disk_move.storage_of(volume))
        return self.found(id_, inputs, MoveOutputs(node=node, volume=volume))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.load(_news)
        return UpdateResult(self.state(inputs, move(self.client(), inputs)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the disk stays on the storage it was moved to."""


class DiskMove(Resource, module="vm", name="DiskMove"):
    node: pulumi.Output[str]
    volume: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        vm_id: pulumi.Input[int],
        disk: pulumi.Input[str],
        storage: pulumi.Input[str],
        delete_source: pulumi.Input[bool] = True,
        timeout: pulumi.Input[int] = 1800,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against MoveInputs).
        super().__init__(DiskMoveProvider(), resource_name, DiskMoveProvider.spec.props(locals()), opts)
