"""CephHealthGate: create and update wait until the cluster reaches the required health.

Placed between topology steps (depends_on) so the next step starts on a settled cluster. A data
source would only sample at preview time; a resource waits during `up`. Changing `triggers`
re-runs the wait. It has no `adopt`: there is nothing to take over (state written before it was
dropped still holds `adopt: false`, which is ignored).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider
from dynamic_providers.errors import PveApiError
from dynamic_providers.logic import health
from dynamic_providers.logic.health import GateInputs, GateOutputs
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

# A status that is met and counts within this many seconds is read again at that moment. Short, so the
# wait still reaches a safe point (waiting.wait_until's engine check) every few seconds.
FRESH_WITHIN = 2.0


def stats_freshness(client: PveClient, node: str, wall: Callable[[], float] = time.time) -> health.Freshness:
    """The cluster's PG-stats lag and the node's clock offset, each at its safe default when unreadable.

    Two reads at the start of a wait, none per poll. A cluster that names no periods lags by Ceph's
    defaults; a node whose time cannot be read (no Sys.Audit on /nodes/{node}) leaves the wait to
    Settling.
    """
    try:
        lag = health.stats_lag(client.ceph_config_values(node, health.stats_period_query()))
    except PveApiError:
        lag = health.stats_lag({})
    try:
        offset: float | None = client.node_time(node) - wall()
    except (PveApiError, KeyError, TypeError, ValueError):  # refused, or an answer without a time
        offset = None
    return health.Freshness(lag=lag, node_offset=offset)


def wait_healthy(client: PveClient, inputs: GateInputs, wall: Callable[[], float] = time.time) -> GateOutputs:
    """Wait for the requirement in a status that shows every OSD change; returns the health last seen.

    The MGR reports PG states with a lag: right after an OSD joins or leaves, `ceph status` can
    still show the clean PGs of before. A status counts once it was read at least one lag after the
    last OSD up/in change (osdmap `osd_up_since`/`osd_in_since`, by the node's clock), so a gate
    after new OSDs waits out the lag and a gate with no recent change passes on its first read.
    """
    node = client.first_online(inputs.api_nodes)
    last: dict[str, Any] = {}
    freshness = stats_freshness(client, node, wall)
    settling = health.Settling(freshness.lag) if freshness.node_offset is None else None

    def probe() -> tuple[bool, str]:
        try:
            status = client.ceph_status(node)
        except PveApiError as exc:  # e.g. MONs re-electing: keep waiting, it is what the gate is for
            if settling is not None:
                settling.held(False, client.clock())
            return False, f"status unavailable: {exc.message}"
        last["status"] = status
        met, summary = health.evaluate(status, inputs.require)
        if settling is not None:
            fresh = settling.held(met, client.clock())
        else:
            left = freshness.wait_left(status, wall())
            if met and 0 < left <= FRESH_WITHIN:
                # Met, and due to count in `left` seconds: read again then, not at the next (later) poll.
                client.sleep(left)
                return probe()
            fresh = left <= 0
        if met and fresh:
            return True, summary
        if met:
            summary += f" (settling: PG states lag OSD changes by up to {freshness.lag:g} s)"
        return False, summary

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
