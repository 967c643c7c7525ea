"""VM disks on RBD storages as real images: fakepve's allocation hooks and the storage content listing.

fakepve's qm create, clone, destroy and template call `_qm_alloc`, `_qm_free` and `_qm_rename_volume` on
the server; here each goes to the volume model (lab/models/volumes.py), which makes the RBD image too.
"""

from __future__ import annotations

from typing import Any

from lab.handlers.base import LabArea


class RbdVolumesApi(LabArea):
    # -- fakepve's hooks (synchronous, inside fakepve's task bodies) ---------------------------------

    def _qm_alloc(
        self, sid: str, vmid: int, fmt: str | None, size: int, linked_from: str | None = None
    ) -> tuple[str, str]:
        return self.volumes.alloc(sid, vmid, fmt, size, linked_from)

    def _qm_free(self, volid: str) -> None:
        self.volumes.free(volid)

    def _qm_rename_volume(self, volid: str) -> str:
        return self.volumes.rename_to_base(volid)

    # -- routes -----------------------------------------------------------------------------------------

    async def _content_list(self, v: dict[str, Any], user: str) -> Any:
        """GET .../storage/{storage}/content (fakepve's route): an RBD storage lists what is in its pool."""
        await self.volumes.refresh(v["storage"])
        parent: Any = super()
        return await parent._content_list(v, user)
