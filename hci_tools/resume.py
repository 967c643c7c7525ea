"""Finish what an interrupted `pulumi up` or `pulumi destroy` left in the stack's state, non-interactively.

    pulumi cancel --yes                          # the killed run's lock (Pulumi's own; fails if none)
    python -m hci_tools.resume [--stack NAME]    # this: the pending creates
    pulumi up --yes                              # or `pulumi destroy --yes --exclude-protected`

Run in the project directory with what `pulumi` itself needs (backend, passphrase) and the PVE
credentials the program reads (the stack's proxmoxve:* config, else PROXMOX_VE_*). It is the same
command whatever was interrupted, and a no-op when nothing is pending:

0. in a `file://` backend, removes the empty `<stack>.json.attrs` a kill during a state write can
   leave (every command on the stack fails "failed to load checkpoint: EOF" until then; see
   hci_tools/file_backend.py), and then cancels the killed run's lock;
1. reads the pending creates from `pulumi stack export` (Pulumi keeps them until someone decides;
   Pulumi's own way, an interactive `pulumi refresh`, is not available in CI);
2. waits for a VM create PVE is still running for one of them (qmcreate), reads what PVE holds, and
   decides each (hci_tools/pending_creates.py): import what PVE holds when it is the declared object,
   clear the rest (our dynamic resources' creates take over what was made; anything else is created);
   a conflict is refused, naming both sides, and then nothing is changed;
3. imports what it matched with `pulumi import --file` (the URN's name, parent and PVE's id), then
   clears the pending creates with `pulumi refresh --yes --skip-preview --clear-pending-creates`.
   (Not `refresh --import-pending-creates`: Pulumi 3.274 marks such a create "importing" and then
   drops it, as its snapshot keeps only pending creates: pulumi/pulumi pkg/backend/journal.go.)

Pending updates and deletes need nothing: Pulumi drops them at the next update, whose update or
delete runs again and resumes from what the cluster holds (docs/architecture.md, "Resuming"). Except
a pulumi-proxmoxve delete that PVE finished: bpg's rerun would fail on the missing object ("not HA
managed!"), so that resource is dropped from the state (`pulumi state delete URN`); and a VM update
killed inside its live migration (a node change, e.g. for node maintenance): the migration task is
waited for, and when PVE moved the VM, bpg's rerun would look for it on the old node, so that VM is
refreshed (`pulumi refresh --target URN`), which reads the node it is on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from dynamic_providers.errors import ProxmoxHciError
from dynamic_providers.interrupted import finish_interrupted
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import SOURCES, Credentials
from dynamic_providers.values import as_int
from hci_tools import file_backend
from hci_tools.pending_creates import (
    APT_REPOSITORY_TYPES,
    APT_STANDARD,
    DYNAMIC,
    HA_GROUP,
    HA_RESOURCE,
    HA_RULE,
    VM,
    Pending,
    PveFacts,
    Resolution,
    delete_done,
    moved_away,
    other_pending,
    pending_creates,
    pending_deletes,
    pending_vm_updates,
    resolve,
)

CREATE_TIMEOUT = 1800.0


class Pulumi:
    """The `pulumi` CLI on one stack, in the current directory and environment."""

    def __init__(self, stack: str | None) -> None:
        self.stack = stack

    def run(self, *args: str) -> str:
        stack = ["--stack", self.stack] if self.stack else []
        cmd = ["pulumi", *args, *stack, "--non-interactive"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise ProxmoxHciError(f"`pulumi {' '.join(args[:2])}` failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
        return out.stdout

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run("stack", "export"))
        return data

    def config_value(self, config: dict[str, Any], key: str) -> Any:
        entry = config.get(key)
        return entry.get("value") if isinstance(entry, dict) else None


def credentials(pulumi: Pulumi) -> Credentials:
    """The program's PVE credentials: the stack's proxmoxve:* keys, else the PROXMOX_VE_* variables."""
    wanted = [key for key, _ in SOURCES.values()]
    config: dict[str, Any] = {}
    if any(not os.environ.get(variable) for _, variable in SOURCES.values()):
        config = json.loads(pulumi.run("config", "--json", "--show-secrets"))  # kept in memory, never printed
    return Credentials.resolve(lambda key: pulumi.config_value(config, key) if key in wanted else None, os.environ)


def read_facts(client: PveClient, pending: Sequence[Pending]) -> PveFacts:
    """What PVE holds, read only for the kinds of resource that are pending."""
    kinds = {p.type for p in pending}
    facts = PveFacts()
    if VM in kinds:
        for row in client.cluster_resources("vm"):
            vmid, node = as_int(row.get("vmid")), str(row.get("node"))
            if vmid is not None and row.get("type", "qemu") == "qemu":
                facts.vms[vmid] = (node, client.vm_config(node, vmid))
    if HA_RESOURCE in kinds:
        facts.ha_resources = {str(r["sid"]): r for r in client.call("GET", "/cluster/ha/resources") or []}
    if HA_RULE in kinds:
        facts.ha_rules = {str(r["rule"]): r for r in client.call("GET", "/cluster/ha/rules") or []}
    if HA_GROUP in kinds:
        facts.ha_groups = {str(g["group"]): g for g in client.call("GET", "/cluster/ha/groups") or []}
    for node in sorted({str(p.inputs.get("node")) for p in pending if p.type in (APT_STANDARD, *APT_REPOSITORY_TYPES)}):
        facts.apt[node] = dict(client.call("GET", f"/nodes/{node}/apt/repositories") or {})
    return facts


def finish_vm_creates(client: PveClient, pending: Sequence[Pending]) -> None:
    """Wait for a qmcreate PVE still runs for a pending VM (bpg's create is one such task)."""
    for item in pending:
        vmid = as_int(item.inputs.get("vmId"))
        if item.type == VM and vmid is not None and item.inputs.get("nodeName"):
            node = str(item.inputs["nodeName"])
            what = f"creating VM {vmid} on {node}"
            finish_interrupted(client, node, "qmcreate", str(vmid), what, CREATE_TIMEOUT, vmid=vmid)


def finish_vm_migrations(client: PveClient, updates: Sequence[Pending]) -> None:
    """Wait for a live migration PVE still runs for a VM whose update was interrupted (qmigrate)."""
    for item in updates:
        vmid, node = as_int(item.inputs.get("vmId")), item.inputs.get("nodeName")
        if vmid is not None and node:
            what = f"migrating VM {vmid} from {node}"
            finish_interrupted(client, str(node), "qmigrate", str(vmid), what, CREATE_TIMEOUT, vmid=vmid)


def import_file(resolutions: Sequence[Resolution]) -> dict[str, Any] | None:
    """`pulumi import --file`'s document for the matched pending creates (None: nothing to import).

    Each keeps its URN: the name, type and parent of the pending create; its provider is the
    stack's default one for the package (what the program uses), so none is named.
    """
    names: dict[str, str] = {}
    resources = []
    for item in resolutions:
        if item.action != "import" or item.id is None:
            continue
        entry: dict[str, Any] = {"type": item.pending.type, "name": item.pending.name, "id": item.id}
        if item.pending.parent:
            parent = f"parent{len(names)}"
            names[parent] = item.pending.parent
            entry["parent"] = parent
        entry["protect"] = item.pending.protect
        resources.append(entry)
    return {"nameTable": names, "resources": resources} if resources else None


CLEAR = ("refresh", "--yes", "--skip-preview", "--clear-pending-creates")


def repair_state(pulumi: Pulumi, repair: Any = file_backend.repair) -> None:
    """A file backend's empty attributes file a kill left (file_backend.py) removed; then the killed
    run's lock, which the `pulumi cancel` before this could not reach, cancelled."""
    removed = repair()
    for path in removed:
        print(f"removed {path}: empty, left by a killed run's state write (the checkpoint beside it is whole)")
    if removed:
        with contextlib.suppress(ProxmoxHciError):  # no lock left to cancel: the killed run had not taken one
            pulumi.run("cancel", "--yes")


def resume(pulumi: Pulumi, client_of: Any = None, repair: Any = file_backend.repair) -> int:
    repair_state(pulumi, repair)
    export = pulumi.export()
    pending = pending_creates(export)
    deletes = pending_deletes(export)
    updates = pending_vm_updates(export)
    facts = PveFacts()
    if deletes or updates or any(not item.type.startswith(DYNAMIC) for item in pending):  # those need PVE's view
        client = client_of() if client_of else PveClient(credentials(pulumi))
        finish_vm_creates(client, pending)
        finish_vm_migrations(client, updates)
        facts = read_facts(client, [*pending, *deletes, *updates])
    done = [gone for gone in deletes if delete_done(gone, facts)]
    for gone in done:  # its rerun would fail on the object it deleted
        pulumi.run("state", "delete", gone.urn, "--yes")
        print(f"dropped {gone.name} ({gone.type}) from the state: its interrupted delete was done in PVE")
    for line in other_pending(export):
        if not any(line.endswith(gone.urn) for gone in done):
            print(f"pending {line}: the next update runs it again")
    moved = [(vm, node) for vm in updates if (node := moved_away(vm, facts)) is not None]
    for vm, node in moved:
        print(f"{vm.name}: PVE finished its live migration to {node}; refreshing it so the update finds it there")
    if not pending:
        if moved:  # (with pending creates, the refresh below reads them too)
            pulumi.run("refresh", "--yes", "--skip-preview", *[f"--target={vm.urn}" for vm, _ in moved])
        print("no pending create: nothing more to resume")
        return 0
    resolutions = [resolve(item, facts) for item in pending]
    for item in resolutions:
        target = f" as {item.id}" if item.action == "import" else ""
        print(f"{item.action} {item.pending.name} ({item.pending.type}){target}: {item.reason}")
    refused = [item for item in resolutions if item.action == "refuse"]
    if refused:
        print(f"{len(refused)} pending create(s) refused; the stack's state was not changed", file=sys.stderr)
        return 1
    spec = import_file(resolutions)
    if spec is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(spec, handle)
        try:
            pulumi.run("import", "--yes", "--skip-preview", "--generate-code=false", "--file", handle.name)
        finally:
            os.unlink(handle.name)
    pulumi.run(*CLEAR)
    imported = sum(1 for item in resolutions if item.action == "import")
    print(f"resumed: {imported} imported, {len(resolutions) - imported} cleared; now run `pulumi up`")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stack", help="the stack (default: the selected one)")
    args = parser.parse_args(argv)
    try:
        return resume(Pulumi(args.stack))
    except ProxmoxHciError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
