"""A VM's config update with its drives: PUT (sync) and POST (a `qmconfig` task) .../config, and PUT .../unlink
(qemu-server src/PVE/API2/Qemu.pm update_vm, update_vm_async and unlink, all three $update_vm_api).

fakepve's handlers store drive values as sent; here the drive part of an update goes to the drive model
(lab/models/vm_config.py: allocation, unused volumes, hotplug) and the rest to fakepve's `_apply_config`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from fakepve.server import API, USER, ok, params

from lab import errors
from lab.errors import PveError, TaskError
from lab.handlers.base import LabArea, Route
from lab.models.fakepve_model import FakeVm, running_task_log
from lab.models.vm_config import DriveChanges, split_update
from lab.pve_formats import normalize_legacy_param_formats, split_list

# Parameters $update_vm_api extracts before it logs "update VM <vmid>: ..." (the rest are logged).
UNLOGGED = ("digest", "background_delay", "skip_cloud_init", "import-working-storage")


def update_log_line(vmid: int, values: dict[str, Any]) -> str:
    """The first line of a qmconfig task: `update VM 100: -memory 1024 -scsi1 local-lvm:2`."""
    words = []
    for key in sorted(values):
        if key not in UNLOGGED:
            words += [f"-{key}", "<hidden>" if key == "cipassword" else str(values[key])]
    return f"update VM {vmid}: " + " ".join(words)


class QemuConfigApi(LabArea):
    def _routes_qemu_config(self) -> list[Route]:
        return [("PUT", "/nodes/{node}/qemu/{vmid}/unlink", self._qm_unlink)]

    async def _request_values(self, request: web.Request) -> dict[str, Any]:
        """The request's parameters as PVE's RESTHandler hands them on (list parameters normalised), checked
        and typed by the schema."""
        match = self.resolve(request, API)
        values: dict[str, Any] = await params(request)
        if match is not None and request.method in match.methods:
            values = normalize_legacy_param_formats(values, match.methods[request.method].get("parameters"))
        # Stored as the schema check typed them, as PVE parses each value by its schema type before it
        # writes the config (pve-common PVE/JSONSchema.pm check_prop via PVE::RESTHandler), so a GET
        # answers integers and booleans as numbers (qemu-server PVE/API2/Qemu.pm vm_config), which bpg
        # decodes as int64 and refuses as strings. Only the sent keys: not the path's node and vmid.
        checked = self._verify(request, values)
        return {key: checked.get(key, value) for key, value in values.items()}

    async def _config_put(self, request: web.Request) -> web.Response:
        values = await self._request_values(request)
        vm = self._vm(request)
        await self._apply_config(vm, request[USER], values)
        response: web.Response = ok()
        return response

    async def _config_post(self, request: web.Request) -> web.Response:
        values = await self._request_values(request)
        vm = self._vm(request)
        user = request[USER]
        self.need_quorum()
        changes, rest = split_update(values)
        if changes:  # $load_and_check_config->(0) and check_storage_access, before the fork
            self._check_update(vm, user, changes, rest)
        holder: dict[str, str] = {}

        async def body() -> None:
            try:
                await self._apply_config(vm, user, values, running_task_log(self, holder))
            except PveError as exc:
                raise TaskError(exc.message) from exc

        log = [update_log_line(vm.vmid, values)]
        holder["upid"] = await self.task(vm.node, "qmconfig", vm.vmid, user, body, log=log)
        response: web.Response = ok(holder["upid"])
        return response

    async def _qm_unlink(self, v: dict[str, Any], user: str) -> None:
        """unlink: update_vm with `delete` = idlist (and `force`), synchronous, answering null."""
        vm = self.find(v["node"], v["vmid"])
        values: dict[str, Any] = {"delete": v["idlist"]}
        if v.get("force") is not None:
            values["force"] = v["force"]
        await self._apply_config(vm, user, values)

    # -- fakepve's hook: the update itself ------------------------------------------------------------

    async def _apply_config(
        self, vm: FakeVm, user: str, values: dict[str, Any], record: list[str] | None = None
    ) -> None:
        """The drive changes under the VM's config lock, then fakepve's update of everything else."""
        parent: Any = super()
        changes, rest = split_update(values)
        if not changes:
            await parent._apply_config(vm, user, values)
            return
        self._check_update(vm, user, changes, rest)
        try:
            await self.acquire(vm, "config")
        except TaskError as exc:
            raise errors.die(str(exc)) from exc
        try:
            await self.ceph_io(vm, [k for k in (*changes.updates, *changes.deletes) if k in vm.config])
            await self.vm_drives.apply(vm, user, changes, record if record is not None else [])
        except TaskError as exc:  # a storage's failure inside the update
            raise errors.die(str(exc)) from exc
        finally:
            self.release(vm, "config")
        rest.pop("digest", None)  # checked above, before the drives changed the config
        if set(rest) - {"skiplock"}:
            await parent._apply_config(vm, user, rest)

    def _check_update(self, vm: FakeVm, user: str, changes: DriveChanges, rest: dict[str, Any]) -> None:
        """$update_vm_api's checks before anything changes: quorum, every key's permission, the drives'
        storages, the digest and the VM's lock."""
        self.need_quorum()
        for key in [k for k in rest if k not in ("digest", "delete", "skiplock")] + split_list(
            str(rest.get("delete") or "")
        ):
            priv = self._config_priv(key)
            if priv == "root":
                if user != "root@pam":
                    raise PveError(403, f"only root can set '{key}' config")
            else:
                self.require(user, f"/vms/{vm.vmid}", priv)
        self.vm_drives.check(vm, user, changes)
        digest = rest.get("digest")
        if digest and digest != vm.digest():
            raise errors.die("checksum mismatch (file change by other user?)")
        if not rest.get("skiplock"):
            self._check_lock(vm)
