"""CephPool: a replicated pool, through the first online api node. Never adds a storage
(`add_storages=0`; storages are RbdStorage resources), always looks before it creates (a second
create on an existing name silently reconfigures it), and waits for PGs active+clean. A create first
waits for a create of the same pool still running from an interrupted run (interrupted.py), then
takes over a pool of its name only when it is what create makes (logic/pool.py, takeover).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import NotFound, ProxmoxHciError, TaskFailed, UnsafeToProceed
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic import health, pool, pve_releases
from dynamic_providers.logic.pool import LivePool, PoolInputs, PoolOutputs
from dynamic_providers.notices import notice
from dynamic_providers.pve.client import PveClient
from dynamic_providers.values import as_int
from dynamic_providers.waiting import wait_until

TASK_TIMEOUT = 300.0
CLEAN_TIMEOUT = 900.0


def live_pool(client: PveClient, node: str, name: str) -> LivePool | None:
    return listed(client, node, name)[0]


def listed(client: PveClient, node: str, name: str) -> tuple[LivePool | None, int]:
    """The pool as PVE lists it (None if it is not), and how many pools there are."""
    entries = client.pool_list(node)
    entry = pool.find(entries, name)
    return (pool.live_view(entry) if entry else None), len(entries)


def wait_clean(client: PveClient, node: str, name: str, pools: int) -> None:
    """Until the PGs of all `pools` pools are active+clean: one `ceph status` per poll, the only
    read PVE offers with PG states (pve-manager PVE/Ceph/Tools.pm ceph_cluster_status)."""
    wait_until(
        client,
        lambda: health.all_clean(client.ceph_status(node), pools),
        CLEAN_TIMEOUT,
        f"PGs active+clean after changing pool '{name}'",
        "Check `ceph health detail` (too few OSDs or hosts for the size?)",
    )


class CephPoolProvider(PveProvider[PoolInputs, PoolOutputs]):
    spec = pool.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        name = inputs.pool_name
        client = self.client()
        node = client.first_online(inputs.api_nodes)
        what = f"creating pool '{name}' through {node}"
        for api_node in client.online(inputs.api_nodes):  # the interrupted run may have asked another one
            finish_interrupted(client, api_node, "cephcreatepool", name, what, TASK_TIMEOUT)
        live, pools = listed(client, node, name)
        if live is not None:
            objects = pool.objects_of(client.pool_status(node, name, verbose=True))
            take = pool.takeover(live, objects, inputs)
            notice(take.message)
            if take.converge:
                self._converge(client, node, live, inputs)
        else:
            self._create(client, node, inputs)
            pools += 1  # at least: all_clean waits for PGs of this many pools, so parallel creates are fine
        wait_clean(client, node, name, pools)
        live = live_pool(client, node, name)
        if live is None:
            raise ProxmoxHciError(f"pool '{name}' is not listed after its create task succeeded")
        return CreateResult(name, self.state(inputs, PoolOutputs(pool_id=live["pool_id"])))

    @staticmethod
    def _create(client: PveClient, node: str, inputs: PoolInputs) -> None:
        name = inputs.pool_name
        try:
            client.run_task(
                lambda: client.pool_create(node, **pool.create_params(inputs)),
                TASK_TIMEOUT,
                f"creating pool '{name}' through {node}",
            )
        except TaskFailed:
            # `osd pool create` may have run before a later step failed: the half-made pool is new and
            # empty, so remove it, as a failed create must leave nothing behind.
            if live_pool(client, node, name) is not None:
                client.run_task(
                    lambda: client.pool_destroy(node, name), TASK_TIMEOUT, f"removing the half-created pool '{name}'"
                )
            raise

    @staticmethod
    def _converge(client: PveClient, node: str, live: LivePool, wanted: PoolInputs) -> None:
        params = pool.update_params(live, wanted)
        if params:
            name = wanted.pool_name
            client.run_task(
                lambda: client.pool_set(node, name, **params),
                TASK_TIMEOUT,
                f"setting {', '.join(sorted(params))} on pool '{name}'",
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        client = self.client()
        # One request, as bpg's read: the pool list through the first API node, and only if it does not
        # answer, through another online one (no `GET /nodes` first).
        live = client.via_any(old.api_nodes[0], lambda node: live_pool(client, node, old.pool_name))
        if live is None:
            return self.gone()
        inputs = self.spec.refreshed(old, **pool.refreshed_inputs(old, live))
        return self.found(id_, inputs, PoolOutputs(pool_id=live["pool_id"]))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.load(_news)
        name = inputs.pool_name
        client = self.client()
        node = client.first_online(inputs.api_nodes)
        finish_interrupted(client, node, "cephsetpool", name, f"changing pool '{name}'", TASK_TIMEOUT)
        live, pools = listed(client, node, name)
        if live is None:
            raise NotFound(f"pool '{name}' no longer exists; run `pulumi refresh` to recreate it")
        if pool.update_params(live, inputs):
            self._converge(client, node, live, inputs)
            wait_clean(client, node, name, pools)
        return UpdateResult(self.state(inputs, PoolOutputs(pool_id=live["pool_id"])))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        inputs = self.load(_props)
        name = inputs.pool_name
        client = self.client()
        node = client.first_online(inputs.api_nodes)
        finish_interrupted(client, node, "cephdestroypool", name, f"deleting pool '{name}'", TASK_TIMEOUT)
        live = live_pool(client, node, name)
        if live is None:
            return  # PVE would fail the task on a missing pool
        storages = pool.storages_using(client.storage_list(), name)
        version = pve_releases.parse_pve_version(client.node_version(node).get("version"))
        pool_ids = [as_int(p.get("pool")) or 0 for p in client.pool_list(node)]
        objects = pool.trusted_objects(client.pool_status(node, name, verbose=True), version, live["pool_id"], pool_ids)
        reason = pool.deletion_refusal(name, live, objects, storages, inputs.allow_data_loss)
        if reason:
            raise UnsafeToProceed(reason)
        # force only with the opt-in: it skips PVE's own "still in use by storage" check.
        client.run_task(
            lambda: client.pool_destroy(node, name, force=inputs.allow_data_loss),
            TASK_TIMEOUT,
            f"deleting pool '{name}' through {node}",
        )
        wait_until(
            client,
            lambda: (live_pool(client, node, name) is None, "still listed"),
            TASK_TIMEOUT,
            f"pool '{name}' disappearing",
        )


class CephPool(Resource, module="ceph", name="Pool"):
    pool_id: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        api_nodes: pulumi.Input[list[str]],
        pool_name: pulumi.Input[str],
        size: pulumi.Input[int] = 3,
        min_size: pulumi.Input[int] = 2,
        pg_num: pulumi.Input[int] | None = None,
        autoscale_mode: pulumi.Input[str] = "on",
        application: pulumi.Input[str] = "rbd",
        crush_rule: pulumi.Input[str] | None = None,
        target_size_ratio: pulumi.Input[float] | None = None,
        allow_data_loss: pulumi.Input[bool] = False,
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against PoolInputs).
        super().__init__(CephPoolProvider(), resource_name, CephPoolProvider.spec.props(locals()), opts)
