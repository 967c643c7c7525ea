"""PVE's HA stack as data and pure decisions: the config (groups, rules, resources) and the CRM's choices.

Everything here follows pve-ha-manager (`src/PVE/HA/Manager.pm`, `Config.pm`, `Tools.pm`,
`Rules/NodeAffinity.pm`, `src/PVE/API2/HA/Status.pm`), reduced to what the lab models: the `basic` CRS
scheduler (fewest HA services wins), no resource-affinity placement, no maintenance mode. Nothing
here touches the network, the clock or the event loop: lab/ha/config.py changes the config,
lab/ha/manager.py acts on the guests, lab/handlers/ha.py serves the API.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.pve_formats import perl_ctime, split_list

RULE_TYPES = ("node-affinity", "resource-affinity")
# Guest types as /cluster/resources names them -> HA resource type (PVE::HA::Tools::get_ha_resource_type).
HA_TYPE = {"qemu": "vm", "lxc": "ct"}
# CRM states in which a service is fenced with its node (Manager.pm next_state_*): 'error' is left
# alone, 'fence' and 'recovery' are already on the way; 'stopped' is fenced unless disabled.
FENCED_STATES = ("started", "request_start", "request_stop", "migrate", "relocate", "freeze")
# Locks PVE removes from a recovered guest's config (Manager.pm $fence_recovery_cleanup).
REMOVABLE_LOCKS = (
    "backup",
    "mounted",
    "migrate",
    "clone",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspending",
    "create",
)

_SID = re.compile(r"^([a-z]+):(\S+)$")
_SID_OR_VMID = re.compile(r"^(?:[a-z]+:\S+|\d+)$")
_NODE_ENTRY = re.compile(r"^([a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?)(?::(\d+))?$")


class HaError(Exception):
    """A refusal in PVE's words. With `field` it is a parameter error (HTTP 400) for that field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# -- ids and lists --------------------------------------------------------------------------------


def check_sid_format(text: str, field: str = "sid", vmid_ok: bool = True) -> None:
    """The pve-ha-resource-id(-or-vm-id) formats, which fakepve's schema check does not implement.
    The message keeps the newline PVE's per-parameter format errors carry."""
    if not (_SID_OR_VMID if vmid_ok else _SID).match(text):
        raise HaError("invalid format - value does not look like a valid ha resource id\n", field)


def resolve_sid(text: str, guest_types: Mapping[int, str]) -> tuple[str, str, str]:
    """PVE::HA::Config::parse_sid: (sid, type, name). A bare VMID is looked up among the guests."""
    if text.isdigit():
        kind = guest_types.get(int(text))
        if kind is None:
            raise HaError(f"unable to detect SID from VMID - VM/CT {text} does not exist")
        ha_type = HA_TYPE[kind]
        return f"{ha_type}:{text}", ha_type, text
    match = _SID.match(text)
    if not match:
        raise HaError(f"unable to parse service id '{text}'")
    return text, match.group(1), match.group(2)


def check_guest(ha_type: str, name: str, guest_types: Mapping[int, str]) -> None:
    """The resource plugin's verify_name and exists (PVE::HA::Resources::PVEVM / PVECT)."""
    if ha_type not in ("vm", "ct"):
        raise HaError(f"unknown section type '{ha_type}'")
    if not re.fullmatch(r"[1-9][0-9]+", name):
        raise HaError("invalid VMID")
    kind = guest_types.get(int(name))
    if kind is None:
        raise HaError(f"resource '{ha_type}:{name}' does not exist in cluster")
    if HA_TYPE[kind] != ha_type:
        raise HaError(
            f"resource '{ha_type}:{name}' - guest with ID {name} is not a " + ("VM" if ha_type == "vm" else "CT")
        )


def parse_node_list(text: str, field: str = "nodes", what: str = "ha node") -> dict[str, int | None]:
    """A pve-ha-node-list ("pve1:2,pve2"): node -> priority, None where none was given.

    PVE 8 calls the format pve-ha-group-node ("... a valid ha group node"), PVE 9 pve-ha-node.
    """
    out: dict[str, int | None] = {}
    for entry in split_list(text):
        match = _NODE_ENTRY.match(entry)
        if not match:
            raise HaError(f"invalid format - value does not look like a valid {what}\n", field)
        out[match.group(1)] = int(match.group(2)) if match.group(2) is not None else None
    return out


def format_node_list(nodes: Mapping[str, int | None]) -> str:
    """As PVE writes it back: `node:prio`, or the bare name without a priority (sorted, as rules do)."""
    return ",".join(node if not prio else f"{node}:{prio}" for node, prio in sorted(nodes.items()))


# -- configuration ----------------------------------------------------------------------------------


@dataclass
class HaResource:
    """One entry of resources.cfg. Unset options stay None: PVE only returns what was set."""

    sid: str
    type: str
    state: str | None = None
    group: str | None = None
    max_restart: int | None = None
    max_relocate: int | None = None
    failback: bool | None = None
    auto_rebalance: bool | None = None
    comment: str | None = None

    @property
    def request_state(self) -> str:
        """The state the CRM acts on: unset and 'enabled' mean 'started' (read_and_check_resources_config)."""
        return "started" if self.state in (None, "enabled") else self.state

    @property
    def relocate_limit(self) -> int:
        return 1 if self.max_relocate is None else self.max_relocate

    @property
    def restart_limit(self) -> int:
        return 1 if self.max_restart is None else self.max_restart

    @property
    def vmid(self) -> int:
        return int(self.sid.split(":", 1)[1])

    def options(self) -> dict[str, object]:
        """The set options under their API names."""
        raw = {
            "state": self.state,
            "group": self.group,
            "max_restart": self.max_restart,
            "max_relocate": self.max_relocate,
            "failback": _bool(self.failback),
            "auto-rebalance": _bool(self.auto_rebalance),
            "comment": self.comment,
        }
        return {k: v for k, v in raw.items() if v is not None}


@dataclass
class HaGroup:
    """A PVE 8 HA group (groups.cfg)."""

    name: str
    nodes: dict[str, int | None]
    restricted: bool | None = None
    nofailback: bool | None = None
    comment: str | None = None

    def options(self) -> dict[str, object]:
        raw = {
            "nodes": format_node_list(self.nodes),
            "restricted": _bool(self.restricted),
            "nofailback": _bool(self.nofailback),
            "comment": self.comment,
        }
        return {k: v for k, v in raw.items() if v is not None}


@dataclass
class HaRule:
    """A PVE 9 HA rule (rules.cfg)."""

    name: str
    type: str
    resources: set[str]
    order: int
    nodes: dict[str, int | None] | None = None
    strict: bool | None = None
    affinity: str | None = None
    disable: bool | None = None
    comment: str | None = None

    def options(self) -> dict[str, object]:
        raw = {
            "resources": ",".join(sorted(self.resources)),
            "nodes": format_node_list(self.nodes) if self.nodes is not None else None,
            "strict": _bool(self.strict),
            "disable": _bool(self.disable),
            "comment": self.comment,
            # set_rule_defaults: node-affinity's `affinity` defaults to positive (falsy defaults are left out)
            "affinity": self.affinity or ("positive" if self.type == "node-affinity" else None),
        }
        return {k: v for k, v in raw.items() if v is not None}


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def digest(sections: Iterable[tuple[str, str, Mapping[str, object]]]) -> str:
    """SHA1 of the section-config text PVE would write; clients pass it back to detect changes."""
    text = "".join(
        f"{kind}: {name}\n" + "".join(f"\t{k} {v}\n" for k, v in sorted(opts.items())) + "\n"
        for kind, name, opts in sections
    )
    return hashlib.sha1(text.encode()).hexdigest()


# -- the manager's view ---------------------------------------------------------------------------


@dataclass
class Service:
    """A service in the CRM's manager_status: where it is and in which CRM state."""

    node: str
    state: str  # request_start, started, request_stop, stopped, migrate, relocate, fence, recovery, error
    running: bool = False
    failed_nodes: list[str] = field(default_factory=list)
    target: str | None = None


@dataclass(frozen=True)
class Placement:
    """Where a service may run: node -> priority (None: anywhere), and whether other nodes are allowed."""

    nodes: Mapping[str, int] | None = None
    strict: bool = False
    failback: bool = True


def placement_for(
    resource: HaResource, groups: Mapping[str, HaGroup], rules: Iterable[HaRule], all_nodes: Iterable[str]
) -> Placement:
    """PVE 8: the resource's group (restricted, nofailback). PVE 9: its enabled node-affinity rule
    (strict) and the resource's own `failback`. Without either, every node is equal."""
    group = groups.get(resource.group) if resource.group else None
    if group is not None:
        return Placement({n: p or 0 for n, p in group.nodes.items()}, bool(group.restricted), not group.nofailback)
    failback = resource.failback is not False
    for rule in sorted(rules, key=lambda r: r.order):
        if rule.type != "node-affinity" or rule.disable or resource.sid not in rule.resources:
            continue
        listed = {n: p or 0 for n, p in (rule.nodes or {}).items()}
        if rule.affinity == "negative":  # "any but the given nodes"
            listed = {n: 0 for n in all_nodes if n not in listed}
        return Placement(listed, bool(rule.strict), failback)
    return Placement(None, False, failback)


def candidate_nodes(placement: Placement, online: Iterable[str]) -> tuple[set[str], set[str]]:
    """(allowed, preferred): online nodes the service may use, and those of the highest priority.

    Non-strict placements add the other online nodes at priority -1 (NodeAffinity.pm plugin_compile,
    Manager.pm get_node_priority_groups for unrestricted groups).
    """
    up = set(online)
    if placement.nodes is None:
        return up, set(up)
    prio = {n: p for n, p in placement.nodes.items() if n in up}
    if not placement.strict:
        prio.update({n: -1 for n in up if n not in prio})
    if not prio:
        return set(), set()
    top = max(prio.values())
    return set(prio), {n for n, p in prio.items() if p == top}


def usage(services: Mapping[str, Service], online: Iterable[str]) -> Counter[str]:
    """HA services per online node as the `basic` scheduler counts them (recompute_online_node_usage)."""
    up = set(online)
    count: Counter[str] = Counter({n: 0 for n in up})
    for svc in services.values():
        if svc.node in up and svc.state in ("started", "request_stop", "fence", "freeze", "error", "recovery"):
            count[svc.node] += 1
        elif svc.state in ("migrate", "relocate"):
            for node in {svc.node, svc.target}:
                if node in up:
                    count[node] += 1
    return count


def select_service_node(
    placement: Placement,
    online: Iterable[str],
    load: Mapping[str, int],
    current: str,
    preference: str = "best-score",
    tried: Iterable[str] = (),
) -> str | None:
    """Manager.pm select_service_node: 'none' (stay if allowed), 'best-score' (recovery), 'try-next'
    (relocation after a failed start, skipping nodes tried already). Ties: fewest services, then name."""
    allowed, preferred = candidate_nodes(placement, online)
    if not preferred:
        return None
    if preference == "none" and not placement.failback and current in allowed:
        return current
    if preference == "try-next":
        preferred -= set(tried)
    if preference == "none" and current in preferred:
        return current
    nodes = sorted(preferred, key=lambda n: (load.get(n, 0), n))
    if not nodes:
        return None
    if preference == "try-next" and current in nodes and nodes.index(current) < len(nodes) - 1:
        return nodes[nodes.index(current) + 1]
    return nodes[0]


def needs_fencing(resource: HaResource, service: Service) -> bool:
    """Whether a service goes to 'fence' when its node is lost (next_state_started/stopped/...)."""
    if service.state == "stopped":
        return resource.request_state != "disabled"
    return service.state in FENCED_STATES


@dataclass(frozen=True)
class Decision:
    """What the CRM does with one service: its next CRM state, the node (None: stays), and why (its log line)."""

    state: str
    node: str | None
    reason: str

    @property
    def start(self) -> bool:
        return self.state == "started"


def decide_recovery(
    sid: str,
    resource: HaResource,
    service: Service,
    placement: Placement,
    online: Iterable[str],
    load: Mapping[str, int],
) -> Decision:
    """next_state_recovery: after the node is fenced, pick a new node (best score) and steal the service.

    No allowed node online (a strict rule or restricted group whose nodes are all down): the service
    stays in 'recovery' and the CRM retries every round; a disabled one goes to 'stopped'.
    """
    fenced = service.node
    node = select_service_node(placement, online, load, fenced, "best-score")
    if node is not None:
        reason = (
            f"recover service '{sid}' to previous failed and fenced node '{fenced}' again"
            if node == fenced
            else f"recover service '{sid}' from fenced node '{fenced}' to node '{node}'"
        )
        return Decision("started" if resource.request_state == "started" else "request_stop", node, reason)
    reason = f"recovering service '{sid}' from fenced node '{fenced}' failed, no recovery node found"
    if resource.request_state == "disabled":
        return Decision("stopped", None, reason)
    return Decision("recovery", None, reason)


def decide_start_failure(
    sid: str,
    resource: HaResource,
    service: Service,
    placement: Placement,
    online: Iterable[str],
    load: Mapping[str, int],
) -> Decision:
    """The relocation policy (next_state_started on an LRM ERROR), once the LRM used up max_restart.

    The failed node is recorded; while no more than max_relocate nodes failed the service moves to
    the next allowed node, after that it enters 'error' and stays there until disabled.
    """
    failed = [*service.failed_nodes, service.node]
    if len(failed) > resource.relocate_limit:
        return Decision(
            "error",
            None,
            f"recovery policy for service {sid} failed, entering error state. Failed nodes: {', '.join(failed)}",
        )
    node = select_service_node(placement, online, load, service.node, "try-next", failed)
    if node is None or node == service.node:
        return Decision(
            "started",
            None,
            f"Start Error Recovery: Tried all available nodes for service '{sid}', "
            f"retry start on current node. Tried nodes: {', '.join(failed)}",
        )
    return Decision("relocate", node, f"starting service {sid} on node '{service.node}' failed, relocating service.")


def decide_failback(
    sid: str, service: Service, placement: Placement, online: Iterable[str], load: Mapping[str, int]
) -> Decision | None:
    """A started service moves to a node of higher priority that came (back) online, unless failback is off."""
    if service.state != "started":
        return None
    node = select_service_node(placement, online, load, service.node, "none")
    if node is None or node == service.node:
        return None
    return Decision("migrate", node, f"migrate service '{sid}' to node '{node}' (running)")


# -- status ---------------------------------------------------------------------------------------


def verbose_state(service: Service | None, resource: HaResource | None, vm_known: bool = True) -> str:
    """PVE::HA::Tools::get_verbose_service_state."""
    if resource is None:
        return "deleting"
    req = resource.state or "started"
    if req == "ignored":
        return "ignored"
    if not vm_known:
        return "not found"
    if service is None:
        return "queued"
    req = resource.request_state
    if service.state == "stopped":
        return {"started": "starting", "disabled": "disabled"}.get(req, "stopped")
    if service.state == "started":
        if req in ("stopped", "disabled"):
            return "stopping"
        return "started" if service.running else "starting"
    if service.state == "error" and req == "disabled":
        return "clearing error flag"
    return service.state


def status_entries(
    *,
    local_node: str,
    quorate: bool,
    master: str | None,
    now: float,
    nodes: Iterable[str],
    lost: Mapping[str, float],
    services: Mapping[str, Service],
    resources: Mapping[str, HaResource],
    vm_nodes: Mapping[str, str],
    pve_version: int,
) -> list[dict]:
    """GET /cluster/ha/status/current (API2/HA/Status.pm of HA 4.0 and 5.0).

    `lost` maps each lost node to the moment its LRM stopped writing. PVE calls an LRM "old timestamp
    - dead?" once that is 30 s old; the lab says so at once, as it compresses fencing into seconds.
    No master and no LRM entries before the CRM ever had a service to manage. `vm_nodes` says where
    each resource's guest is (sid -> node); a resource whose guest is gone shows as 'not found'.
    """
    out: list[dict] = [
        {
            "id": "quorum",
            "type": "quorum",
            "node": local_node,
            "quorate": int(quorate),
            "status": "OK" if quorate else f"No quorum on node '{local_node}'!",
        }
    ]
    if master is not None:
        out.append(
            {
                "id": "master",
                "type": "master",
                "node": master,
                "timestamp": int(now),
                "status": f"{master} (active, {perl_ctime(now)})",
            }
        )
        for node in sorted(nodes):
            seen = lost.get(node, now)
            if node in lost:
                text = "old timestamp - dead?"
            else:
                busy = any(
                    s.node == node and s.state not in ("stopped", "freeze", "error", "request_start")
                    for s in services.values()
                )
                text = "active" if busy else "idle"
            out.append(
                {
                    "id": f"lrm:{node}",
                    "type": "lrm",
                    "node": node,
                    "timestamp": int(seen),
                    "status": f"{node} ({text}, {perl_ctime(seen)})",
                }
            )
    for sid in sorted(set(services) | set(resources)):
        svc, res = services.get(sid), resources.get(sid)
        entry: dict = {"id": f"service:{sid}", "type": "service", "sid": sid}
        if svc is not None:
            entry.update(node=svc.node, crm_state=svc.state)
        elif sid in vm_nodes:
            entry["node"] = vm_nodes[sid]
        state = verbose_state(svc, res, sid in vm_nodes)
        entry["state"] = state
        entry["status"] = f"{sid} ({entry.get('node', '---')}, {state})"
        if res is not None:
            # read_and_check_resources_config fills in the defaults the CRM works with
            entry.update(
                request_state=res.request_state, max_restart=res.restart_limit, max_relocate=res.relocate_limit
            )
            if pve_version >= 9:
                entry["failback"] = int(res.failback is not False)
            entry.update((k, v) for k, v in res.options().items() if k in ("group", "comment"))
        out.append(entry)
    return out


def manager_status(
    *, local_node: str, quorate: bool, now: float, nodes: Iterable[str], state: HaState
) -> dict[str, Any]:
    """GET /cluster/ha/status/manager_status (API2/HA/Status.pm): the CRM's manager_status, quorum, LRMs."""
    stamp = int(now)
    services = {
        sid: {
            k: val
            for k, val in {
                "node": s.node,
                "state": s.state,
                "running": int(s.running) or None,
                "failed_nodes": s.failed_nodes or None,
                "target": s.target,
            }.items()
            if val is not None
        }
        for sid, s in state.services.items()
    }
    names = list(nodes)
    manager: dict[str, Any] = {}
    if state.master is not None:
        manager = {
            "master_node": state.master,
            "timestamp": stamp,
            "service_status": services,
            "node_status": state.node_status(names),
        }
    return {
        "manager_status": manager,
        "quorum": {"node": local_node, "quorate": int(quorate)},
        "lrm_status": {
            n: {
                "mode": "active",
                "timestamp": int(state.lost.get(n, stamp)),
                "state": "active" if any(s.node == n for s in state.services.values()) else "wait_for_agent_lock",
            }
            for n in sorted(names)
        },
    }


def rule_errors(rules: Mapping[str, HaRule], node_count: int) -> dict[str, dict[str, list[str]]]:
    """The feasibility checks the lab models (Rules.pm check_feasibility): a resource in two node-affinity
    rules, a resource-affinity rule with fewer than two resources, a negative one with more resources
    than nodes. Disabled rules are not checked."""
    errs: dict[str, dict[str, list[str]]] = {}
    users: dict[str, list[str]] = {}
    for name, rule in rules.items():
        if rule.disable:
            continue
        if rule.type == "node-affinity":
            for sid in rule.resources:
                users.setdefault(sid, []).append(name)
        elif len(rule.resources) < 2:
            errs.setdefault(name, {}).setdefault("resources", []).append(
                "rule is ineffective as there are less than two resources"
            )
        elif rule.affinity == "negative" and len(rule.resources) > node_count:
            errs.setdefault(name, {}).setdefault("resources", []).append(
                "rule defines more resources than available nodes"
            )
    for sid, names in sorted(users.items()):
        if len(names) > 1:
            for name in sorted(names):
                errs.setdefault(name, {}).setdefault("resources", []).append(
                    f"resource '{sid}' is already used in another node affinity rule"
                )
    return errs


@dataclass
class HaState:
    """Everything the lab's HA stack knows: the three config files and the CRM's manager_status."""

    groups: dict[str, HaGroup] = field(default_factory=dict)
    rules: dict[str, HaRule] = field(default_factory=dict)
    resources: dict[str, HaResource] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    master: str | None = None
    # node -> when it was lost; fenced: lost nodes whose fencing succeeded (their services were recovered)
    lost: dict[str, float] = field(default_factory=dict)
    fenced: set[str] = field(default_factory=set)
    # what the CRM would write to the syslog, oldest first
    log: list[str] = field(default_factory=list)

    def placement(self, sid: str, all_nodes: Iterable[str]) -> Placement:
        return placement_for(self.resources[sid], self.groups, self.rules.values(), all_nodes)

    def node_status(self, nodes: Iterable[str]) -> dict[str, str]:
        """manager_status node_status: lost nodes are 'fence' until fenced, then 'unknown'."""
        return {n: ("unknown" if n in self.fenced else "fence") if n in self.lost else "online" for n in nodes}

    def resources_digest(self) -> str:
        return digest((r.type, r.sid.split(":", 1)[1], r.options()) for r in self.resources.values())

    def groups_digest(self) -> str:
        return digest(("group", g.name, g.options()) for g in self.groups.values())

    def rules_digest(self) -> str:
        return digest((r.type, r.name, r.options()) for r in sorted(self.rules.values(), key=lambda r: r.order))

    def check_service_state(self, sid: str, requested: str | None = None) -> None:
        """check_service_state (src/PVE/API2/HA/Resources.pm): a service in 'error' only takes `state=disabled`."""
        svc = self.services.get(sid)
        if svc is not None and svc.state == "error" and requested != "disabled":
            raise HaError(f"service '{sid}' in error state, must be disabled and fixed first")

    def add_service(self, resource: HaResource, node: str, running: bool) -> Service | None:
        """The CRM picks up a new resource (Manager.pm manage): request_start or request_stop where the
        guest is; an ignored resource gets no service."""
        if resource.state == "ignored":
            return None
        state = "request_start" if resource.request_state == "started" else "request_stop"
        service = Service(node=node, state=state, running=running)
        self.services[resource.sid] = service
        return service

    def drop_resource(self, sid: str, purge: bool) -> None:
        """delete_service_from_config: with purge the sid leaves every rule, and rules left empty go."""
        self.resources.pop(sid, None)
        self.services.pop(sid, None)
        if purge:
            for name, rule in list(self.rules.items()):
                rule.resources.discard(sid)
                if not rule.resources:
                    del self.rules[name]
