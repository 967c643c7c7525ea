"""CephOsd: one OSD on one device. Create waits for a create or wipe of the device still running from
an interrupted run, finds the device in disks/list and takes over the OSD it holds when that is ours
(logic/osd.py, takeover), wipes (only on request) or creates; delete is a drain (osd_drain.py).
Replacing an OSD is that drain plus a create:
a new `device`, or a new `replacement` marker after a disk swap in the same slot (docs/day2.md).
Retiring its node (`retired` set by nodes[].retire) is that drain as an update: the OSD is destroyed and
the resource stays, recorded as retired, so that removing the node from the stack deletes nothing more.

OSD create and destroy and wipedisk are root@pam-only calls (a password ticket, not a token).
Creates on the same node run one at a time (PVE's per-node disk lock waits only 10 s).
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, Resource, UpdateResult

from dynamic_providers.base import PveProvider, from_wire
from dynamic_providers.errors import ProxmoxHciError, PveApiError, UnsafeToProceed
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.logic import osd
from dynamic_providers.logic.osd import OsdInputs, OsdOutputs
from dynamic_providers.logic.osd_removal import OsdRemoval
from dynamic_providers.notices import notice
from dynamic_providers.osd_drain import remove_osd
from dynamic_providers.pve.client import PveClient
from dynamic_providers.waiting import wait_until

CREATE_TIMEOUT = 900.0
WIPE_TIMEOUT = 300.0
UP_IN_TIMEOUT = 300.0
BOOT_TIMEOUT = 180.0  # a created OSD's first boot into the OSD tree (its CRUSH location)
DRAIN_TIMEOUT = 3600.0

_NODE_LOCKS: dict[str, threading.Lock] = {}
_NODE_LOCKS_GUARD = threading.Lock()


def node_lock(node: str) -> threading.Lock:
    with _NODE_LOCKS_GUARD:
        return _NODE_LOCKS.setdefault(node, threading.Lock())


def find_osd_on(client: PveClient, node: str, devpath: str) -> int | None:
    disk = osd.find_disk(client.disks_list(node), devpath)
    ids = osd.osd_ids_on(disk) if disk else []
    return ids[0] if ids else None


def wait_up_in(client: PveClient, node: str, osd_id: int) -> None:
    def probe() -> tuple[bool, str]:
        state = osd.tree_osds(client.osd_tree(node)).get(osd_id)
        if state is None:
            return False, "not in the OSD tree"
        return state.up and state.in_, f"{'up' if state.up else 'down'}, {'in' if state.in_ else 'out'}"

    wait_until(
        client,
        probe,
        UP_IN_TIMEOUT,
        f"osd.{osd_id} on {node} coming up and in",
        "The OSD was left in place: fix it, then run again (it is taken over), or remove it",
    )


def tree_once_booted(client: PveClient, node: str, ids: list[int]) -> set[int]:
    """The OSD tree's ids, once the disk's OSDs are in it or no OSD is outside it (logic/osd.py outside_crush).

    An interrupted run's OSD create may have ended moments ago: its OSD exists but boots only now, and
    until then PVE's OSD list does not show it. Judged at once, its disk would look like a leftover.
    """
    seen: dict[str, set[int]] = {}

    def probe() -> tuple[bool, str]:
        tree = osd.tree_osds(client.osd_tree(node))
        seen["ids"] = set(tree)
        if all(i in tree for i in ids):
            return True, "in the OSD tree"
        pending = osd.outside_crush(client.ceph_status(node), tree)
        return pending == 0, f"{pending} OSD(s) created but not booted yet"

    wait_until(
        client,
        probe,
        BOOT_TIMEOUT,
        f"{', '.join(f'osd.{i}' for i in ids)} on {node} booting into the OSD tree",
        "The OSD exists but does not boot: check its log on the node (journalctl -u ceph-osd@ID)",
    )
    return seen["ids"]


def finish_interrupted_on(client: PveClient, node: str, disk: dict[str, Any] | None) -> int:
    """Wait for a wipe or an OSD create of this disk still running from an interrupted run; how many."""
    if disk is None:
        return 0  # plan_create names the missing disk
    devpath = str(disk.get("devpath"))
    what = f"creating an OSD on {devpath} of {node}"
    waited = 0
    for task_type, timeout in (("wipedisk", WIPE_TIMEOUT), ("cephcreateosd", CREATE_TIMEOUT)):
        waited += finish_interrupted(client, node, task_type, osd.devname(devpath), what, timeout, as_root=True)
    return waited


def take_over(
    client: PveClient, node: str, disks: list[dict[str, Any]], plan: osd.CreatePlan, inputs: OsdInputs
) -> int:
    """The OSD on the disk, if it is ours (logic/osd.py takeover); raises AlreadyExists if not."""
    disk = osd.find_disk(disks, plan.devpath)
    if disk is None or plan.osd_id is None:
        raise ProxmoxHciError(f"{plan.devpath} on {node} vanished from disks/list while looking at its OSD")
    osd_id = plan.osd_id
    state = osd.tree_osds(client.osd_tree(node)).get(osd_id)
    metadata = metadata_once_booted(client, node, osd_id, state) if state is not None else None
    notice(osd.takeover(node, disk, disks, osd.FoundOsd(osd_id, state, metadata), inputs).message)
    return osd_id


def metadata_once_booted(client: PveClient, node: str, osd_id: int, state: osd.OsdState) -> dict[str, Any] | None:
    """The OSD's metadata; for one that has not booted yet, once it is up.

    An OSD takes its CRUSH location as it starts and sends its metadata with its boot, so an interrupted
    run's new OSD can be in the tree while `osd metadata` still fails (PVE: "error with 'osd metadata'").
    """
    try:
        return client.osd_metadata(node, osd_id)
    except PveApiError:
        if state.up:
            raise
    wait_up_in(client, node, osd_id)
    return client.osd_metadata(node, osd_id)


def stored_osd_id(outputs: OsdOutputs) -> int:
    if outputs.osd_id is None:
        raise ProxmoxHciError("the state of this CephOsd has no osd_id; run `pulumi refresh`")
    return outputs.osd_id


UNRETIRE = (
    "this OSD was retired (drained and destroyed with cleanup); it cannot come back in place. To use the "
    "node again, remove it from nodes, run pulumi up, then add it again without retire"
)


class CephOsdProvider(PveProvider[OsdInputs, OsdOutputs]):
    spec = osd.SPEC

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(_olds, news)
        old, new = from_wire(_olds or {}), result.inputs
        if old.get("retired") is True and new.get("retired") in (None, False):
            result.failures.append(CheckFailure("retired", f"CephOsd.retired: {UNRETIRE}"))
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.load(props)
        node, device = inputs.node, inputs.device
        if inputs.retired:
            # Declared retired from the start (a stack taking over a cluster, or state lost): nothing is
            # created; an OSD still on the device is drained and destroyed as an update would.
            client = self.client()
            found = find_osd_on(client, node, device) if osd.find_disk(client.disks_list(node), device) else None
            if found is not None and found in osd.tree_osds(client.osd_tree(node)):
                remove_osd(client, OsdRemoval(found, node, allow_data_loss=inputs.allow_data_loss), DRAIN_TIMEOUT)
            outputs = OsdOutputs(retired_id=found)
            return CreateResult(f"{node}/retired:{device}", self.state(inputs, outputs))
        client = self.client()
        client.require_root(f"creating an OSD on {node}")  # fail before touching anything
        with node_lock(node):
            disks = client.disks_list(node)
            if finish_interrupted_on(client, node, osd.find_disk(disks, device)):
                disks = client.disks_list(node)
            disk = osd.find_disk(disks, device)
            in_tree = tree_once_booted(client, node, osd.osd_ids_on(disk)) if disk and osd.osd_ids_on(disk) else None
            plan = osd.plan_create(node, device, disk, wipe=inputs.wipe, in_tree=in_tree)
            if plan.action == "take_over":
                osd_id = take_over(client, node, disks, plan, inputs)
            else:
                if plan.action == "wipe_then_create":
                    client.run_task(
                        lambda: client.wipe_disk(node, plan.devpath), WIPE_TIMEOUT, f"wiping {plan.devpath} on {node}"
                    )
                    disk = osd.find_disk(client.disks_list(node), plan.devpath)
                    if disk is None or disk.get("used"):
                        raise UnsafeToProceed(
                            f"{plan.devpath} on {node} is still in use after wiping "
                            f"({disk.get('used') if disk else 'gone'}); not creating the OSD"
                        )
                client.run_task(
                    lambda: client.osd_create(
                        node,
                        dev=plan.devpath,
                        db_dev=inputs.db_device,
                        wal_dev=inputs.wal_device,
                        encrypted=inputs.encrypted,
                        crush_device_class=inputs.crush_device_class,
                    ),
                    CREATE_TIMEOUT,
                    f"creating an OSD on {plan.devpath} of {node}",
                )
                created = find_osd_on(client, node, plan.devpath)
                if created is None:
                    raise ProxmoxHciError(
                        f"the OSD create task on {node} succeeded, yet disks/list shows no OSD on {plan.devpath}"
                    )
                osd_id = created
        wait_up_in(client, node, osd_id)
        return CreateResult(f"{node}/{osd_id}", self.state(inputs, OsdOutputs(osd_id=osd_id, devpath=plan.devpath)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        old, outputs = self.load(props), self.load_outputs(props)
        if old.retired and outputs.osd_id is None:
            # Retired: it stands for nothing on the cluster (its id may be reused by a new OSD elsewhere).
            return self.found(id_, self.spec.dump(old), outputs)
        osd_id = stored_osd_id(outputs)
        client = self.client()
        state = osd.tree_osds(client.via_any(old.node, client.osd_tree)).get(osd_id)
        if state is None:
            return self.gone()
        # A class left None lets Ceph pick it: what Ceph picked is not drift.
        device_class = old.crush_device_class if old.crush_device_class is None else (state.device_class or None)
        inputs = self.spec.refreshed(old, node=state.host or old.node, crush_device_class=device_class)
        return self.found(id_, inputs, OsdOutputs(osd_id=osd_id, devpath=outputs.devpath))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        # The opt-ins (wipe, allow_data_loss, adopt) are recorded, nothing else changes; `retired` set
        # drains and destroys the OSD (the same drain as a delete, osd_drain.py) and records it retired.
        old, new, outputs = self.load(_olds), self.load(_news), self.load_outputs(_olds)
        step = osd.retire_step(old, outputs, new)
        if step == "refuse":
            raise UnsafeToProceed(f"osd.{outputs.retired_id} on {old.node}: {UNRETIRE}")
        if step == "retire":
            osd_id = stored_osd_id(outputs)
            removal = OsdRemoval(osd_id, new.node, allow_data_loss=new.allow_data_loss)
            remove_osd(self.client(), removal, DRAIN_TIMEOUT)
            notice(f"osd.{osd_id} on {new.node} retired: drained and destroyed with cleanup")
            outputs = OsdOutputs(osd_id=None, devpath=outputs.devpath, retired_id=osd_id)
        return UpdateResult(self.state(new, outputs))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        inputs = self.load(_props)
        if inputs.retired and self.load_outputs(_props).osd_id is None:
            return  # retired: drained and destroyed by the update that retired it
        removal = OsdRemoval(
            stored_osd_id(self.load_outputs(_props)), inputs.node, allow_data_loss=inputs.allow_data_loss
        )
        remove_osd(self.client(), removal, DRAIN_TIMEOUT)


class CephOsd(Resource, module="ceph", name="Osd"):
    osd_id: pulumi.Output[int]
    devpath: pulumi.Output[str]
    retired_id: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        device: pulumi.Input[str],
        db_device: pulumi.Input[str] | None = None,
        wal_device: pulumi.Input[str] | None = None,
        encrypted: pulumi.Input[bool] = False,
        crush_device_class: pulumi.Input[str] | None = None,
        wipe: pulumi.Input[bool] = False,
        allow_data_loss: pulumi.Input[bool] = False,
        adopt: pulumi.Input[bool] = False,
        replacement: pulumi.Input[str] | None = None,
        retired: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The keyword arguments are the inputs, by name (tests/unit/providers checks them against OsdInputs).
        super().__init__(CephOsdProvider(), resource_name, CephOsdProvider.spec.props(locals()), opts)
