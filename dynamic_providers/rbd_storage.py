"""RbdStorage: a PVE storage of type rbd on a pveceph-managed pool (`/storage`, cluster-wide).

Content, krbd and nodes change in place. A create takes over a storage of its id only when it is
what create makes (logic/storage.py, takeover): that finishes a create an interrupted run made.
Delete is refused while the storage lists volumes: PVE itself removes the entry regardless
(pve-storage src/PVE/API2/Storage/Config.pm, delete).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import NotFound, ProxmoxHciError, PveApiError, UnsafeToProceed
from dynamic_providers.logic import storage
from dynamic_providers.logic.spec import NoOutputs
from dynamic_providers.logic.storage import LiveStorage, StorageInputs
from dynamic_providers.notices import notice
from dynamic_providers.pve.client import PveClient


def live_storage(client: PveClient, sid: str) -> LiveStorage | None:
    entry = storage.find(client.storage_list(), sid)
    return storage.live_view(entry) if entry else None


class RbdStorageProvider(PveProvider[StorageInputs, NoOutputs]):
    spec = storage.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        sid = inputs.storage
        client = self.client()
        entry = storage.find(client.storage_list(), sid)
        if entry is not None:
            take = storage.takeover(entry, inputs)
            notice(take.message)
            params = storage.update_params(storage.live_view(entry), inputs) if take.converge else None
            if params:
                client.storage_update(sid, **params)
        else:
            client.storage_create(**storage.create_params(inputs))
        if live_storage(client, sid) is None:
            raise ProxmoxHciError(f"storage '{sid}' is not listed after it was created")
        return CreateResult(sid, self.state(inputs, NoOutputs()))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        live = live_storage(self.client(), old.storage)
        if live is None:
            return self.gone()
        inputs = self.spec.refreshed(
            old, pool=live["pool"], content=live["content"], krbd=live["krbd"], nodes=live["nodes"]
        )
        return self.found(id_, inputs, NoOutputs())

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.load(_news)
        client = self.client()
        live = live_storage(client, inputs.storage)
        if live is None:
            raise NotFound(f"storage '{inputs.storage}' no longer exists; run `pulumi refresh` to recreate it")
        params = storage.update_params(live, inputs)
        if params:
            client.storage_update(inputs.storage, **params)
        return UpdateResult(self.state(inputs, NoOutputs()))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        inputs = self.load(_props)
        sid = inputs.storage
        client = self.client()
        if live_storage(client, sid) is None:
            return
        if not inputs.allow_delete_with_volumes:
            candidates = inputs.nodes or [str(n.get("node")) for n in client.nodes()]
            node = client.first_online(sorted(candidates))
            try:
                volumes = client.storage_content(node, sid)
            except PveApiError as exc:
                raise UnsafeToProceed(
                    f"refusing to delete storage '{sid}': its volumes could not be listed through "
                    f"{node} ({exc.message}); set allow_delete_with_volumes=true to delete it "
                    "anyway"
                ) from exc
            reason = storage.deletion_refusal(sid, volumes, False)
            if reason:
                raise UnsafeToProceed(reason)
        client.storage_delete(sid)


class RbdStorage(Resource, module="storage", name="Rbd"):
    def __init__(
        self,
        resource_name: str,
        *,
        storage: pulumi.Input[str],
        pool: pulumi.Input[str],
        content: pulumi.Input[list[str]] | None = None,
        krbd: pulumi.Input[bool] = False,
        nodes: pulumi.Input[list[str]] | None = None,
        allow_delete_with_volumes: pulumi.Input[bool] = False,
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name; content=None sends the default, ["images"].
        super().__init__(RbdStorageProvider(), resource_name, RbdStorageProvider.spec.props(locals()), opts)
