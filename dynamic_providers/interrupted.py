"""Finishing what an interrupted run left running in PVE, before acting again.

A killed `pulumi up` leaves its PVE tasks running: PVE runs each in a worker of its own (pve-common
PVE/RESTEnvironment.pm fork_worker), whatever becomes of the client that asked. Racing such a task
fails on its lock (a MON create holds ceph.conf's cfs lock for its whole run, pve-manager
PVE/API2/Ceph/MON.pm; an OSD create the node's disk lock, PVE/API2/Ceph/OSD.pm), or acts on an
object that is half made. So a create, update or delete first looks for a running task of its own
kind on its own object, in the node's task list, and waits for it to end; then it decides from
what the cluster holds. The task types and ids are PVE's (fork_worker's first two arguments):

| operation | task type | id |
|---|---|---|
| MON create / destroy | cephcreatemon / cephdestroymon | mon.<id> (MON.pm) |
| MGR create / destroy | cephcreatemgr / cephdestroymgr | mgr.<id> (MGR.pm) |
| OSD create | cephcreateosd | the device name, e.g. sdb (OSD.pm) |
| OSD stop / destroy | srvstop / cephdestroyosd | osd.<id> (Ceph.pm, OSD.pm) |
| wipe disk | wipedisk | the device name (pve-storage src/PVE/API2/Disks.pm) |
| pool create / set / destroy | cephcreatepool / cephsetpool / cephdestroypool | the pool name (Pool.pm) |
| disk move | qmmove | the VM id (qemu-server src/PVE/API2/Qemu.pm) |
"""

from __future__ import annotations

from dynamic_providers.errors import TaskFailed
from dynamic_providers.notices import notice
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.tasks import running


def finish_interrupted(
    client: PveClient,
    node: str,
    task_type: str,
    task_id: str,
    what: str,
    timeout: float,
    *,
    vmid: int | None = None,
    as_root: bool = False,
) -> int:
    """Wait for the running `task_type` tasks on `task_id` of `node`; returns how many there were.

    A task that fails is reported and not raised: what it left is for the caller to judge. One that
    outlasts `timeout` raises TaskTimeout, naming it.
    """
    upids = running(client.active_tasks(node, task_type, vmid=vmid, as_root=as_root), task_type, task_id)
    for upid in upids:
        notice(f"{what}: task {upid} is still running (from an interrupted run?); waiting for it to end first")
        try:
            client.wait_task(upid, timeout, what)
        except TaskFailed as exc:
            notice(f"{what}: the earlier task {upid} failed ({exc.exitstatus}); going on from what the cluster holds")
    return len(upids)
