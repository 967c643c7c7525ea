"""The HA stack's pure decisions (lab/ha/state.py): ids, node lists, placement, recovery, status."""

from __future__ import annotations

import pytest

from lab.ha.state import (
    HaError,
    HaGroup,
    HaResource,
    HaRule,
    HaState,
    Placement,
    Service,
    candidate_nodes,
    decide_failback,
    decide_recovery,
    decide_start_failure,
    format_node_list,
    needs_fencing,
    parse_node_list,
    placement_for,
    resolve_sid,
    rule_errors,
    select_service_node,
    status_entries,
    usage,
    verbose_state,
)

NODES = ("pve1", "pve2", "pve3")
GUESTS = {100: "qemu", 200: "lxc"}


# -- ids and node lists -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vm:100", ("vm:100", "vm", "100")),  # already a sid
        ("100", ("vm:100", "vm", "100")),  # a bare VMID of a VM
        ("200", ("ct:200", "ct", "200")),  # a bare VMID of a container
        ("vm:999", ("vm:999", "vm", "999")),  # parse_sid does not check existence; the plugin's exists() does
    ],
)
def test_resolve_sid(text: str, expected: tuple[str, str, str]) -> None:
    assert resolve_sid(text, GUESTS) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("300", "unable to detect SID from VMID - VM/CT 300 does not exist"),  # unknown bare VMID
        ("VM:1", "unable to parse service id 'VM:1'"),  # upper case is not a resource type
    ],
)
def test_resolve_sid_refusals(text: str, message: str) -> None:
    with pytest.raises(HaError) as info:
        resolve_sid(text, GUESTS)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pve1", {"pve1": None}),  # no priority
        ("pve1:2,pve2", {"pve1": 2, "pve2": None}),  # mixed
        ("pve1:0 pve2;pve3:10", {"pve1": 0, "pve2": None, "pve3": 10}),  # split_list separators
    ],
)
def test_parse_node_list(text: str, expected: dict[str, int | None]) -> None:
    assert parse_node_list(text) == expected


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("pve1:x", "ha node"),  # priority must be a number (PVE 9 wording)
        ("-pve1", "ha group node"),  # a node name cannot start with a dash (PVE 8 wording)
    ],
)
def test_parse_node_list_refusals(text: str, what: str) -> None:
    with pytest.raises(HaError) as info:
        parse_node_list(text, what=what)
    assert (info.value.field, info.value.message) == (
        "nodes",
        f"invalid format - value does not look like a valid {what}\n",
    )


def test_node_lists_are_written_back_sorted_without_zero_priorities() -> None:
    assert format_node_list({"pve2": 2, "pve1": None, "pve3": 0}) == "pve1,pve2:2,pve3"


# -- placement --------------------------------------------------------------------------------------


def group(nodes: dict[str, int | None], restricted: bool = False, nofailback: bool = False) -> HaGroup:
    return HaGroup("g1", nodes, restricted, nofailback)


@pytest.mark.parametrize(
    ("resource", "groups", "rules", "expected"),
    [
        # no group, no rule: every node equal, failback on
        (HaResource("vm:100", "vm"), {}, [], Placement(None, False, True)),
        # PVE 8 group: its priorities, restricted -> strict, nofailback -> no failback
        (
            HaResource("vm:100", "vm", group="g1"),
            {"g1": group({"pve1": 2, "pve2": None}, True, True)},
            [],
            Placement({"pve1": 2, "pve2": 0}, True, False),
        ),
        # a group that does not exist is ignored (get_service_group falls back to all nodes)
        (HaResource("vm:100", "vm", group="gone"), {}, [], Placement(None, False, True)),
        # PVE 9 rule: its nodes and strictness; failback comes from the resource
        (
            HaResource("vm:100", "vm", failback=False),
            {},
            [HaRule("r1", "node-affinity", {"vm:100"}, 1, nodes={"pve3": 1}, strict=True)],
            Placement({"pve3": 1}, True, False),
        ),
        # a disabled rule does not count
        (
            HaResource("vm:100", "vm"),
            {},
            [HaRule("r1", "node-affinity", {"vm:100"}, 1, nodes={"pve3": 1}, disable=True)],
            Placement(None, False, True),
        ),
        # a negative node affinity rule means: any node but these
        (
            HaResource("vm:100", "vm"),
            {},
            [HaRule("r1", "node-affinity", {"vm:100"}, 1, nodes={"pve1": None}, strict=True, affinity="negative")],
            Placement({"pve2": 0, "pve3": 0}, True, True),
        ),
    ],
)
def test_placement_for(
    resource: HaResource, groups: dict[str, HaGroup], rules: list[HaRule], expected: Placement
) -> None:
    assert placement_for(resource, groups, rules, NODES) == expected


@pytest.mark.parametrize(
    ("placement", "online", "allowed", "preferred"),
    [
        # unconstrained: every online node
        (Placement(None), {"pve1", "pve2"}, {"pve1", "pve2"}, {"pve1", "pve2"}),
        # non-strict: members first, the others are still allowed at priority -1
        (Placement({"pve3": 1}), {"pve1", "pve3"}, {"pve1", "pve3"}, {"pve3"}),
        # non-strict with every member down: the others become the preferred ones
        (Placement({"pve3": 1}), {"pve1", "pve2"}, {"pve1", "pve2"}, {"pve1", "pve2"}),
        # strict with every member down: nowhere
        (Placement({"pve3": 1}, strict=True), {"pve1", "pve2"}, set(), set()),
        # two priority classes: only the highest online one is preferred
        (Placement({"pve1": 1, "pve2": 2, "pve3": 2}, strict=True), {"pve1", "pve2"}, {"pve1", "pve2"}, {"pve2"}),
    ],
)
def test_candidate_nodes(placement: Placement, online: set[str], allowed: set[str], preferred: set[str]) -> None:
    assert candidate_nodes(placement, online) == (allowed, preferred)


@pytest.mark.parametrize(
    ("placement", "load", "current", "preference", "tried", "expected"),
    [
        # best score: the node with the fewest HA services wins, even over the current one
        (Placement(None), {"pve1": 2, "pve2": 3, "pve3": 1}, "pve1", "best-score", (), "pve3"),
        # a tie on services: the first name wins
        (Placement(None), {"pve1": 2, "pve2": 1, "pve3": 1}, "pve1", "best-score", (), "pve2"),
        # priority beats load
        (Placement({"pve2": 5, "pve3": 1}), {"pve2": 9, "pve3": 0}, "pve1", "best-score", (), "pve2"),
        # 'none' keeps a service where it is when that node is among the preferred ones
        (Placement(None), {"pve1": 9}, "pve1", "none", (), "pve1"),
        # 'none' with failback moves it to a higher-priority node
        (Placement({"pve3": 2}), {}, "pve1", "none", (), "pve3"),
        # 'none' without failback leaves it on any allowed node
        (Placement({"pve3": 2}, failback=False), {}, "pve1", "none", (), "pve1"),
        # try-next skips the nodes that failed already
        (Placement(None), {}, "pve2", "try-next", ("pve2",), "pve1"),
        # try-next with every preferred node tried: nothing left
        (Placement({"pve2": 1}, strict=True), {}, "pve2", "try-next", ("pve2",), None),
        # strict with no member online: nowhere
        (Placement({"pve9": 1}, strict=True), {}, "pve1", "best-score", (), None),
    ],
)
def test_select_service_node(
    placement: Placement,
    load: dict[str, int],
    current: str,
    preference: str,
    tried: tuple[str, ...],
    expected: str | None,
) -> None:
    online = ("pve1", "pve2", "pve3")
    assert select_service_node(placement, online, load, current, preference, tried) == expected


def test_usage_counts_what_the_basic_scheduler_counts() -> None:
    services = {
        "vm:1": Service("pve1", "started"),
        "vm:2": Service("pve1", "stopped"),  # stopped services weigh nothing
        "vm:3": Service("pve2", "migrate", target="pve3"),  # a migration loads both ends
        "vm:4": Service("pve9", "started"),  # offline nodes are not counted
        "vm:5": Service("pve2", "error"),  # an erroneous service still occupies its node
    }
    assert usage(services, ("pve1", "pve2", "pve3")) == {"pve1": 1, "pve2": 2, "pve3": 1}


# -- fencing and recovery -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "crm", "fenced"),
    [
        ("started", "started", True),  # the usual case
        ("stopped", "stopped", True),  # stopped services are recovered too (but not started)
        ("disabled", "stopped", False),  # disabled ones stay with the dead node
        ("started", "error", False),  # error needs an admin
        ("started", "request_stop", True),  # mid-transition services are fenced as well
    ],
)
def test_needs_fencing(state: str, crm: str, fenced: bool) -> None:
    assert needs_fencing(HaResource("vm:100", "vm", state=state), Service("pve1", crm)) is fenced


RECOVERED = "recover service 'vm:100' from fenced node 'pve1' to node 'pve3'"


@pytest.mark.parametrize(
    ("state", "placement", "expected"),
    [
        # started: recovered to the least loaded online node and started there
        ("started", Placement(None), ("started", "pve3", RECOVERED)),
        # stopped: recovered (the config moves) but not started
        ("stopped", Placement(None), ("request_stop", "pve3", RECOVERED)),
        # strict rule whose nodes are all down: stays in recovery, retried later
        (
            "started",
            Placement({"pve1": 1}, strict=True),
            ("recovery", None, "recovering service 'vm:100' from fenced node 'pve1' failed, no recovery node found"),
        ),
        # disabled with nowhere to go: stopped
        (
            "disabled",
            Placement({"pve1": 1}, strict=True),
            ("stopped", None, "recovering service 'vm:100' from fenced node 'pve1' failed, no recovery node found"),
        ),
    ],
)
def test_decide_recovery(state: str, placement: Placement, expected: tuple[str, str | None, str]) -> None:
    decision = decide_recovery(
        "vm:100",
        HaResource("vm:100", "vm", state=state),
        Service("pve1", "recovery"),
        placement,
        ("pve2", "pve3"),
        {"pve2": 2, "pve3": 0},
    )
    assert (decision.state, decision.node, decision.reason) == expected


@pytest.mark.parametrize(
    ("max_relocate", "failed_before", "expected"),
    [
        # max_relocate 0: the first failed start is final
        (0, [], ("error", None)),
        # default 1: one relocation to the next node
        (None, [], ("relocate", "pve3")),
        # default 1 and one node failed already: error
        (None, ["pve3"], ("error", None)),
        # enough relocations left but every other node tried: retry where it is
        (5, ["pve3"], ("started", None)),
    ],
)
def test_decide_start_failure(
    max_relocate: int | None, failed_before: list[str], expected: tuple[str, str | None]
) -> None:
    resource = HaResource("vm:100", "vm", max_relocate=max_relocate)
    service = Service("pve2", "started", failed_nodes=failed_before)
    decision = decide_start_failure("vm:100", resource, service, Placement(None), ("pve2", "pve3"), {})
    assert (decision.state, decision.node) == expected


def test_error_reason_lists_the_failed_nodes() -> None:
    decision = decide_start_failure(
        "vm:100", HaResource("vm:100", "vm", max_relocate=0), Service("pve2", "started"), Placement(None), ("pve2",), {}
    )
    assert decision.reason == ("recovery policy for service vm:100 failed, entering error state. Failed nodes: pve2")


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (Placement({"pve1": 2}), "pve1"),  # the preferred node is back: move home
        (Placement({"pve1": 2}, failback=False), None),  # failback off: stay
        (Placement(None), None),  # no preference: stay
    ],
)
def test_decide_failback(placement: Placement, expected: str | None) -> None:
    decision = decide_failback("vm:100", Service("pve2", "started"), placement, NODES, {})
    assert (decision.node if decision else None) == expected


# -- status -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crm", "running", "requested", "expected"),
    [
        (None, False, "started", "queued"),  # not yet seen by the CRM
        ("stopped", False, "started", "starting"),
        ("started", False, "started", "starting"),  # the LRM has not reported success yet
        ("started", True, "started", "started"),
        ("started", True, "stopped", "stopping"),
        ("error", False, "disabled", "clearing error flag"),
        ("fence", False, "started", "fence"),
        ("stopped", False, "ignored", "ignored"),
    ],
)
def test_verbose_state(crm: str | None, running: bool, requested: str, expected: str) -> None:
    service = Service("pve1", crm, running=running) if crm else None
    assert verbose_state(service, HaResource("vm:100", "vm", state=requested)) == expected


def test_status_entries() -> None:
    services = {"vm:100": Service("pve2", "started", running=True)}
    resources = {"vm:100": HaResource("vm:100", "vm", max_relocate=0), "vm:101": HaResource("vm:101", "vm")}
    entries = status_entries(
        local_node="pve2",
        quorate=True,
        master="pve2",
        now=1_700_000_000.0,
        nodes=NODES,
        lost={"pve1": 1_699_999_990.0},
        services=services,
        resources=resources,
        vm_nodes={"vm:100": "pve2"},
        pve_version=9,
    )
    by_id = {e["id"]: e for e in entries}
    assert by_id["quorum"]["status"] == "OK"
    assert by_id["master"]["node"] == "pve2"
    assert by_id["lrm:pve1"]["status"].startswith("pve1 (old timestamp - dead?, ")
    assert by_id["lrm:pve2"]["status"].startswith("pve2 (active, ")
    assert by_id["lrm:pve3"]["status"].startswith("pve3 (idle, ")
    assert by_id["service:vm:100"] | {"status": None} == {
        "id": "service:vm:100",
        "type": "service",
        "sid": "vm:100",
        "node": "pve2",
        "crm_state": "started",
        "state": "started",
        "status": None,
        "request_state": "started",
        "max_restart": 1,
        "max_relocate": 0,
        "failback": 1,
    }
    assert by_id["service:vm:101"]["state"] == "not found"  # its guest is gone


def test_no_master_before_the_crm_had_work() -> None:
    entries = status_entries(
        local_node="pve1",
        quorate=False,
        master=None,
        now=0.0,
        nodes=NODES,
        lost={},
        services={},
        resources={},
        vm_nodes={},
        pve_version=8,
    )
    assert entries == [
        {"id": "quorum", "type": "quorum", "node": "pve1", "quorate": 0, "status": "No quorum on node 'pve1'!"}
    ]


# -- config --------------------------------------------------------------------------------------------


def test_rule_errors() -> None:
    rules = {
        "a": HaRule("a", "node-affinity", {"vm:100"}, 1, nodes={"pve1": None}),
        "b": HaRule("b", "node-affinity", {"vm:100", "vm:101"}, 2, nodes={"pve2": None}),  # vm:100 again
        "c": HaRule("c", "resource-affinity", {"vm:100"}, 3, affinity="positive"),  # one resource only
        "d": HaRule("d", "node-affinity", {"vm:100"}, 4, nodes={"pve3": None}, disable=True),  # not checked
    }
    used = "resource 'vm:100' is already used in another node affinity rule"
    assert rule_errors(rules, 3) == {
        "a": {"resources": [used]},
        "b": {"resources": [used]},
        "c": {"resources": ["rule is ineffective as there are less than two resources"]},
    }


def test_state_bookkeeping() -> None:
    state = HaState()
    started = HaResource("vm:100", "vm")
    state.resources["vm:100"] = started
    assert state.add_service(started, "pve1", running=False) == Service("pve1", "request_start")
    ignored = HaResource("vm:101", "vm", state="ignored")
    assert state.add_service(ignored, "pve1", running=True) is None
    state.rules["r"] = HaRule("r", "node-affinity", {"vm:100"}, 1, nodes={"pve1": None})
    before = state.resources_digest()
    started.max_relocate = 0
    assert state.resources_digest() != before
    state.drop_resource("vm:100", purge=True)
    assert (state.resources, state.services, state.rules) == ({}, {}, {})  # the rule was left empty
    state.lost["pve1"] = 1.0
    assert state.node_status(NODES) == {"pve1": "fence", "pve2": "online", "pve3": "online"}
    state.fenced.add("pve1")
    assert state.node_status(NODES)["pve1"] == "unknown"
