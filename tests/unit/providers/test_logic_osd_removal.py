"""The OSD drain: refusal when data has nowhere to go, each phase's step, and resuming from live state."""

from __future__ import annotations

import pytest

from dynamic_providers.logic.osd import OsdState
from dynamic_providers.logic.osd_removal import Action, LiveOsd, OsdRemoval, Phase, nowhere_to_go

POOLS = [{"pool_name": ".mgr", "size": 3}, {"pool_name": "vm", "size": 3, "type": "replicated"}]


def osds(*rows: tuple[int, str, bool]) -> dict[int, OsdState]:
    return {i: OsdState(i, host, True, in_, 10, "ssd") for i, host, in_ in rows}


def state(up: bool = True, in_: bool = True, pgs: int = 30, host: str = "pve1") -> OsdState:
    return OsdState(0, host, up, in_, pgs, "ssd")


THREE_HOSTS = osds((0, "pve1", True), (1, "pve2", True), (2, "pve3", True))
FOUR_HOSTS = osds((0, "pve1", True), (1, "pve2", True), (2, "pve3", True), (3, "pve4", True))


@pytest.mark.parametrize(
    ("cluster", "pools", "blocked"),
    [
        (THREE_HOSTS, POOLS, True),  # 3 OSDs, size 3: nowhere to go
        (FOUR_HOSTS, POOLS, False),  # a fourth host takes the copies
        (osds((0, "pve1", True), (4, "pve1", True), (1, "pve2", True), (2, "pve3", True)), POOLS, False),  # same host
        (THREE_HOSTS, [{"pool_name": "vm", "size": 2}], False),  # two copies fit on two hosts
        (THREE_HOSTS, [], False),  # no pools, no data
        (osds((0, "pve1", True), (1, "pve2", True), (2, "pve3", False), (3, "pve4", True)), POOLS, True),  # pve3 is out
    ],
)
def test_nowhere_to_go(cluster: dict[int, OsdState], pools: list[dict[str, object]], blocked: bool) -> None:
    reason = nowhere_to_go(cluster, pools, 0)
    assert (reason is not None) is blocked
    if blocked:
        assert "keeps 3 copies" in (reason or "")


def test_refused_before_anything_changes() -> None:
    removal = OsdRemoval(0, "pve1")
    no_room = nowhere_to_go(THREE_HOSTS, POOLS, 0)
    step = removal.next_step(LiveOsd(state(), ceph_says="OSD(s) 0 have 30 pgs currently mapped to them"), no_room, 0)
    assert step.action is Action.REFUSE and not step.restore_in
    assert "nowhere to go" in step.reason and "allow_data_loss=true" in step.reason
    assert "have 30 pgs currently mapped" in step.reason  # Ceph's own words
    assert removal.marked_out_at is None


def test_data_loss_opt_in_goes_ahead_without_waiting() -> None:
    removal = OsdRemoval(0, "pve1", allow_data_loss=True)
    no_room = nowhere_to_go(THREE_HOSTS, POOLS, 0)
    assert removal.next_step(LiveOsd(state()), no_room, 0).action is Action.MARK_OUT
    assert removal.next_step(LiveOsd(state(in_=False), safe_to_destroy=False), no_room, 1).action is Action.STOP


def test_full_drain_sequence() -> None:
    removal = OsdRemoval(0, "pve1")
    assert removal.next_step(LiveOsd(state()), None, 0).action is Action.MARK_OUT
    removal.marked_out(0, 30)
    step = removal.next_step(
        LiveOsd(state(in_=False, pgs=12), ceph_says="OSD(s) 0 have 12 pgs currently mapped"), None, 5
    )
    assert step.action is Action.WAIT and "12 PGs still mapped" in step.reason
    assert removal.phase is Phase.DRAIN and removal.pgs_last_seen == 12
    assert removal.next_step(LiveOsd(state(in_=False, pgs=0), safe_to_destroy=True), None, 9).action is Action.STOP
    assert removal.drain_done_at == 9
    removal.stop_requested(10)
    assert removal.next_step(LiveOsd(state(in_=False, pgs=0), True), None, 11).action is Action.WAIT  # not down yet
    assert removal.next_step(LiveOsd(state(up=False, in_=False, pgs=0), True), None, 12).action is Action.DESTROY
    removal.destroy_requested(13)
    assert removal.next_step(LiveOsd(None), None, 14).action is Action.DONE
    assert removal.phase is Phase.DONE
    assert removal.pgs_at_start == 30


def test_waits_while_pgs_remain_even_if_ceph_says_safe() -> None:
    removal = OsdRemoval(0, "pve1")
    step = removal.next_step(LiveOsd(state(in_=False, pgs=5), safe_to_destroy=True), None, 0)
    assert step.action is Action.WAIT and "5 PGs still mapped" in step.reason


def test_resumes_from_live_state_after_an_interrupted_run() -> None:
    # A previous run marked the OSD out and stopped it, then timed out: a fresh record carries on.
    removal = OsdRemoval(0, "pve1")
    assert removal.next_step(LiveOsd(state(up=False, in_=False, pgs=0), True), None, 100).action is Action.DESTROY
    assert removal.marked_out_at == 100  # noted as found, not redone


def test_drain_that_cannot_finish_is_undone() -> None:
    # Marked out by hand (or before a pool grew): the copies can go nowhere, so it is marked in again.
    removal = OsdRemoval(0, "pve1")
    no_room = nowhere_to_go(THREE_HOSTS, POOLS, 0)
    step = removal.next_step(
        LiveOsd(state(in_=False, pgs=0), False, "not all PGs are active+clean; not proceeding"), no_room, 0
    )
    assert step.action is Action.REFUSE and step.restore_in
    assert "not all PGs are active+clean" in step.reason


def test_osd_under_another_host_is_refused() -> None:
    step = OsdRemoval(0, "pve1").next_step(LiveOsd(state(host="pve2")), None, 0)
    assert step.action is Action.REFUSE and "under host 'pve2'" in step.reason


def test_status_names_the_phase() -> None:
    removal = OsdRemoval(0, "pve1")
    removal.next_step(LiveOsd(state()), None, 0)
    removal.marked_out(0, 30)
    removal.next_step(LiveOsd(state(in_=False, pgs=7), ceph_says="7 pgs mapped"), None, 1)
    text = removal.status_human()
    assert "phase 'drain'" in text and "marked osd.0 out with 30 PGs" in text and "7 pgs mapped" in text
