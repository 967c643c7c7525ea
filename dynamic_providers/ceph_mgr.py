"""CephManager: one MGR, created through its node (or taken over: see logic/mgr.py) and waited for."""

from __future__ import annotations

from functools import partial
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import TaskFailed, UnsafeToProceed
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic import mgr
from dynamic_providers.logic.mgr import MgrInputs, MgrOutputs
from dynamic_providers.notices import notice
from dynamic_providers.progress import progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

TASK_TIMEOUT = 300.0
RUNNING_TIMEOUT = 180.0


def wait_running(client: PveClient, node: str, mgr_id: str) -> str:
    def probe() -> tuple[bool, str]:
        entry = mgr.find(client.mgr_list(node), mgr_id)
        state = str(entry.get("state")) if entry else "not listed"
        return state in mgr.RUNNING_STATES, state

    return wait_until(
        client,
        probe,
        RUNNING_TIMEOUT,
        f"mgr.{mgr_id} on {node} becoming active or standby",
        "The MGR was left in place: fix it, then re-run (it is taken over)",
    )


def remove_undeclared(client: PveClient, node: str, declared: tuple[str, ...] | None) -> None:
    """Exactly the declared MGRs (logic/mgr.py): destroy each other one on its own host (PVE's destroymgr
    acts on the node it is called on), once a declared MGR runs."""
    if not declared:
        return
    for entry in mgr.undeclared(client.mgr_list(node), tuple(declared)):
        mgr_id, host = str(entry.get("name")), str(entry.get("host") or node)
        progress(f"removing mgr.{mgr_id} on {host}: not among the declared managers ({', '.join(declared)})")
        client.run_task(partial(client.mgr_destroy, host, mgr_id), TASK_TIMEOUT, f"destroying mgr.{mgr_id} on {host}")
        wait_until(client, partial(_gone, client, node, mgr_id), RUNNING_TIMEOUT, f"mgr.{mgr_id} disappearing")


def _gone(client: PveClient, node: str, mgr_id: str) -> tuple[bool, str]:
    return mgr.find(client.mgr_list(node), mgr_id) is None, "still listed"


class CephManagerProvider(PveProvider[MgrInputs, MgrOutputs]):
    spec = mgr.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        node, mgr_id = inputs.node, mgr.mgr_id_of(inputs)
        client = self.client()
        what = f"creating mgr.{mgr_id} on {node}"
        finish_interrupted(client, node, "cephcreatemgr", f"mgr.{mgr_id}", what, TASK_TIMEOUT)
        entry = mgr.find(client.mgr_list(node), mgr_id)
        if entry is not None:
            notice(mgr.takeover(entry, node).message)
        else:
            try:
                client.run_task(lambda: client.mgr_create(node, mgr_id), TASK_TIMEOUT, what)
            except TaskFailed as exc:
                # The first MON's own MGR task may have got there between our look and our create.
                if "already exists" not in exc.exitstatus:
                    raise
        state = wait_running(client, node, mgr_id)
        remove_undeclared(client, node, inputs.declared_managers)
        return CreateResult(f"{node}/{mgr_id}", self.state(inputs, MgrOutputs(state=state)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        client = self.client()
        entry = mgr.find(client.via_any(old.node, client.mgr_list), mgr.mgr_id_of(old))
        if entry is None:
            return self.gone()
        inputs = self.spec.refreshed(old, node=entry.get("host") or old.node)
        return self.found(id_, inputs, MgrOutputs(state=entry.get("state")))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        # allow_last_removal and adopt are recorded only; declared_managers removes what is not declared.
        new = self.load(_news)
        remove_undeclared(self.client(), new.node, new.declared_managers)
        return UpdateResult(self.state(new, self.load_outputs(_olds)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        inputs = self.load(_props)
        node, mgr_id = inputs.node, mgr.mgr_id_of(inputs)
        client = self.client()
        what = f"destroying mgr.{mgr_id} on {node}"
        finish_interrupted(client, node, "cephdestroymgr", f"mgr.{mgr_id}", what, TASK_TIMEOUT)
        mgrs = client.mgr_list(node)
        if mgr.find(mgrs, mgr_id) is None:
            return
        reason = mgr.removal_refusal(mgrs, mgr_id, inputs.allow_last_removal)
        if reason:
            raise UnsafeToProceed(reason)
        client.run_task(lambda: client.mgr_destroy(node, mgr_id), TASK_TIMEOUT, what)
        wait_until(
            client,
            lambda: (mgr.find(client.mgr_list(node), mgr_id) is None, "still listed"),
            RUNNING_TIMEOUT,
            f"mgr.{mgr_id} disappearing",
        )


class CephManager(Resource, module="ceph", name="Manager"):
    mgr_id: pulumi.Output[str]
    state: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        mgr_id: pulumi.Input[str] | None = None,
        allow_last_removal: pulumi.Input[bool] = False,
        adopt: pulumi.Input[bool] = False,
        declared_managers: pulumi.Input[list[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against MgrInputs).
        super().__init__(CephManagerProvider(), resource_name, CephManagerProvider.spec.props(locals()), opts)
