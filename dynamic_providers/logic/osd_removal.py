"""Removing an OSD as a drain, modelled on cephadm's removal queue. Pure.

`OsdRemoval` is one removal's record: named progress fields, and `next_step()`, which decides
the next action from live state read afresh on every pass (the tree, and Ceph's
safe-to-destroy). Because each decision comes from live state and every action is idempotent,
a removal interrupted at any point (timeout, crash, Ctrl-C) carries on from where the cluster
is when delete runs again: there is nothing to persist between runs.

The phases: mark out -> wait until Ceph says safe-to-destroy (PGs moved) -> stop -> destroy with
cleanup. A removal is refused before anything changes when the data has nowhere to go (fewer
hosts with `in` OSDs would remain than a pool's size), unless allow_data_loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dynamic_providers.logic.osd import OsdState
from dynamic_providers.values import as_int


class Phase(StrEnum):
    MARK_OUT = "mark out"
    DRAIN = "drain"
    STOP = "stop"
    DESTROY = "destroy"
    DONE = "done"


class Action(StrEnum):
    MARK_OUT = "mark_out"
    WAIT = "wait"
    STOP = "stop"
    DESTROY = "destroy"
    DONE = "done"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Step:
    action: Action
    reason: str = ""
    restore_in: bool = False  # on REFUSE: mark the OSD in again, undoing a drain that cannot finish


@dataclass(frozen=True)
class LiveOsd:
    """What one pass reads: the OSD in the tree (None once it is gone) and Ceph's safe-to-destroy."""

    state: OsdState | None
    safe_to_destroy: bool = False
    ceph_says: str = ""


@dataclass
class OsdRemoval:
    osd_id: int
    node: str
    allow_data_loss: bool = False
    # Progress, in the caller's clock (seconds): when each phase was first seen done.
    started_at: float | None = None
    marked_out_at: float | None = None
    pgs_at_start: int | None = None  # PGs on the OSD when it was marked out
    pgs_last_seen: int | None = None
    drain_done_at: float | None = None
    stop_requested_at: float | None = None
    destroy_requested_at: float | None = None
    phase: Phase = Phase.MARK_OUT
    waiting_for: str = ""  # why the last pass waited, for the timeout message
    log: list[str] = field(default_factory=list)

    def next_step(self, live: LiveOsd, no_room: str | None, now: float) -> Step:
        """The next action. `no_room` is why the data has nowhere to go (see `nowhere_to_go`), or None."""
        if self.started_at is None:
            self.started_at = now
        state = live.state
        if state is None:
            self.phase = Phase.DONE
            return Step(Action.DONE)
        self.pgs_last_seen = state.pgs
        if state.host != self.node:
            return Step(
                Action.REFUSE,
                f"osd.{self.osd_id} sits under host {state.host!r} in CRUSH, not {self.node}; "
                "PVE destroys an OSD only through the node that holds it",
            )
        if state.in_:
            if no_room and not self.allow_data_loss:
                return Step(Action.REFUSE, self._refusal(no_room, live))
            self.phase = Phase.MARK_OUT
            return Step(Action.MARK_OUT)
        if self.marked_out_at is None:  # out already: marked by an earlier, interrupted run or by hand
            self.marked_out_at = now
        # Both of cephadm's skip checks: the OSD is empty, and Ceph agrees it is safe to destroy.
        if (state.pgs > 0 or not live.safe_to_destroy) and not self.allow_data_loss:
            if no_room:
                # A dead OSD (its disk failed) is not marked in again: there is nothing to serve from it.
                return Step(Action.REFUSE, self._refusal(no_room, live), restore_in=state.up)
            self.phase = Phase.DRAIN
            self.waiting_for = (
                f"osd.{self.osd_id} to drain ({state.pgs} PGs still mapped to it); "
                f"Ceph says: {live.ceph_says or 'not safe to destroy yet'}"
            )
            return Step(Action.WAIT, self.waiting_for)
        if self.drain_done_at is None:
            self.drain_done_at = now
        if state.up:
            self.phase = Phase.STOP
            if self.stop_requested_at is not None:
                self.waiting_for = f"osd.{self.osd_id} to be reported down after its stop"
                return Step(Action.WAIT, self.waiting_for)
            return Step(Action.STOP)
        self.phase = Phase.DESTROY
        return Step(Action.DESTROY)

    # Transitions, recorded by the driver once an action has been carried out.

    def marked_out(self, now: float, pgs: int) -> None:
        if self.marked_out_at is None:
            self.marked_out_at = now
            self.pgs_at_start = pgs
            self.log.append(f"marked osd.{self.osd_id} out with {pgs} PGs on it")

    def stop_requested(self, now: float) -> None:
        self.stop_requested_at = now
        self.log.append(f"stopped osd.{self.osd_id}")

    def destroy_requested(self, now: float) -> None:
        self.destroy_requested_at = now
        self.log.append(f"destroyed osd.{self.osd_id} with cleanup")

    def status_human(self) -> str:
        """Where the removal stands, for the error an operator reads after a timeout."""
        done = "; ".join(self.log) or "nothing changed yet"
        waiting = f"; waiting for {self.waiting_for}" if self.waiting_for else ""
        return f"removal of osd.{self.osd_id} on {self.node} is at phase '{self.phase.value}' ({done}){waiting}"

    def _refusal(self, no_room: str, live: LiveOsd) -> str:
        ceph = f" Ceph says: {live.ceph_says}." if live.ceph_says else ""
        return (
            f"refusing to remove osd.{self.osd_id} on {self.node}: its data has nowhere to go: {no_room}.{ceph} "
            "Add an OSD on another host first, lower the pools' size, or set allow_data_loss=true"
        )


def nowhere_to_go(osds: dict[int, OsdState], pools: list[dict[str, Any]], osd_id: int) -> str | None:
    """Why the PGs on this OSD could not be re-placed, assuming PVE's default host failure domain.

    With size N, every PG needs N different hosts that still have an OSD `in`.
    """
    hosts = sorted({s.host for s in osds.values() if s.in_ and s.osd_id != osd_id})
    sizes = [
        (as_int(p.get("size")) or 0, str(p.get("pool_name"))) for p in pools if p.get("type", "replicated") != "erasure"
    ]
    if not sizes:
        return None
    size, pool = max(sizes)
    if len(hosts) >= size:
        return None
    left = ", ".join(hosts) or "none"
    return (
        f"pool '{pool}' keeps {size} copies on different hosts, and only {len(hosts)} host(s) would keep an "
        f"OSD that is in ({left})"
    )
