"""CephInit decisions: inputs, reading [global] back, what adopting an initialised cluster requires. Pure.

`pveceph init` on a live cluster rewrites both networks in place (pve-manager PVE/API2/Ceph.pm,
init: every call given a network writes public_network and cluster_network). A change of the
cluster network is an update: the rewrite, then a rolling restart of the OSDs, which are the only
daemons that use it (logic/cluster_network.py, cluster_network.py). A change of the public network
stays refused: the MONs' addresses are in the monmap, so moving it means new MONs on the new
network, a manual procedure. The pool defaults (size, min_size) are only written when [global] is
first created (same file), so changing them later would do nothing: refused as well, with a pointer
to CephPool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from dynamic_providers.logic import rules
from dynamic_providers.logic.networks import cluster_network_overlap
from dynamic_providers.logic.spec import Failure, Spec, param, resource_inputs
from dynamic_providers.logic.takeover import Takeover, decide, differ
from dynamic_providers.logic.validators import between
from dynamic_providers.values import as_int, is_unknown, parse_ini

NETWORK_REASON = (
    "moving Ceph's public network on a live cluster is a manual procedure (new MONs on the new network, "
    "clients and OSDs after them); do it by hand, then refresh"
)
DEFAULTS_REASON = (
    "PVE writes the pool defaults only when the cluster is first initialised; set size and "
    "min_size on each CephPool instead"
)


@resource_inputs
class InitInputs:
    api_nodes: tuple[str, ...] = param(validate=rules.api_nodes, routing=True)
    network: str = param(
        on_change="refuse", validate=rules.cidr_network, normalise=rules.normalise_network, refuse_reason=NETWORK_REASON
    )
    # A change is an update: ceph.conf rewritten, then the OSDs restarted one by one (module docstring).
    cluster_network: str | None = param(default=None, validate=rules.cidr_network, normalise=rules.normalise_network)
    size: int = param(default=3, on_change="refuse", validate=rules.replica_size, refuse_reason=DEFAULTS_REASON)
    min_size: int = param(default=2, on_change="refuse", validate=rules.min_replica_size, refuse_reason=DEFAULTS_REASON)
    pg_bits: int | None = param(default=None, validate=between(6, 14))  # deprecated and ignored by PVE
    adopt: bool = param(default=False)


@dataclass(frozen=True, kw_only=True)
class InitOutputs:
    fsid: str | None = None
    # OSDs whose running cluster address is outside the network ceph.conf names (a hand edit, or an
    # interrupted change), as a refresh found them; the next update restarts them. None: none.
    osds_to_restart: tuple[str, ...] | None = None


def _rules(inputs: InitInputs) -> list[Failure]:
    failures: list[Failure] = []
    size, min_size = inputs.size, inputs.min_size
    if size is not None and min_size is not None and not is_unknown([size, min_size]):
        reason = rules.min_size_within_size(size, min_size, "size")
        if reason:
            failures.append(("min_size", f"CephInit.min_size: {reason}"))
    network, cluster = inputs.network, inputs.cluster_network
    if network is not None and cluster is not None and not is_unknown([network, cluster]):
        reason = cluster_network_overlap(network, cluster, "network")
        if reason:
            failures.append(("cluster_network", f"CephInit.cluster_network: {reason}"))
    return failures


SPEC = Spec("CephInit", InitInputs, InitOutputs, rules=_rules)


class LiveInit(TypedDict):
    """ceph.conf's [global]: the fsid and the init inputs it records."""

    fsid: str | None
    network: str | None
    cluster_network: str | None
    size: int | None
    min_size: int | None


def read_global(conf_text: str) -> LiveInit:
    """ceph.conf [global] -> fsid and the init inputs it records.

    PVE writes cluster_network = network when no cluster network is given; that reads back as None.
    """
    section = parse_ini(conf_text).get("global", {})
    network = section.get("public_network")
    cluster = section.get("cluster_network")
    network = rules.normalise_network(network.split(",")[0].strip()) if network else None
    cluster = rules.normalise_network(cluster.split(",")[0].strip()) if cluster else None
    return {
        "fsid": section.get("fsid"),
        "network": network,
        "cluster_network": None if cluster == network else cluster,
        "size": as_int(section.get("osd_pool_default_size")),
        "min_size": as_int(section.get("osd_pool_default_min_size")),
    }


def takeover(found: LiveInit, inputs: InitInputs) -> Takeover:
    """An initialised cluster: taken over when [global] records what this init writes, else refused.

    None of it can change (see the module docstring), so every difference blocks; a value [global]
    does not record (pool defaults written by hand elsewhere) is not held against it.
    """
    differences = differ("network", found["network"], inputs.network)
    differences += differ("cluster_network", found["cluster_network"], inputs.cluster_network)
    for key, live, wanted in (("size", found["size"], inputs.size), ("min_size", found["min_size"], inputs.min_size)):
        if live is not None:
            differences += differ(key, live, wanted)
    return decide(
        f"Ceph's configuration (fsid {found['fsid']})",
        differences,
        adopt=False,
        fix="Change the inputs to match, or change the cluster by hand first",
        facts=f"public network {found['network']}",
    )
