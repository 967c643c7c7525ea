"""Drives a change of Ceph's cluster network against the API (decisions in logic/cluster_network.py).

check (nothing changed yet) -> POST ceph/init with the new networks -> noout -> for each OSD outside
the new network, host by host: wait for ok-to-stop, restart it, wait until it is up with its
cluster address inside -> noout cleared. Every step reads the cluster afresh, so a run that failed
or was killed half-way carries on from where the cluster is when `pulumi up` runs again.
"""

from __future__ import annotations

from dynamic_providers.errors import PveApiError, PveUnreachable, UnsafeToProceed
from dynamic_providers.logic import init
from dynamic_providers.logic.cluster_network import OsdBinding, effective, names, off_network, refusal
from dynamic_providers.logic.init import InitInputs
from dynamic_providers.logic.networks import in_network, interface_ips, ip_of, same_network
from dynamic_providers.logic.osd import tree_osds
from dynamic_providers.progress import progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

OSD_TIMEOUT = 600.0  # per OSD, for ok-to-stop and for coming back (PVE restart-bulk's default)
RESTART_TIMEOUT = 120.0  # the restart task itself
NOOUT = "noout"


def bindings(client: PveClient, node: str) -> list[OsdBinding]:
    """Every OSD of the tree, with its cluster address from `osd metadata` (None where unreadable)."""
    out = []
    for osd in tree_osds(client.osd_tree(node)).values():
        try:
            back = (client.osd_metadata(osd.host, osd.osd_id) or {}).get("osd", {}).get("back_addr")
        except (PveApiError, PveUnreachable):  # a node that is down, an OSD that never booted
            back = None
        out.append(OsdBinding(osd.osd_id, osd.host, osd.up, ip_of(back)))
    return out


def stale_osds(client: PveClient, node: str, network: str | None, cluster_network: str | None) -> tuple[str, ...]:
    """The OSDs a refresh reports: running with a cluster address outside the network ceph.conf names."""
    target = effective(network, cluster_network)
    if target is None:
        return ()
    try:
        osds = bindings(client, node)
    except PveApiError:  # no MON yet (rados_connect failed), or none in quorum: nothing can be told
        return ()
    return names(off_network(osds, target))


def move_osds(client: PveClient, inputs: InitInputs, timeout: float = OSD_TIMEOUT) -> None:
    """Make ceph.conf name inputs' cluster network, and every OSD run with its cluster address in it."""
    node = client.first_online(inputs.api_nodes)
    target = effective(inputs.network, inputs.cluster_network)
    assert target is not None  # network is required
    live = init.read_global(client.ceph_cfg_raw(node))
    conf_target = effective(live["network"], live["cluster_network"])
    rewrite = conf_target is None or not same_network(target, conf_target)
    osds = bindings(client, node)
    to_restart = off_network(osds, target, unknown_is_off=True)
    noout = client.ceph_flag(NOOUT)
    reason = refusal(
        target=target,
        osds=osds,
        to_restart=to_restart,
        host_ips={host: interface_ips(client.network_interfaces(host)) for host in {o.host for o in to_restart}},
        health=str(client.ceph_status(node).get("health", {}).get("status", "")),
        noout_not_ours=noout and rewrite,
    )
    if reason:
        raise UnsafeToProceed(reason)
    if rewrite:
        progress(f"ceph.conf: cluster_network {conf_target} -> {target} (POST ceph/init on {node})")
        client.ceph_init(node, network=inputs.network, cluster_network=inputs.cluster_network)
    if to_restart:
        client.set_ceph_flag(NOOUT, True)
        for index, osd in enumerate(to_restart, 1):
            _restart(client, osd, target, f"[{index}/{len(to_restart)}] {osd.name} on {osd.host}", timeout)
    if to_restart or noout:
        client.set_ceph_flag(NOOUT, False)


def _restart(client: PveClient, osd: OsdBinding, target: str, tag: str, timeout: float) -> None:
    left = (
        f"noout stays set and ceph.conf names {target}; run pulumi up again to carry on (only the OSDs still "
        "outside it are restarted), or clear noout (ceph osd unset noout) to let Ceph recover by itself"
    )

    def ok_to_stop() -> tuple[bool, str]:
        safe, ceph_says = client.cmd_safety(osd.host, "osd", str(osd.osd_id), "stop")
        return safe, ceph_says or "not yet"

    wait_until(client, ok_to_stop, timeout, f"{tag}: Ceph to say ok-to-stop", hint=left)
    progress(f"{tag}: restarting (its cluster address is {osd.cluster_ip or 'unknown'}, outside {target})")
    client.run_task(lambda: client.service_restart(osd.host, osd.name), RESTART_TIMEOUT, f"restarting {tag}")

    def back_in_network() -> tuple[bool, str]:
        state = tree_osds(client.osd_tree(osd.host)).get(osd.osd_id)
        if state is None or not state.up:
            return False, "down"
        try:
            address = ip_of((client.osd_metadata(osd.host, osd.osd_id) or {}).get("osd", {}).get("back_addr"))
        except PveApiError as exc:
            return False, f"up, metadata not readable yet ({exc.message})"
        if not in_network(address, target):
            return False, f"up, with cluster address {address} (not yet the new one)"
        return True, f"up with cluster address {address}"

    seen = wait_until(
        client,
        back_in_network,
        timeout,
        f"{tag} to be up with its cluster address in {target}",
        hint=f"see its log on {osd.host} (journalctl -u ceph-osd@{osd.osd_id}); {left}",
    )
    progress(f"{tag}: {seen}")
