"""CephOsd's `retired` input: an in-place update that drains and destroys, then a record that deletes as a no-op."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers import ceph_osd
from dynamic_providers.ceph_osd import CephOsdProvider
from dynamic_providers.logic import osd
from dynamic_providers.logic.osd import OsdOutputs
from dynamic_providers.logic.osd_removal import OsdRemoval

LIVE = {"node": "pve4", "device": "/dev/sdb", "osd_id": 7, "devpath": "/dev/sdb"}
RETIRED = {**LIVE, "retired": True, "osd_id": None, "retired_id": 7}


@pytest.fixture
def removals(monkeypatch: pytest.MonkeyPatch) -> list[OsdRemoval]:
    """The drains the provider starts (osd_drain.remove_osd is driven against a lab in tests/integration)."""
    started: list[OsdRemoval] = []
    monkeypatch.setattr(ceph_osd, "remove_osd", lambda _client, removal, _timeout: started.append(removal))
    monkeypatch.setattr(CephOsdProvider, "client", lambda self, policy=None: object())
    return started


def inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k in osd.SPEC.names}


def test_retiring_is_an_update_in_place_never_a_replace() -> None:
    plan = CephOsdProvider().diff("pve4/7", LIVE, {**inputs(LIVE), "retired": True})
    assert plan.changes and not plan.replaces
    # State written before the input existed, with the program not retiring: no change at all.
    assert not CephOsdProvider().diff("pve4/7", LIVE, {**inputs(LIVE), "retired": None}).changes


def test_the_update_drains_and_destroys_then_records_the_osd_retired(removals: list[OsdRemoval]) -> None:
    result = CephOsdProvider().update("pve4/7", LIVE, {**inputs(LIVE), "retired": True})
    assert [(r.osd_id, r.node, r.allow_data_loss) for r in removals] == [(7, "pve4", False)]
    assert result.outs is not None
    assert (result.outs["osd_id"], result.outs["retired_id"], result.outs["retired"]) == (None, 7, True)


def test_an_opt_in_update_of_a_live_osd_drains_nothing(removals: list[OsdRemoval]) -> None:
    result = CephOsdProvider().update("pve4/7", LIVE, {**inputs(LIVE), "wipe": True})
    assert removals == [] and result.outs is not None and result.outs["osd_id"] == 7


def test_a_retired_osd_is_read_as_is_and_deletes_as_a_no_op(removals: list[OsdRemoval]) -> None:
    provider = CephOsdProvider()
    provider.delete("pve4/7", RETIRED)
    read = provider.read("pve4/7", RETIRED)
    assert removals == []
    assert read.id == "pve4/7" and read.outs is not None and read.outs["retired_id"] == 7


def test_a_live_osds_delete_still_drains(removals: list[OsdRemoval]) -> None:
    CephOsdProvider().delete("pve4/7", LIVE)
    assert [r.osd_id for r in removals] == [7]


def test_undoing_a_retirement_is_refused_at_preview() -> None:
    result = CephOsdProvider().check(inputs(RETIRED), {**inputs(RETIRED), "retired": None})
    assert [(f.property, "remove it from nodes" in f.reason) for f in result.failures] == [("retired", True)]


@pytest.mark.parametrize(
    ("old", "outputs", "new", "step"),
    [
        (None, OsdOutputs(osd_id=7), True, "retire"),
        (True, OsdOutputs(retired_id=7), True, "none"),
        (True, OsdOutputs(retired_id=7), None, "refuse"),
        (None, OsdOutputs(osd_id=7), None, "none"),
    ],
)
def test_retire_step(old: bool | None, outputs: OsdOutputs, new: bool | None, step: str) -> None:
    def inputs_with(retired: bool | None) -> osd.OsdInputs:
        return osd.SPEC.load({"node": "pve4", "device": "/dev/sdb", "retired": retired})

    assert osd.retire_step(inputs_with(old), outputs, inputs_with(new)) == step
