"""RBD storages: their content is what their pool holds (pve-storage src/PVE/Storage/RBDPlugin.pm list_images).

The images themselves are made and removed by the volume model (lab/models/volumes.py), which fakepve's
allocation hooks on LabPve call.
"""

from __future__ import annotations

from typing import Any

from lab.handlers.base import LabArea


class RbdVolumesApi(LabArea):
    async def _content_list(self, v: dict[str, Any], user: str) -> Any:
        """GET .../storage/{storage}/content (fakepve's route): an RBD storage lists what is in its pool."""
        await self.volumes.refresh(v["storage"])
        parent: Any = super()
        return await parent._content_list(v, user)
