"""The resource classes under Pulumi's mocks: type tokens, inputs sent, the provider blob in the clear."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from dynamic_providers.ceph_osd import CephOsd
from dynamic_providers.ceph_pool import CephPool
from dynamic_providers.rbd_storage import RbdStorage

registered: list[Any] = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        registered.append(args)
        return f"{args.name}-id", {**args.inputs, "osd_id": 3} if args.typ.endswith(":Osd") else args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture(autouse=True)
def mocks() -> None:
    # Set per test, not at import: other test modules install their own mocks in the same process.
    pulumi.runtime.set_mocks(Mocks(), preview=False)


@pulumi.runtime.test
def test_resources_register_with_their_type_tokens() -> Any:
    registered.clear()
    osd = CephOsd("osd-pve1-sdb", node="pve1", device="/dev/sdb")
    pool = CephPool("pool-vm", api_nodes=["pve1"], pool_name="vm")
    storage = RbdStorage("storage-vm", storage="ceph-vm", pool="vm")

    def check(values: list[Any]) -> None:
        osd_id = values[0]
        by_name = {args.name: args for args in registered}
        assert by_name["osd-pve1-sdb"].typ == "pulumi-python:dynamic/ceph:Osd"
        assert by_name["pool-vm"].typ == "pulumi-python:dynamic/ceph:Pool"
        assert by_name["storage-vm"].typ == "pulumi-python:dynamic/storage:Rbd"
        inputs = by_name["osd-pve1-sdb"].inputs
        assert inputs["node"] == "pve1" and inputs["wipe"] is False and inputs["adopt"] is False
        assert isinstance(inputs["__provider"], str)  # not wrapped as a secret: nothing secret inside
        assert by_name["storage-vm"].inputs["content"] == ["images"]
        assert osd_id == 3

    return pulumi.Output.all(osd.osd_id, pool.urn, storage.urn).apply(check)
