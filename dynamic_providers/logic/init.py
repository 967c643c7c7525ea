"""CephInit decisions: inputs, reading [global] back, what adopting an initialised cluster requires. Pure.

Networks are refused, not replaced: `pveceph init` on a live cluster rewrites them in place
(pve-manager PVE/API2/Ceph.pm, init: every call given a network writes public_network and
cluster_network), and moving a cluster's networks is a manual procedure (new MONs, then OSD
restarts). The pool defaults (size, min_size) are only written when [global] is first created (same
file), so changing them later would do nothing: refused as well, with a pointer to CephPool.
"""

from __future__ import annotations

from typing import Any

from dynamic_providers.logic.spec import REQUIRED, Failure, Field, Spec
from dynamic_providers.logic.validators import between, cidr, node_list, normalise_cidr
from dynamic_providers.values import as_int, is_unknown, parse_ini

NETWORK_REASON = (
    "changing Ceph's networks on a live cluster is a manual procedure (new MONs on the new network, "
    "then OSD restarts); do it by hand, then refresh"
)
DEFAULTS_REASON = (
    "PVE writes the pool defaults only when the cluster is first initialised; set size and "
    "min_size on each CephPool instead"
)


def _rules(inputs: dict[str, Any]) -> list[Failure]:
    size, min_size = inputs.get("size"), inputs.get("min_size")
    if size is not None and min_size is not None and not is_unknown([size, min_size]) and min_size > size:
        return [("min_size", f"CephInit.min_size ({min_size}) is larger than size ({size})")]
    return []


SPEC = Spec(
    resource="CephInit",
    fields=(
        Field("api_nodes", "str_list", REQUIRED, "update", node_list),
        Field("network", "str", REQUIRED, "refuse", cidr, normalise_cidr, refuse_reason=NETWORK_REASON),
        Field("cluster_network", "str", None, "refuse", cidr, normalise_cidr, refuse_reason=NETWORK_REASON),
        Field("size", "int", 3, "refuse", between(1, 7), refuse_reason=DEFAULTS_REASON),
        Field("min_size", "int", 2, "refuse", between(1, 7), refuse_reason=DEFAULTS_REASON),
        Field("pg_bits", "int", None, "update", between(6, 14)),  # deprecated and ignored by PVE
        Field("adopt", "bool", False),
    ),
    outputs=("fsid",),
    rules=_rules,
)


def init_params(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "network": inputs["network"],
        "cluster-network": inputs.get("cluster_network"),
        "size": inputs["size"],
        "min_size": inputs["min_size"],
        "pg_bits": inputs.get("pg_bits"),
    }


def read_global(conf_text: str) -> dict[str, Any]:
    """ceph.conf [global] -> fsid and the init inputs it records.

    PVE writes cluster_network = network when no cluster network is given; that reads back as None.
    """
    section = parse_ini(conf_text).get("global", {})
    network = section.get("public_network")
    cluster = section.get("cluster_network")
    network = normalise_cidr(network.split(",")[0].strip()) if network else None
    cluster = normalise_cidr(cluster.split(",")[0].strip()) if cluster else None
    return {
        "fsid": section.get("fsid"),
        "network": network,
        "cluster_network": None if cluster == network else cluster,
        "size": as_int(section.get("osd_pool_default_size")),
        "min_size": as_int(section.get("osd_pool_default_min_size")),
    }


def adopt_mismatches(live: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
    """What differs between an initialised cluster and the inputs (each a readable phrase)."""
    out = []
    for key in ("network", "cluster_network", "size", "min_size"):
        if live.get(key) is not None and live.get(key) != inputs.get(key):
            out.append(f"{key} is {live.get(key)!r}, not {inputs.get(key)!r}")
    return out
