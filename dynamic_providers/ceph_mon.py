"""CephMonitor: one MON, created through its node and waited for until it is in quorum.

A create first waits for a create of the same MON still running from an interrupted run
(interrupted.py), then takes over a MON listed under its id when it is ours (logic/mon.py,
takeover); a delete likewise waits for a destroy still running.

MONs change one at a time (a module-wide lock): two "first" MONs built in parallel make two
clusters, because PVE decides whether a MON is the first before it takes ceph.conf's lock, and
later ones serialise on that lock anyway (pve-manager PVE/API2/Ceph/MON.pm, createmon). The first
MON's task also starts `mgr.<node>` (same function); CephManager takes that one over.
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import UnsafeToProceed
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic import init, mon
from dynamic_providers.logic.mon import MonInputs, MonOutputs
from dynamic_providers.notices import notice
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

TASK_TIMEOUT = 300.0
QUORUM_TIMEOUT = 180.0
_MON_CHANGES = threading.Lock()


def wait_in_quorum(client: PveClient, node: str, mon_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def probe() -> tuple[bool, str]:
        entry = mon.find(client.mon_list(node), mon_id)
        seen["entry"] = entry
        return mon.in_quorum(entry), f"mon.{mon_id} {'state ' + str(entry.get('state')) if entry else 'not listed'}"

    wait_until(
        client,
        probe,
        QUORUM_TIMEOUT,
        f"mon.{mon_id} on {node} joining quorum",
        "The MON was left in place: fix it, then run again (it is taken over), or remove it",
    )
    return dict(seen["entry"])


class CephMonitorProvider(PveProvider[MonInputs, MonOutputs]):
    spec = mon.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        node, mon_id, address = inputs.node, mon.mon_id_of(inputs), inputs.address
        client = self.client()
        with _MON_CHANGES:
            what = f"creating mon.{mon_id} on {node}"
            finish_interrupted(client, node, "cephcreatemon", f"mon.{mon_id}", what, TASK_TIMEOUT)
            entry = mon.find(client.mon_list(node), mon_id)
            if entry is not None:
                public = None if address else init.read_global(client.ceph_cfg_raw(node))["network"]
                notice(mon.takeover(entry, node, address, public).message)
            else:
                client.run_task(lambda: client.mon_create(node, mon_id, address), TASK_TIMEOUT, what)
            live = mon.live_view(wait_in_quorum(client, node, mon_id))
        outputs = MonOutputs(address=live["address"], in_quorum=True)
        return CreateResult(f"{node}/{mon_id}", self.state(inputs, outputs))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        client = self.client()
        entry = mon.find(client.via_any(old.node, client.mon_list), mon.mon_id_of(old))
        if entry is None:
            return self.gone()
        live = mon.live_view(entry)
        address = live["address"] or old.address
        inputs = self.spec.refreshed(old, node=live["node"] or old.node, address=address)
        # The address output is the refreshed input (see MonOutputs).
        return self.found(id_, inputs, MonOutputs(address=address, in_quorum=live["in_quorum"]))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        # Only allow_shrink and adopt update in place; both are recorded, nothing changes on the cluster.
        return UpdateResult(self.state(self.load(_news), self.load_outputs(_olds)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        inputs = self.load(_props)
        node, mon_id = inputs.node, mon.mon_id_of(inputs)
        client = self.client()
        with _MON_CHANGES:
            what = f"destroying mon.{mon_id} on {node}"
            finish_interrupted(client, node, "cephdestroymon", f"mon.{mon_id}", what, TASK_TIMEOUT)
            mons = client.mon_list(node)
            if mon.find(mons, mon_id) is None:
                return  # already gone
            safe, ceph_says = client.cmd_safety(node, "mon", mon_id, "destroy")
            reason = mon.removal_refusal(mons, mon_id, inputs.allow_shrink, safe, ceph_says)
            if reason:
                raise UnsafeToProceed(reason)
            client.run_task(lambda: client.mon_destroy(node, mon_id), TASK_TIMEOUT, what)
            wait_until(
                client,
                lambda: (mon.find(client.mon_list(node), mon_id) is None, "still listed"),
                QUORUM_TIMEOUT,
                f"mon.{mon_id} leaving the monmap",
            )


class CephMonitor(Resource, module="ceph", name="Monitor"):
    mon_id: pulumi.Output[str]
    address: pulumi.Output[str]
    in_quorum: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        address: pulumi.Input[str] | None = None,
        mon_id: pulumi.Input[str] | None = None,
        allow_shrink: pulumi.Input[bool] = False,
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against MonInputs).
        super().__init__(CephMonitorProvider(), resource_name, CephMonitorProvider.spec.props(locals()), opts)
