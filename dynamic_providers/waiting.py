"""Waiting for live state to converge after a task (quorum, up+in, active+clean, gone).

A task's success does not mean convergence: PVE's MON task ends once the daemon is started
(pve-manager PVE/API2/Ceph/MON.pm, createmon), its OSD task once ceph-volume returns
(PVE/API2/Ceph/OSD.pm, createosd); neither waits for quorum or for up+in. So each provider polls
the state it needs, on the same fast-then-slower schedule as task polling.
"""

from __future__ import annotations

from collections.abc import Callable

from dynamic_providers.engine_watch import ensure_engine_alive
from dynamic_providers.errors import WaitTimeout
from dynamic_providers.progress import Every, progress
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.tasks import poll_interval

Probe = Callable[[], tuple[bool, str]]  # -> (reached, what was seen)
REPORT_EVERY = 1.0  # seconds between two progress messages of one wait


def wait_until(client: PveClient, probe: Probe, timeout: float, what: str, hint: str = "") -> str:
    """Poll probe() until it reports success; returns its last detail. Raises WaitTimeout naming `what`.

    What the probe sees is shown live as the resource's status (progress.py), when it changes.
    """
    start = client.clock()
    report = Every(REPORT_EVERY, client.clock)
    while True:
        ensure_engine_alive(f"waiting for {what}")  # a safe point: nothing is half done between polls
        reached, detail = probe()
        if reached:
            return detail
        if report.due():
            progress(f"waiting for {what}: {detail}")
        elapsed = client.clock() - start
        if elapsed >= timeout:
            raise WaitTimeout(
                f"{what}: not reached within {timeout:.0f} s; last seen: {detail}" + (f". {hint}" if hint else "")
            )
        client.sleep(min(poll_interval(elapsed), max(0.0, timeout - elapsed)))
