"""NodeMaintenance and NodeEvacuated: a node in maintenance (decisions in logic/maintenance.py).

NodeMaintenance exists while `nodes[i].maintenance` is true. Its create asks Ceph whether the node's
OSDs and its MON are ok to stop (GET /nodes/{node}/ceph/cmd-safety, pve-manager PVE/API2/Ceph.pm) and
refuses in Ceph's words before anything changes, and records whether noout is set already. It changes
nothing itself; the VMs' migrations and the HA changes depend on it. Its delete (maintenance false, or
the key gone) clears noout unless it was set before the maintenance began, then waits for active+clean.

NodeEvacuated depends on the VMs and the HA resources, groups and rules: its create waits, with
progress, until no guest runs on the node (asking HA to migrate the HA services that no group or rule
moves), then sets noout (PUT /cluster/ceph/flags/noout, pve-manager PVE/API2/Cluster/Ceph.pm:
cluster-wide, PVE's API has no host-scoped set-group), the order of PVE's procedure. The flag is set
after NodeMaintenance's record is in the state, so a run killed at any point cannot make the
maintenance's own flag look like someone else's. The next `pulumi up` re-runs what is missing (the
VMs' node changes, this wait and the flag) and converges.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import PveApiError, UnsafeToProceed
from dynamic_providers.logic import health, maintenance
from dynamic_providers.logic.maintenance import (
    EvacuationInputs,
    EvacuationOutputs,
    MaintenanceInputs,
    MaintenanceOutputs,
    Safety,
)
from dynamic_providers.logic.osd import tree_osds
from dynamic_providers.notices import notice
from dynamic_providers.progress import progress, warn
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

READ_TIMEOUT = 120.0  # for Ceph to answer the ok-to-stop reads (MON election, MGR failover)


def safety_answers(client: PveClient, node: str, mon_id: str | None, api_nodes: Sequence[str] = ()) -> list[Safety]:
    """`ok-to-stop` for each OSD of the node (one id per call: cmd-safety sends `ids => [$id]`) and its MON.

    Asked through the node itself if it is online, else through another API node: cmd-safety runs mon
    commands, which any node answers alike, so a node that is down already can still go into maintenance."""
    api = client.first_online([node, *(n for n in api_nodes if n != node)])
    hosts = {osd_id: osd.host for osd_id, osd in tree_osds(client.osd_tree(api)).items()}
    answers = []
    for osd_id in maintenance.node_osds(hosts, node):
        safe, says = client.cmd_safety(api, "osd", str(osd_id), "stop")
        answers.append(Safety("osd", str(osd_id), safe, says))
    if mon_id is not None:
        safe, says = client.cmd_safety(api, "mon", mon_id, "stop")
        answers.append(Safety("mon", mon_id, safe, says))
    return answers


def enter(client: PveClient, inputs: MaintenanceInputs, read_timeout: float = READ_TIMEOUT) -> MaintenanceOutputs:
    """ok-to-stop for the node's OSDs and MON, refusing in Ceph's words; and whether noout is set already.

    Right after another node failed, mon commands time out until the MONs re-elect and a standby MGR
    takes over (`osd df`, which GET ceph/osd runs, is a MGR command): the reads are retried meanwhile.
    """
    got: list[list[Safety]] = []

    def asked() -> tuple[bool, str]:
        try:
            got.append(safety_answers(client, inputs.node, inputs.mon_id, inputs.api_nodes))
        except PveApiError as exc:
            return False, f"Ceph not answering: {exc.message}"
        return True, ""

    wait_until(client, asked, read_timeout, f"Ceph's ok-to-stop answers for node {inputs.node}")
    answers = got[-1]
    reason = maintenance.refusal(inputs.node, answers)
    if reason:
        raise UnsafeToProceed(reason)
    before = client.ceph_flag(maintenance.NOOUT)
    if before:
        warn(
            f"node {inputs.node}: noout is set already (before this maintenance); it is left set when the "
            "maintenance ends"
        )
    return MaintenanceOutputs(noout_before=before, checked=maintenance.checked_summary(answers))


def leave(client: PveClient, inputs: MaintenanceInputs, outputs: MaintenanceOutputs) -> None:
    if not outputs.noout_before:
        client.set_ceph_flag(maintenance.NOOUT, False)
    notice(maintenance.leaving_notice(inputs.node, outputs.noout_before))
    api = client.first_online(inputs.api_nodes)

    def clean() -> tuple[bool, str]:
        try:
            return health.all_clean(client.ceph_status(api))
        except PveApiError as exc:
            return False, f"status unavailable: {exc.message}"

    wait_until(
        client,
        clean,
        inputs.timeout,
        f"Ceph to be active+clean after node {inputs.node}'s maintenance",
        hint="its OSDs may still be down: start them (pveceph start --service osd.<id>) and run pulumi up again",
    )


class NodeMaintenanceProvider(PveProvider[MaintenanceInputs, MaintenanceOutputs]):
    spec = maintenance.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        outputs = enter(self.client(), inputs)
        return CreateResult(f"maintenance-{inputs.node}", self.state(inputs, outputs))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # What it did (set noout) is history, not live state: the stored outputs stand.
        inputs = self.load(props)
        return ReadResult(id_, self.state(inputs, self.load_outputs(props)))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        # mon_id or timeout changed: nothing to redo; what it set stays recorded.
        return UpdateResult(self.state(self.load(_news), self.load_outputs(_olds)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        leave(self.client(), self.load(props), self.load_outputs(props))


def evacuate(client: PveClient, inputs: EvacuationInputs) -> EvacuationOutputs:
    node = inputs.node
    requested: set[str] = set()

    def probe() -> tuple[bool, str]:
        guests = client.cluster_resources("vm")
        left = maintenance.running_on(guests, node)
        if not left:
            return True, f"no guest runs on {node}"
        on_node = {f"vm:{row.get('vmid')}" for row in guests if row.get("node") == node}
        for sid in inputs.ha_migrate:
            if sid in on_node and sid not in requested and inputs.target:
                progress(f"asking HA to migrate {sid} from {node} to {inputs.target}")
                client.ha_migrate(sid, inputs.target)
                requested.add(sid)
        return False, f"still running on {node}: {', '.join(left)}"

    summary = wait_until(
        client, probe, inputs.timeout, f"node {node}'s guests to move off", hint=maintenance.evacuation_hint(node)
    )
    if not client.ceph_flag(maintenance.NOOUT):
        client.set_ceph_flag(maintenance.NOOUT, True)
    warn(f"node {node} in maintenance: {maintenance.NOOUT_SCOPE}")
    return EvacuationOutputs(summary=summary)


class NodeEvacuatedProvider(PveProvider[EvacuationInputs, EvacuationOutputs]):
    spec = maintenance.EVACUATION_SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        return CreateResult(uuid.uuid4().hex, self.state(inputs, evacuate(self.client(), inputs)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = self.load(props)
        return ReadResult(id_, self.state(inputs, self.load_outputs(props)))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.load(_news)
        return UpdateResult(self.state(inputs, evacuate(self.client(), inputs)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the wait owns nothing (HA moves the guests back by its rules)."""


class NodeMaintenance(Resource, module="pve", name="NodeMaintenance"):
    noout_before: pulumi.Output[bool]
    checked: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        api_nodes: pulumi.Input[list[str]],
        node: pulumi.Input[str],
        mon_id: pulumi.Input[str] | None = None,
        timeout: pulumi.Input[int] = 600,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(NodeMaintenanceProvider(), resource_name, NodeMaintenanceProvider.spec.props(locals()), opts)


class NodeEvacuated(Resource, module="pve", name="NodeEvacuated"):
    summary: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        api_nodes: pulumi.Input[list[str]],
        node: pulumi.Input[str],
        ha_migrate: pulumi.Input[list[str]] | None = None,
        target: pulumi.Input[str] | None = None,
        timeout: pulumi.Input[int] = 600,
        triggers: pulumi.Input[Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(NodeEvacuatedProvider(), resource_name, NodeEvacuatedProvider.spec.props(locals()), opts)
