"""Rules that relate several keys of a well-typed config to each other.

Each rule is a generator of Problems, so one run reports every broken rule. `problems()` runs
them all; `warnings()` lists what works but is unwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from dynamic_providers.logic import pve_releases, rules
from dynamic_providers.logic.networks import address_outside, cluster_network_overlap

from .errors import Loc, Problem, key_path
from .model import HciConfig

Rule = Callable[[HciConfig], Iterator[Problem]]


def _p(loc: Loc, message: str) -> Problem:
    return Problem(key_path(loc), message)


def _repeats(values: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(index, value) for every value seen before at a lower index."""
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index, value
        seen.add(value)


def _unknown_nodes(cfg: HciConfig, names: Iterable[str], loc: Loc, indexed: bool = True) -> Iterator[Problem]:
    """Nodes not under `nodes`; list items get their index in the path, map keys their name."""
    known = cfg.node_names
    for index, name in enumerate(names):
        if name not in known:
            where = (*loc, index if indexed else name)
            yield _p(where, f"node {name!r} does not exist; the nodes are {', '.join(known)} (add it under nodes)")


def unique_names(cfg: HciConfig) -> Iterator[Problem]:
    for loc, key, values, what in (
        (("nodes",), "name", cfg.node_names, "node name"),
        (("pools",), "name", [p.name for p in cfg.pools], "pool name"),
        (("vms",), "name", [v.name for v in cfg.vms], "VM name"),
        (("vms",), "vmId", [str(v.vm_id) for v in cfg.vms], "vmId"),
        (("ha", "groups"), "name", [g.name for g in cfg.ha.groups], "HA group name"),
        (("ha", "rules"), "name", [r.name for r in cfg.ha.rules], "HA rule name"),
    ):
        for index, dup in _repeats(values):
            yield _p((*loc, index, key), f"{what} {dup} is used by an earlier entry too; each must be unique")
    for loc, values in ((("monitors",), cfg.monitors), (("managers",), cfg.managers)):
        for index, dup in _repeats(values):
            yield _p((*loc, index), f"node {dup} is listed twice; a node runs at most one")
    storages = [(i, p.storage.name) for i, p in enumerate(cfg.pools) if p.storage]
    for index, dup in _repeats(name for _, name in storages):
        yield _p(
            ("pools", storages[index][0], "storage", "name"),
            f"RBD storage {dup} is defined on another pool too; give each its own name",
        )
    for index, pool in enumerate(cfg.pools):
        if pool.storage and pool.storage.name in [*cfg.local_storages, *cfg.shared_storages]:
            yield _p(
                ("pools", index, "storage", "name"),
                f"storage {pool.storage.name!r} is also listed in localStorages/sharedStorages; pick another name",
            )


def node_references(cfg: HciConfig) -> Iterator[Problem]:
    yield from _unknown_nodes(cfg, cfg.monitors, ("monitors",))
    yield from _unknown_nodes(cfg, cfg.managers, ("managers",))
    yield from _unknown_nodes(cfg, cfg.api_nodes, ("apiNodes",))
    for i, vm in enumerate(cfg.vms):
        if vm.node not in cfg.node_names:
            yield _p(("vms", i, "node"), f"node {vm.node!r} does not exist; the nodes are {', '.join(cfg.node_names)}")
    for i, pool in enumerate(cfg.pools):
        if pool.storage and pool.storage.nodes:
            yield from _unknown_nodes(cfg, pool.storage.nodes, ("pools", i, "storage", "nodes"))
    for i, group in enumerate(cfg.ha.groups):
        yield from _unknown_nodes(cfg, group.nodes, ("ha", "groups", i, "nodes"), indexed=False)
    for i, rule in enumerate(cfg.ha.rules):
        yield from _unknown_nodes(cfg, rule.nodes or {}, ("ha", "rules", i, "nodes"), indexed=False)


def devices(cfg: HciConfig) -> Iterator[Problem]:
    for n, node in enumerate(cfg.nodes):
        data = [osd.device for osd in node.osds]
        for o, dup in _repeats(data):
            yield _p(
                ("nodes", n, "osds", o, "device"),
                f"device {dup} is listed twice on node {node.name}; a device holds one OSD",
            )
        for o, osd in enumerate(node.osds):
            for key, dev in (("dbDevice", osd.db_device), ("walDevice", osd.wal_device)):
                if dev is not None and dev in data:
                    yield _p(
                        ("nodes", n, "osds", o, key),
                        f"{dev} is the data device of an OSD on node {node.name}; use a separate device",
                    )


def monitors_and_managers(cfg: HciConfig) -> Iterator[Problem]:
    if len(set(cfg.monitors)) < 3:
        yield _p(
            ("monitors",),
            f"{len(set(cfg.monitors))} monitor(s) cannot keep quorum through the loss of a node; list at least 3 nodes",
        )
    if not cfg.managers:
        yield _p(("managers",), "no manager: Ceph needs at least one MGR (two for a standby); list node names")


def odd_monitor_count(cfg: HciConfig) -> Iterator[Problem]:
    """An even MON count (4, 6) tolerates no more failures than one MON fewer, and splits evenly.

    Ceph's quorum is a strict majority ("Monitor Config Reference", "an odd number of monitors"), and
    pveceph's docs ask for an odd count of at least 3. Growing a cluster adds MONs two at a time.
    """
    mons = len(set(cfg.monitors))
    if mons >= 3 and mons % 2 == 0:
        yield _p(
            ("monitors",),
            f"{mons} MONs tolerate no more failures than {mons - 1} (a quorum is a strict majority); "
            f"keep the count odd: list {mons - 1} or {mons + 1} nodes",
        )


def ceph_release(cfg: HciConfig) -> Iterator[Problem]:
    """cephVersion x repository x PVE release: dynamic_providers/logic/pve_releases.py's one rule.

    With pveRelease declared, the exact release decides (and must be of pveVersion's major); without
    it, cephVersion must be one some release of that major offers, and CephInstall's check asks each
    node for its release at preview. The Ceph APT source is written by `pveceph install` itself, so
    aptRepositories does not limit the release (components/node.py).
    """
    if cfg.pve_release is not None:
        version = pve_releases.parse_pve_version(cfg.pve_release)
        if version is None or pve_releases.pve_release_format(cfg.pve_release):
            yield _p(("pveRelease",), f"{cfg.pve_release!r} is not a PVE release X.Y.Z (e.g. 8.3.0; `pveversion`)")
            return
        if version[0] != cfg.pve_version:
            yield _p(
                ("pveRelease",),
                f"{cfg.pve_release} is a PVE {version[0]} release, but pveVersion is {cfg.pve_version}; "
                "set both to what the nodes run",
            )
            return
        reason = pve_releases.release_problem(
            version, cfg.ceph_version, cfg.repository, cfg.ceph_allow_experimental, None, "the cluster (pveRelease)"
        )
        if reason:
            yield _p(("repository",) if reason.startswith("repository") else ("cephVersion",), reason)
        return
    offered = pve_releases.offered_in_major(cfg.pve_version)
    if cfg.ceph_version not in offered:
        yield _p(
            ("cephVersion",),
            f"PVE {cfg.pve_version} offers Ceph {', '.join(offered)}, not {cfg.ceph_version}",
        )


def networks(cfg: HciConfig) -> Iterator[Problem]:
    """Both networks and every declared node address in them (dynamic_providers/logic/networks.py)."""
    public, cluster = cfg.public_network, cfg.cluster_network
    overlap = cluster_network_overlap(public, cluster, "publicNetwork") if cluster else None
    if overlap:
        yield _p(("clusterNetwork",), overlap)
    for n, node in enumerate(cfg.nodes):
        if node.address:
            reason = address_outside(node.address, public, "publicNetwork")
            if reason:
                yield _p(("nodes", n, "address"), reason)
        if node.cluster_address:
            if cluster is None:
                yield _p(
                    ("nodes", n, "clusterAddress"),
                    "is set but clusterNetwork is not: without a cluster network the OSDs replicate over "
                    "publicNetwork; set clusterNetwork, or drop clusterAddress",
                )
                continue
            reason = address_outside(node.cluster_address, cluster, "clusterNetwork")
            if reason:
                yield _p(("nodes", n, "clusterAddress"), reason)


def _replicas(
    prefix: Loc, keys: tuple[str, str], size: int, min_size: int, hosts: int, single_copy_opt_in: bool | None
) -> Iterator[Problem]:
    """size and min_size by the providers' own rules (rules.py), then what only the config knows: hosts.

    single_copy_opt_in None: the rule against min_size 1 does not apply (the cluster-wide default).
    """
    size_key, min_key = keys
    reason = rules.min_size_within_size(size, min_size, size_key)
    if reason is None and single_copy_opt_in is not None:
        reason = rules.single_copy_writes(min_size, single_copy_opt_in, "allowDataLoss")
    if reason is not None:
        yield _p((*prefix, min_key), reason)
    if size > hosts:
        yield _p(
            (*prefix, size_key),
            f"{size} replicas need {size} hosts with OSDs (failure domain host), but only {hosts} node(s) have OSDs; "
            f"lower it or add OSDs under nodes[].osds",
        )


def pools(cfg: HciConfig) -> Iterator[Problem]:
    hosts = len(cfg.osd_hosts)
    defaults = ("defaultPoolSize", "defaultPoolMinSize")
    yield from _replicas((), defaults, cfg.default_pool_size, cfg.default_pool_min_size, hosts, None)
    for i, pool in enumerate(cfg.pools):
        yield from _replicas(("pools", i), ("size", "minSize"), pool.size, pool.min_size, hosts, cfg.allow_data_loss)
        if pool.storage and pool.application != "rbd":
            yield _p(("pools", i, "storage"), f"an RBD storage needs application rbd, not {pool.application}")
        reason = rules.pg_num_under_autoscale(pool.autoscale_mode, pool.pg_num, "autoscaleMode")
        if reason is not None:
            yield _p(("pools", i, "pgNum"), reason)


def vm_disks(cfg: HciConfig) -> Iterator[Problem]:
    for v, vm in enumerate(cfg.vms):
        for d, dup in _repeats(disk.interface for disk in vm.disks):
            yield _p(("vms", v, "disks", d, "interface"), f"{dup} is used by another disk of VM {vm.name}")
        for d, disk in enumerate(vm.disks):
            loc = ("vms", v, "disks", d)
            if not cfg.is_known_storage(disk.storage):
                yield _p(
                    (*loc, "storage"),
                    f"storage {disk.storage!r} is not defined; define it as pools[].storage "
                    f"or list an existing one in localStorages/sharedStorages",
                )
            if disk.move_to is not None:
                if not cfg.is_known_storage(disk.move_to):
                    yield _p(
                        (*loc, "moveTo"),
                        f"storage {disk.move_to!r} is not defined; define it as pools[].storage "
                        f"or list an existing one in localStorages/sharedStorages",
                    )
                elif disk.move_to == disk.storage:
                    yield _p((*loc, "moveTo"), f"is the disk's storage already ({disk.storage}); drop moveTo")
            rbd_pool = cfg.rbd_storages.get(disk.final_storage)
            allowed = rbd_pool.storage.nodes if rbd_pool and rbd_pool.storage else None
            if allowed and vm.node not in allowed:
                yield _p(
                    ("vms", v, "node"),
                    f"{vm.node} is not among the nodes of storage {disk.final_storage} ({', '.join(allowed)})",
                )


def vm_ha(cfg: HciConfig) -> Iterator[Problem]:
    groups = [g.name for g in cfg.ha.groups]
    for v, vm in enumerate(cfg.vms):
        if vm.ha is None:
            continue
        loc = ("vms", v, "ha")
        # Undefined storages are reported by vm_disks; here only the known, node-local ones.
        local = sorted({d.final_storage for d in vm.disks if d.final_storage in cfg.local_storages})
        if local:
            yield _p(
                loc,
                f"VM {vm.name} has disks on non-shared storage ({', '.join(local)}), so HA cannot restart it on "
                f"another node; move them to a Ceph storage (disks[].moveTo) or drop ha",
            )
        if vm.ha.group is not None and cfg.pve_version == 8 and vm.ha.group not in groups:
            yield _p((*loc, "group"), f"HA group {vm.ha.group!r} is not defined under ha.groups")
        if vm.started and vm.ha.state in ("stopped", "disabled"):
            yield _p(
                ("vms", v, "started"),
                f"is true but ha.state is {vm.ha.state}: HA would stop the VM again; set started to false",
            )


def ha_version(cfg: HciConfig) -> Iterator[Problem]:
    """PVE 9 replaced HA groups with rules; each API is refused on the other version."""
    if cfg.pve_version == 9:
        if cfg.ha.groups:
            yield _p(
                ("ha", "groups"),
                "HA groups do not exist on PVE 9 (migrated to rules); use ha.rules with type node-affinity",
            )
        for v, vm in enumerate(cfg.vms):
            if vm.ha and vm.ha.group is not None:
                yield _p(("vms", v, "ha", "group"), "HA groups do not exist on PVE 9; list the VM in ha.rules[].vms")
    else:
        if cfg.ha.rules:
            yield _p(("ha", "rules"), "HA rules need PVE 9; on PVE 8 use ha.groups and vms[].ha.group")
        for v, vm in enumerate(cfg.vms):
            if vm.ha and vm.ha.failback is not None:
                yield _p(("vms", v, "ha", "failback"), "needs PVE 9; on PVE 8 use ha.groups[].noFailback")
            if vm.ha and vm.ha.placement == "pin":
                yield _p(
                    ("vms", v, "ha", "placement"),
                    "pin needs PVE 9: on PVE 8 the provider cannot migrate an HA-managed VM; use follow",
                )


def ha_rules(cfg: HciConfig) -> Iterator[Problem]:
    in_node_rule: Counter[str] = Counter()
    for r, rule in enumerate(cfg.ha.rules):
        loc = ("ha", "rules", r)
        for index, name in _repeats(rule.vms):
            yield _p((*loc, "vms", index), f"VM {name} is listed twice")
        for name in dict.fromkeys(rule.vms):
            vm = cfg.vm(name)
            if vm is None:
                yield _p((*loc, "vms"), f"VM {name!r} is not defined under vms")
            elif vm.ha is None:
                yield _p((*loc, "vms"), f"VM {name!r} has no ha settings; a rule can only hold HA-managed VMs")
        if rule.type == "node-affinity":
            in_node_rule.update(set(rule.vms))
            if not rule.nodes:
                yield _p((*loc, "nodes"), "a node-affinity rule needs nodes (name: priority)")
            if rule.affinity is not None:
                yield _p((*loc, "affinity"), "applies to resource-affinity rules only")
        else:
            if rule.affinity is None:
                yield _p((*loc, "affinity"), "a resource-affinity rule needs affinity: positive or negative")
            if rule.nodes is not None or rule.strict is not None:
                yield _p(loc, "nodes and strict apply to node-affinity rules only")
            if len(set(rule.vms)) < 2:
                yield _p((*loc, "vms"), "a resource-affinity rule relates at least two VMs")
    for name, count in sorted(in_node_rule.items()):
        if count > 1:
            yield _p(("ha", "rules"), f"VM {name!r} is in {count} node-affinity rules; PVE allows one per resource")


def maintenance(cfg: HciConfig) -> Iterator[Problem]:
    """nodes[i].maintenance: one node at a time (PVE's docs: "one node at a time"), somewhere for its VMs
    to go, and no HA group or node-affinity rule left without a node.

    A VM with disks on node-local storage is no refusal: bpg's VmLegacy migrates a non-HA VM with
    `with-local-disks=1` and `online=1` (terraform-provider-proxmox v0.111.1 proxmoxtf/resource/vm/vm.go
    migrateNonHAVM), so PVE copies those disks to the same storage on the target (PVE/API2/Qemu.pm migrate_vm).
    """
    down = cfg.maintenance_nodes
    if not down:
        return
    index = {n.name: i for i, n in enumerate(cfg.nodes)}
    for name in down[1:]:
        yield _p(
            ("nodes", index[name], "maintenance"),
            f"node {down[0]} is in maintenance already; put one node at a time into maintenance "
            f"(set this back to false until {down[0]}'s maintenance is over)",
        )
    first = index[down[0]]
    if not [n.name for n in cfg.nodes if not n.maintenance and not n.retire]:
        yield _p(
            ("nodes", first, "maintenance"),
            f"no other node for {down[0]}'s VMs to move to (none that is not in maintenance or retiring); "
            "add a node, or set this back to false",
        )
    for g, group in enumerate(cfg.ha.groups if cfg.pve_version == 8 else []):
        if group.nodes and all(name in down for name in group.nodes):
            yield _p(
                ("nodes", first, "maintenance"),
                f"HA group {group.name} (ha.groups[{g}]) has no node besides {', '.join(group.nodes)}, so its VMs "
                f"could not move; add another node to ha.groups[{g}].nodes, or set this back to false",
            )
    for r, rule in enumerate(cfg.ha.rules if cfg.pve_version == 9 else []):
        if rule.type == "node-affinity" and rule.nodes and all(name in down for name in rule.nodes):
            yield _p(
                ("nodes", first, "maintenance"),
                f"HA rule {rule.name} (ha.rules[{r}]) has no node besides {', '.join(rule.nodes)}, so its VMs "
                f"could not move; add another node to ha.rules[{r}].nodes, or set this back to false",
            )


def retiring_nodes(cfg: HciConfig) -> Iterator[Problem]:
    """What must be true before a node is retired (nodes[].retire), checked before anything changes.

    The procedure is pvecm.adoc's "Remove a Cluster Node" and the Ceph chapter's (pve-docs): no guests
    left on the node, enough hosts left for every pool's copies, and enough MONs and MGRs without it.
    Its MON and MGR go because it is left out of monitors and managers; monitors_and_managers and
    odd_monitor_count then hold the lists without it to at least 3 odd MONs and one MGR.
    """
    retiring = {n.name: i for i, n in enumerate(cfg.nodes) if n.retire}
    if not retiring:
        return

    def why(node: str) -> str:
        return f"node {node} is retiring (nodes[{retiring[node]}].retire)"

    for key, names, role in (("monitors", cfg.monitors, "MON"), ("managers", cfg.managers, "MGR")):
        for index, name in enumerate(names):
            if name in retiring:
                yield _p(
                    (key, index),
                    f"{why(name)}; remove it from {key} in the same change (its {role} is destroyed "
                    "once its OSDs are drained)",
                )
    for v, vm in enumerate(cfg.vms):
        if vm.node in retiring:
            yield _p(
                ("vms", v, "node"),
                f"{why(vm.node)} but VM {vm.name} is on it; set node to another node first (the VM migrates), "
                "or remove the VM",
            )
    for i, pool in enumerate(cfg.pools):
        for name in pool.storage.nodes if pool.storage and pool.storage.nodes else []:
            if name in retiring:
                yield _p(("pools", i, "storage", "nodes"), f"{why(name)}; drop it from this storage's nodes")
    ha_nodes = [("groups", i, g.nodes) for i, g in enumerate(cfg.ha.groups)]
    ha_nodes += [("rules", i, r.nodes or {}) for i, r in enumerate(cfg.ha.rules)]
    for key, i, nodes in ha_nodes:
        for name in nodes:
            if name in retiring:
                yield _p(("ha", key, i, "nodes", name), f"{why(name)}; drop it from this HA {key[:-1]}")
    hosts, staying = len(cfg.osd_hosts), cfg.staying_osd_hosts
    sizes = [
        (cfg.default_pool_size, "defaultPoolSize"),
        *((p.size, f"pools[{i}].size") for i, p in enumerate(cfg.pools)),
    ]
    # Sizes that no longer fit even with the retiring nodes are the pools rule's to report.
    too_big = [(size, key) for size, key in sizes if len(staying) < size <= hosts]
    if too_big:
        size, key = max(too_big)
        for name, n in retiring.items():
            if cfg.nodes[n].osds:
                yield _p(
                    ("nodes", n, "retire"),
                    f"retiring {name} would leave {len(staying)} host(s) with OSDs ({', '.join(staying) or 'none'}), "
                    f"fewer than {key} {size} (one copy per host): add OSDs on another node first, or lower {key}",
                )


RULES: tuple[Rule, ...] = (
    unique_names,
    node_references,
    devices,
    monitors_and_managers,
    odd_monitor_count,
    ceph_release,
    networks,
    pools,
    vm_disks,
    vm_ha,
    ha_version,
    ha_rules,
    maintenance,
    retiring_nodes,
)


def problems(cfg: HciConfig) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(cfg)]


def warnings(cfg: HciConfig) -> list[str]:
    out = []
    if len(set(cfg.managers)) == 1:
        out.append("managers: a single MGR has no standby; list two nodes")
    for n, node in enumerate(cfg.nodes):
        if not node.osds:
            out.append(f"nodes[{n}].osds: node {node.name} has no OSDs")
    return out
