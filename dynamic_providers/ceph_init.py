"""CephInit: `pveceph init` (the cluster's ceph.conf), sent to the first online api node.

A change of cluster_network is an update that moves the OSDs (cluster_network.py); its preview
says so as a warning of the resource. A refresh also reports OSDs still running with a cluster
address outside the network ceph.conf names (`osds_to_restart`, after a hand edit or an
interrupted change), and the next update restarts them: never a silent no-op.

Removing the resource leaves the cluster's configuration alone: PVE's only undo is the CLI's
`pveceph purge`, which needs every daemon gone first.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider, from_wire
from dynamic_providers.cluster_network import move_osds, stale_osds
from dynamic_providers.errors import ProxmoxHciError, PveApiError
from dynamic_providers.logic import init
from dynamic_providers.logic.cluster_network import change_notice
from dynamic_providers.logic.init import InitInputs, InitOutputs, LiveInit
from dynamic_providers.notices import notice
from dynamic_providers.progress import warn
from dynamic_providers.pve.client import PveClient
from dynamic_providers.values import is_unknown


def read_live(client: PveClient, node: str) -> LiveInit | None:
    """[global] of ceph.conf, or None before init (PVE answers `... not initialized`)."""
    try:
        return init.read_global(client.ceph_cfg_raw(node))
    except PveApiError as exc:
        if "not initialized" in exc.message:
            return None
        raise


class CephInitProvider(PveProvider[InitInputs, InitOutputs]):
    spec = init.SPEC

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        client = self.client()
        node = client.first_online(inputs.api_nodes)
        live = read_live(client, node)
        if live is not None:
            notice(init.takeover(live, inputs).message)
        else:
            client.ceph_init(
                node,
                network=inputs.network,
                cluster_network=inputs.cluster_network,
                size=inputs.size,
                min_size=inputs.min_size,
                pg_bits=inputs.pg_bits,
            )
            live = read_live(client, node)
        if not live or not live["fsid"]:
            raise ProxmoxHciError(f"initialising Ceph through {node}: ceph.conf has no fsid afterwards")
        return CreateResult(live["fsid"], self.state(inputs, InitOutputs(fsid=live["fsid"])))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old = self.load(props)
        client = self.client()
        node = client.first_online(old.api_nodes)
        live = read_live(client, node)
        if live is None:
            return self.gone()
        pool_defaults = {key: live[key] for key in ("size", "min_size") if live[key] is not None}
        inputs = self.spec.refreshed(
            old, network=live["network"], cluster_network=live["cluster_network"], **pool_defaults
        )
        stale = stale_osds(client, node, live["network"], live["cluster_network"])
        outputs = InitOutputs(fsid=live["fsid"], osds_to_restart=stale or None)
        return self.found(live["fsid"] or id_, inputs, outputs)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        result = super().diff(_id, _olds, _news)
        olds, news = from_wire(_olds), from_wire(_news)
        stale = list(olds.get("osds_to_restart") or [])
        old_net, new_net = olds.get("cluster_network"), news.get("cluster_network")
        if is_unknown(new_net) or is_unknown(news.get("network")):
            return result
        if old_net != new_net or stale:
            warn(change_notice(old_net, new_net, str(news.get("network")), stale))
        if stale and not result.changes:
            # Nothing in the inputs differs, but OSDs still run outside the network: update restarts them.
            return DiffResult(
                changes=True, replaces=[], stables=[k for k in result.stables or [] if k != "cluster_network"]
            )
        return result

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        # Besides cluster_network only api_nodes, pg_bits (ignored by PVE) and adopt can change; check()
        # refuses the rest.
        old, new = self.load(_olds), self.load(_news)
        outputs = self.load_outputs(_olds)
        if old.cluster_network != new.cluster_network or outputs.osds_to_restart:
            move_osds(self.client(), new)
        return UpdateResult(self.state(new, InitOutputs(fsid=outputs.fsid)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: see the module docstring."""


class CephInit(Resource, module="ceph", name="Init"):
    fsid: pulumi.Output[str]
    osds_to_restart: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        api_nodes: pulumi.Input[list[str]],
        network: pulumi.Input[str],
        cluster_network: pulumi.Input[str] | None = None,
        size: pulumi.Input[int] = 3,
        min_size: pulumi.Input[int] = 2,
        pg_bits: pulumi.Input[int] | None = None,
        adopt: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against InitInputs).
        super().__init__(CephInitProvider(), resource_name, CephInitProvider.spec.props(locals()), opts)
