"""Drives an OSD removal (logic/osd_removal.py) against the API: read, decide, act, until done.

Each pass reads the tree and Ceph's safe-to-destroy afresh, so a removal that timed out or was
interrupted resumes from wherever the cluster is. On timeout the error names the phase reached
and the OSD stays out, still draining; Pulumi keeps the resource, and the next run carries on.
"""

from __future__ import annotations

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import UnsafeToProceed, WaitTimeout
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic.osd import tree_osds
from dynamic_providers.logic.osd_removal import Action, LiveOsd, OsdRemoval, nowhere_to_go
from dynamic_providers.progress import Every, progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.tasks import poll_interval

STOP_TIMEOUT = 180.0
DESTROY_TIMEOUT = 600.0


def remove_osd(client: PveClient, removal: OsdRemoval, timeout: float) -> None:
    node, osd_id = removal.node, removal.osd_id
    # Root is needed for the last step; find out before marking anything out.
    client.require_root(f"destroying osd.{osd_id} on {node}")
    # A stop or destroy still running from an interrupted run is waited for, not raced (interrupted.py).
    for task_type in ("srvstop", "cephdestroyosd"):
        what = f"removing osd.{osd_id} on {node}"
        finish_interrupted(client, node, task_type, f"osd.{osd_id}", what, DESTROY_TIMEOUT, as_root=True)
    pools = client.pool_list(node)
    start = client.clock()
    report = Every(1.0, client.clock)
    while True:
        ensure_engine_alive(f"the next step of removing osd.{osd_id} on {node}")  # a safe point (engine_watch.py)
        now = client.clock()
        osds = tree_osds(client.osd_tree(node))
        state = osds.get(osd_id)
        safe, ceph_says = client.cmd_safety(node, "osd", str(osd_id), "destroy") if state is not None else (True, "")
        no_room = nowhere_to_go(osds, pools, osd_id) if state is not None else None
        step = removal.next_step(LiveOsd(state, safe, ceph_says), no_room, now)
        if step.action is Action.DONE:
            return
        if step.action is Action.REFUSE:
            if step.restore_in:
                client.osd_in(node, osd_id)
            raise UnsafeToProceed(step.reason + (f" osd.{osd_id} was marked in again." if step.restore_in else ""))
        if step.action is Action.MARK_OUT:
            client.osd_out(node, osd_id)
            removal.marked_out(now, state.pgs if state else 0)
        elif step.action is Action.STOP:
            client.run_task(
                lambda: client.service_stop(node, f"osd.{osd_id}"), STOP_TIMEOUT, f"stopping osd.{osd_id} on {node}"
            )
            removal.stop_requested(now)
        elif step.action is Action.DESTROY:
            client.run_task(
                lambda: client.osd_destroy(node, osd_id, cleanup=True),
                DESTROY_TIMEOUT,
                f"destroying osd.{osd_id} on {node}",
            )
            removal.destroy_requested(now)
        else:  # WAIT
            if report.due():
                progress(f"waiting for {step.reason}")  # the drain's PGs remaining, live (progress.py)
            elapsed = now - start
            if elapsed >= timeout:
                raise WaitTimeout(
                    f"{removal.status_human()}; gave up after {timeout:.0f} s. The OSD stays out and "
                    "Ceph keeps moving its data: run the same update or destroy again to carry on"
                )
            client.sleep(min(poll_interval(elapsed), max(0.0, timeout - elapsed)))
