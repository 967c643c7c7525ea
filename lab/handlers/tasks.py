"""GET /nodes/{node}/tasks as PVE answers it: parameters checked here, the rows from models/task_list.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from fakepve.server import USER, ok, params

from lab.models.task_list import select


class TaskListApi:
    """Mixin of LabPve: replaces fakepve's task list (its other task endpoints are PVE's already)."""

    tasklog: list[dict[str, Any]]

    if TYPE_CHECKING:  # provided by fakepve's server; declared for the type checker only

        def _verify(self, request: web.Request, values: dict[str, Any]) -> dict[str, Any]: ...

        def allowed(self, user: str, path: str, priv: str) -> bool: ...

        @staticmethod
        def _task_owner(user: str, task: dict[str, Any]) -> bool: ...

    async def _task_list(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        user = request[USER]
        query = self._verify(request, await params(request))
        audit = self.allowed(user, "/nodes/" + node, "Sys.Audit")
        response: web.Response = ok(
            select(self.tasklog, node, query, lambda task: audit or self._task_owner(user, task))
        )
        return response
