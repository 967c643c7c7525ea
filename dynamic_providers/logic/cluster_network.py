"""Changing Ceph's cluster network on a running cluster: what must happen, what is refused. Pure.

What PVE and Ceph give:
- A repeat POST /nodes/{node}/ceph/init given `network` rewrites [global] public_network and
  cluster_network (`cluster-network`, else `network` again) and keeps the rest: fsid, auth and the
  pool defaults (pve-manager PVE/API2/Ceph.pm, init). That is PVE's API for it; nothing else of
  PVE writes cluster_network.
- Ceph reads the networks only when a daemon starts: an OSD picks its cluster address then
  (ceph src/common/pick_address.cc), and a running one keeps the address it has. MONs and MGRs
  do not use the cluster network at all. So after the rewrite every OSD must restart, and
  until it does `ceph osd dump` still shows its old cluster address.
- The restart, as Ceph documents it for maintenance and PVE does it in its rolling restart
  (PVE/API2/Ceph.pm restart-bulk, pve-manager 9.2.5): noout set meanwhile; one OSD at a time,
  each once `ceph osd ok-to-stop` says so (GET /nodes/{node}/ceph/cmd-safety action=stop), and
  back up before the next; noout cleared at the end. restart-bulk itself is newer than PVE 8,
  so the provider sends the calls it is made of (cmd-safety, POST /nodes/{node}/ceph/restart,
  PUT /cluster/ceph/flags/noout), which every PVE 8 and 9 has.

The change goes host by host (hosts by name, OSDs by id) and restarts only the OSDs whose cluster
address is outside the new network, so an interrupted change resumes where the cluster is; the
same holds for OSDs left behind by a hand edit of ceph.conf (read() finds them).

Refused before anything changes, each with what to do: an OSD that is down (Ceph could not keep
every PG available while the others restart, and it would not come back to prove its address), a
host with OSDs to restart but no active address in the new network (its OSDs could not start
there: "unable to find any IPv4 address in networks"), HEALTH_ERR, and noout already set by
someone else (the change sets and clears it itself). noout found set while ceph.conf already names
the new network is taken as left by an interrupted change, and cleared at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dynamic_providers.logic.networks import in_network

NOTHING_CHANGED = "Nothing was changed."


@dataclass(frozen=True)
class OsdBinding:
    """An OSD as the change sees it: where it runs, whether it is up, and its cluster address now."""

    osd_id: int
    host: str
    up: bool
    cluster_ip: str | None  # from `osd metadata` back_addr; None when it could not be read

    @property
    def name(self) -> str:
        return f"osd.{self.osd_id}"


def effective(network: str | None, cluster_network: str | None) -> str | None:
    """The network OSDs bind their cluster address in: the cluster network, else the public one."""
    return cluster_network or network


def off_network(osds: Iterable[OsdBinding], network: str, unknown_is_off: bool = False) -> list[OsdBinding]:
    """The OSDs whose cluster address is outside the network, in restart order (host by host, by id).

    An unknown address counts as outside only when asked (the change restarts it to be sure; a
    refresh does not report what it could not read).
    """
    out = [
        osd
        for osd in osds
        if (osd.cluster_ip is None and unknown_is_off)
        or (osd.cluster_ip is not None and not in_network(osd.cluster_ip, network))
    ]
    return sorted(out, key=lambda osd: (osd.host, osd.osd_id))


def names(osds: Iterable[OsdBinding]) -> tuple[str, ...]:
    return tuple(osd.name for osd in osds)


def refusal(
    *,
    target: str,
    osds: Iterable[OsdBinding],
    to_restart: Iterable[OsdBinding],
    host_ips: Mapping[str, list[str]],
    health: str,
    noout_not_ours: bool,
) -> str | None:
    """Why the change cannot start now (with what to do), or None. `host_ips`: each host's active addresses."""
    reasons = []
    down = [osd for osd in osds if not osd.up]
    if down:
        listed = ", ".join(f"{osd.name} on {osd.host}" for osd in down)
        reasons.append(
            f"{listed} {'is' if len(down) == 1 else 'are'} down: restarting the others would leave PGs without "
            "enough copies, and a down OSD cannot show its new address. Bring it up (or remove it), then run again"
        )
    for host in sorted({osd.host for osd in to_restart}):
        ips = host_ips.get(host, [])
        if not any(in_network(ip, target) for ip in ips):
            seen = ", ".join(ips) or "none"
            reasons.append(
                f"node {host} has no active address in {target} (its interfaces have: {seen}), so its OSDs "
                f"could not start there (Ceph: unable to find any IPv4 address in networks '{target}'). Give "
                "it one (System > Network in PVE, then Apply Configuration), then run again"
            )
    if health == "HEALTH_ERR":
        reasons.append("Ceph is in HEALTH_ERR; restarting OSDs now could make data unavailable. Fix that first")
    if noout_not_ours:
        reasons.append(
            "the cluster's noout flag is already set, and this change sets and clears it itself: finish what set "
            "it and clear it (ceph osd unset noout, or Ceph > OSD > Manage Global Flags), then run again"
        )
    if not reasons:
        return None
    return f"cannot move the OSDs to cluster network {target}: " + "; ".join(reasons) + ". " + NOTHING_CHANGED


def change_notice(old: str | None, new: str | None, public: str, stale: Iterable[str] = ()) -> str:
    """What preview says about an update of cluster_network (or about OSDs ceph.conf left behind)."""
    target = new or public
    stale = list(stale)
    if old == new and stale:
        what = (
            f"ceph.conf names cluster network {target}, but {', '.join(stale)} still "
            f"{'runs' if len(stale) == 1 else 'run'} with a cluster address outside it (ceph.conf changed by "
            "hand, or an interrupted change)"
        )
    else:
        what = (
            f"cluster_network {old or 'unset (the public network)'} -> {new or 'unset (the public network)'}: "
            "PVE rewrites ceph.conf (POST ceph/init), and only OSDs that restart pick it up"
        )
    return (
        f"{what}. This update restarts every OSD whose cluster address is outside {target}, one node at a time "
        "and one OSD at a time, each once Ceph says ok-to-stop and back up before the next, with noout set "
        "meanwhile. Every node with OSDs needs an active address in it first."
    )
