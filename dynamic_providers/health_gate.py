"""CephHealthGate: create and update wait until the cluster reaches the required health.

Placed between topology steps (depends_on) so the next step starts on a settled cluster. A data
source would only sample at preview time; a resource waits during `up`. Changing `triggers`
re-runs the wait.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import PveApiError
from dynamic_providers.logic import health
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until


def wait_healthy(client: PveClient, inputs: dict[str, Any]) -> tuple[str, str]:
    """Wait for the requirement; returns (health status, summary) as last seen."""
    node = client.first_online(inputs["api_nodes"])
    last: dict[str, Any] = {}

    def probe() -> tuple[bool, str]:
        try:
            status = client.ceph_status(node)
        except PveApiError as exc:  # e.g. MONs re-electing: keep waiting, it is what the gate is for
            return False, f"status unavailable: {exc.message}"
        last["status"] = status
        return health.evaluate(status, inputs["require"])

    summary = wait_until(client, probe, inputs["timeout"], f"Ceph reaching {inputs['require']}")
    return str((last["status"].get("health") or {}).get("status")), summary


class CephHealthGateProvider(PveProvider):
    spec = health.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.inputs(props)
        status, summary = wait_healthy(self.client(), inputs)
        return CreateResult(uuid.uuid4().hex, self.outs(inputs, status=status, summary=summary))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = self.inputs(props)
        client = self.client()
        try:
            status = client.ceph_status(client.first_online(inputs["api_nodes"]))
        except PveApiError as exc:  # a refresh should report a sick cluster, not fail on it
            return ReadResult(id_, self.outs(inputs, status="unknown", summary=f"status unavailable: {exc.message}"))
        overall = str((status.get("health") or {}).get("status"))
        return ReadResult(id_, self.outs(inputs, status=overall, summary=health.summarise(status)))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        inputs = self.inputs(_news)
        status, summary = wait_healthy(self.client(), inputs)
        return UpdateResult(self.outs(inputs, status=status, summary=summary))

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
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_nodes": api_nodes,
            "require": require,
            "timeout": timeout,
            "triggers": triggers,
            "adopt": adopt,
            "status": None,
            "summary": None,
        }
        super().__init__(CephHealthGateProvider(), resource_name, props, opts)
