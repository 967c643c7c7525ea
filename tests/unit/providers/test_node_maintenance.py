"""NodeMaintenance / NodeEvacuated against a fake client: refuse on Ceph's no before anything changes,
noout set once and cleared only by whoever set it, and the wait until no guest runs on the node."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers import node_maintenance
from dynamic_providers.errors import UnsafeToProceed, WaitTimeout
from dynamic_providers.logic import maintenance
from dynamic_providers.logic.maintenance import EvacuationInputs, MaintenanceInputs, Safety

TREE = {
    "root": {
        "type": "root",
        "children": [
            {"type": "host", "name": h, "children": [{"type": "osd", "id": i, "status": "up", "in": 1}]}
            for i, h in enumerate(["pve1", "pve2", "pve3"])
        ],
    }
}
CLEAN = {"pgmap": {"num_pools": 1, "pgs_by_state": [{"state_name": "active+clean", "count": 33}]}}


class FakeClient:
    def __init__(self, unsafe: dict[str, str] | None = None, noout: bool = False) -> None:
        self.unsafe = unsafe or {}
        self.flags = {"noout": noout}
        self.calls: list[tuple[Any, ...]] = []
        self.guests: list[list[dict[str, Any]]] = []
        self.now = 0.0

    def first_online(self, nodes: Any) -> str:
        return str(next(iter(nodes)))

    def osd_tree(self, node: str) -> dict[str, Any]:
        return TREE

    def cmd_safety(self, node: str, service: str, ident: str, action: str) -> tuple[bool, str]:
        self.calls.append(("cmd-safety", service, ident, action))
        said = self.unsafe.get(f"{service}.{ident}")
        return (said is None, said or "")

    def ceph_flag(self, flag: str) -> bool:
        return self.flags[flag]

    def set_ceph_flag(self, flag: str, value: bool) -> None:
        self.calls.append(("flag", flag, value))
        self.flags[flag] = value

    def ceph_status(self, node: str) -> dict[str, Any]:
        return CLEAN

    def cluster_resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.guests.pop(0) if len(self.guests) > 1 else self.guests[0]

    def ha_migrate(self, sid: str, node: str) -> None:
        self.calls.append(("ha-migrate", sid, node))

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.5)


def inputs(**kw: Any) -> MaintenanceInputs:
    return MaintenanceInputs(**{"api_nodes": ("pve1", "pve2"), "node": "pve1", "mon_id": "pve1", **kw})


def test_refusal_quotes_ceph_and_nothing_changes() -> None:
    says = "unsafe to stop osd(s) at this time (33 PGs are or would become offline)"
    client = FakeClient(unsafe={"osd.0": says})
    with pytest.raises(UnsafeToProceed) as err:
        node_maintenance.enter(client, inputs())  # type: ignore[arg-type]
    assert f"osd.0: {says}" in str(err.value) and "Nothing was changed" in str(err.value)
    assert [c for c in client.calls if c[0] == "flag"] == []
    # Its OSD (osd.0 only: the others live on other hosts) and its MON were asked, each on its own.
    assert [c for c in client.calls if c[0] == "cmd-safety"] == [
        ("cmd-safety", "osd", "0", "stop"),
        ("cmd-safety", "mon", "pve1", "stop"),
    ]


def test_a_node_that_is_down_already_is_asked_about_through_another_api_node() -> None:
    class NodeDown(FakeClient):
        def first_online(self, nodes: Any) -> str:
            self.calls.append(("first_online", tuple(nodes)))
            return str(next(n for n in nodes if n != "pve1"))

        def cmd_safety(self, node: str, service: str, ident: str, action: str) -> tuple[bool, str]:
            assert node == "pve2"
            return super().cmd_safety(node, service, ident, action)

    client = NodeDown()
    out = node_maintenance.enter(client, inputs())  # type: ignore[arg-type]
    assert ("first_online", ("pve1", "pve2")) in client.calls  # the node itself first, then the others
    assert out.checked == "ok-to-stop: osd.0, mon.pve1"


def test_refusal_names_every_unsafe_daemon() -> None:
    reason = maintenance.refusal(
        "pve2", [Safety("osd", "1", True), Safety("osd", "4", False, "no"), Safety("mon", "pve2", False, "")]
    )
    assert reason is not None
    assert "osd.4: no; mon.pve2: not safe (Ceph gave no reason)" in reason
    assert maintenance.refusal("pve2", [Safety("osd", "1", True)]) is None


def test_the_check_changes_nothing_the_wait_sets_noout_and_leaving_clears_it() -> None:
    client = FakeClient()
    out = node_maintenance.enter(client, inputs())  # type: ignore[arg-type]
    assert out.noout_before is False and client.ceph_flag("noout") is False  # nothing changed yet
    assert out.checked == "ok-to-stop: osd.0, mon.pve1"
    client.guests = [[]]
    ev = EvacuationInputs(api_nodes=("pve1",), node="pve1", timeout=60)
    node_maintenance.evacuate(client, ev)  # type: ignore[arg-type]
    assert client.ceph_flag("noout") is True
    node_maintenance.leave(client, inputs(), out)  # type: ignore[arg-type]
    assert client.ceph_flag("noout") is False


def test_a_killed_run_that_set_noout_still_clears_it_on_leaving() -> None:
    """Killed right after the flag was set, before NodeEvacuated's state was written: the record that
    noout was not set before is NodeMaintenance's, written earlier, so leaving clears it."""
    client = FakeClient()
    out = node_maintenance.enter(client, inputs())  # type: ignore[arg-type]
    client.guests = [[]]
    ev = EvacuationInputs(api_nodes=("pve1",), node="pve1", timeout=60)
    node_maintenance.evacuate(client, ev)  # type: ignore[arg-type]  # (its state lost)
    node_maintenance.evacuate(client, ev)  # type: ignore[arg-type]  # the next up re-runs it
    assert [c for c in client.calls if c[0] == "flag"] == [("flag", "noout", True)]  # set once
    node_maintenance.leave(client, inputs(), out)  # type: ignore[arg-type]
    assert client.ceph_flag("noout") is False


def test_noout_set_by_someone_else_is_left_set() -> None:
    client = FakeClient(noout=True)
    out = node_maintenance.enter(client, inputs(mon_id=None))  # type: ignore[arg-type]
    assert out.noout_before is True
    client.guests = [[]]
    node_maintenance.evacuate(client, EvacuationInputs(api_nodes=("pve1",), node="pve1"))  # type: ignore[arg-type]
    node_maintenance.leave(client, inputs(), out)  # type: ignore[arg-type]
    assert [c for c in client.calls if c[0] == "flag"] == []
    assert client.ceph_flag("noout") is True
    assert "left set" in maintenance.leaving_notice("pve1", True)


def test_evacuation_waits_until_nothing_runs_there_and_asks_ha_for_unplaced_services() -> None:
    client = FakeClient()
    client.guests = [
        [
            {"id": "qemu/101", "vmid": 101, "name": "app1", "node": "pve1", "status": "running"},
            {"id": "qemu/102", "vmid": 102, "name": "app2", "node": "pve1", "status": "running"},
            {"id": "qemu/103", "vmid": 103, "name": "off", "node": "pve1", "status": "stopped"},
        ],
        [{"id": "qemu/102", "vmid": 102, "name": "app2", "node": "pve1", "status": "running"}],
        [{"id": "qemu/102", "vmid": 102, "name": "app2", "node": "pve2", "status": "running"}],
    ]
    ev = EvacuationInputs(api_nodes=("pve1",), node="pve1", ha_migrate=("vm:102",), target="pve2", timeout=60)
    out = node_maintenance.evacuate(client, ev)  # type: ignore[arg-type]
    assert out.summary == "no guest runs on pve1"
    assert [c for c in client.calls if c[0] == "ha-migrate"] == [("ha-migrate", "vm:102", "pve2")]  # once


def test_evacuation_times_out_naming_what_is_left() -> None:
    client = FakeClient()
    client.guests = [[{"id": "qemu/555", "vmid": 555, "name": "stray", "node": "pve1", "status": "running"}]]
    ev = EvacuationInputs(api_nodes=("pve1",), node="pve1", timeout=5)
    with pytest.raises(WaitTimeout, match=r"still running on pve1: qemu/555 \(stray\).*migrate them yourself"):
        node_maintenance.evacuate(client, ev)  # type: ignore[arg-type]


def test_the_reads_are_retried_while_ceph_does_not_answer() -> None:
    from dynamic_providers.errors import PveApiError

    client = FakeClient()
    failures = [PveApiError("GET", "/nodes/pve1/ceph/osd", 500, "error with 'osd df': mon_cmd failed - timed out")]
    tree = client.osd_tree

    def flaky(node: str) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return tree(node)

    client.osd_tree = flaky  # type: ignore[method-assign]
    out = node_maintenance.enter(client, inputs())  # type: ignore[arg-type]
    assert out.checked == "ok-to-stop: osd.0, mon.pve1"

    def down(node: str) -> dict[str, Any]:
        raise PveApiError("GET", "/nodes/pve1/ceph/osd", 500, "timed out")

    client.osd_tree = down  # type: ignore[method-assign]
    with pytest.raises(WaitTimeout, match=r"Ceph's ok-to-stop answers for node pve1.*Ceph not answering: timed out"):
        node_maintenance.enter(client, inputs(), read_timeout=5)  # type: ignore[arg-type]
