"""Storage content: an RBD storage's is what its pool holds (pve-storage src/PVE/Storage/RBDPlugin.pm
list_images), a node-local storage's is what is on the node asked (src/PVE/API2/Storage/Content.pm index).

The images themselves are made and removed by the volume model (lab/models/volumes.py), which fakepve's
allocation hooks on LabPve call.
"""

from __future__ import annotations

from typing import Any

from lab.handlers.base import LabArea


class RbdVolumesApi(LabArea):
    async def _content_list(self, v: dict[str, Any], user: str) -> Any:
        """GET .../storage/{storage}/content (fakepve's route): an RBD storage lists what is in its pool, a
        node-local storage what is on the node asked."""
        sid, node = v["storage"], v["node"]
        await self.volumes.refresh(sid)
        parent: Any = super()
        items: list[dict[str, Any]] = await parent._content_list(v, user)
        return [i for i in items if self.volumes.visible_on(sid, i["volid"].split(":", 1)[1], node)]
