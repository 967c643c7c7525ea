"""GET /nodes/{node}/time: the node's clock and time zone (pve-manager PVE/API2/Nodes.pm `time`).

fakepve answers it from the schema alone (a made-up timestamp). Every lab node runs on the host's
clock, as NTP-synced cluster nodes do; the time zone is UTC, what a fresh PVE install on a UTC host
reports (PVE::Systemd::get_timezone reads /etc/timezone, else the /etc/localtime link).
"""

from __future__ import annotations

import time
from typing import Any

from lab.handlers.base import LabArea, Route


class NodeTimeApi(LabArea):
    def _routes_node_time(self) -> list[Route]:
        return [("GET", "/nodes/{node}/time", self._node_time)]

    async def _node_time(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        now = int(time.time())
        return {"timezone": "UTC", "time": now, "localtime": now}  # localtime: timegm(localtime(now)), UTC here
