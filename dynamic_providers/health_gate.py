"""CephHealthGate: create and update wait until the cluster reaches the required health.

Placed between topology steps (depends_on) so the next step starts on a settled cluster. A data
source would only sample at preview time; a resource waits during `up`. Changing `triggers`
re-runs the wait. It has no `adopt`: there is nothing to take over (state written before it was
dropped still holds `adopt: false`, which is ignored).
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import PveApiError
from dynamic_providers.logic import health
from dynamic_providers.logic.health import GateInputs, GateOutputs
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until


def wait_healthy(client: PveClient, inputs: GateInputs) -> GateOutputs:
    """Wait for the requirement; returns the health status and summary last seen."""
    node = client.first_online(inputs.api_nodes)
    last: dict[str, Any] = {}
    settling = health.Settling()

    def probe() -> tuple[bool, str]:
        try:
            status = client.ceph_status(node)
        except PveApiError as exc:  # e.g. MONs re-electing: keep waiting, it is what the gate is for
            settling.held(False, client.clock())
            return False, f"status unavailable: {exc.message}"
        last["status"] = status
        met, summary = health.evaluate(status, inputs.require)
        if settling.held(met, client.clock()):
            return True, summary
        return False, summary + (" (settling: PG stats lag by up to one MGR stats period)" if met else "")

    summary = wait_until(client, probe, inputs.timeout, f"Ceph reaching {inputs.require}")
    return GateOutputs(status=str((last["status"].get("health") or {}).get("status")), summary=summary)


class CephHealthGateProvider(PveProvider[GateInputs, GateOutputs]):
    spec = health.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        return CreateResult(uuid.uuid4().hex, self.state(inputs, wait_healthy(self.client(), inputs)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # No inputs in the answer: the stored ones stand (the gate reads health, it owns nothing).
        inputs = self.load(props)
        client = self.client()
        try:
            status = client.ceph_status(client.first_online(inputs.api_nodes))
        except PveApiError as exc:  # a refresh should report a sick cluster, not fail on it
            outputs = GateOutputs(status="unknown", summary=f"status unavailable: {exc.message}")
            return ReadResult(id_, self.state(inputs, outputs))
        overall = str((status.get("health") or {}).get("status"))
        return ReadResult(id_, self.state(inputs, GateOutputs(status=overall, summary=health.summarise(status))))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.load(_news)
        return UpdateResult(self.state(inputs, wait_healthy(self.client(), inputs)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the gate owns nothing."""


class CephHealthGate(Resource, module="ceph", name="HealthGate"):
    status: pulumi.Output[str]
    summary: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        api_nodes: pulumi.Input[list[str]],
        require: pulumi.Input[str] = "HEALTH_OK",
        timeout: pulumi.Input[int] = 600,
        triggers: pulumi.Input[Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against GateInputs).
        super().__init__(CephHealthGateProvider(), resource_name, CephHealthGateProvider.spec.props(locals()), opts)
