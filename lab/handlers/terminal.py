"""The node terminal (pve-manager PVE/API2/Nodes.pm `termproxy`, `vncwebsocket`): what the GUI's Ceph wizard
opens to run `pveceph install`, and the only way PVE installs packages.

Both calls have no `proxyto`: the node whose pveproxy answers (the lab's endpoint, spec.answering_node)
runs termproxy for any `{node}`, over ssh for another one, and its pveproxy connects the websocket to
its own localhost port (pve-http-server `PVE/APIServer/AnyEvent.pm` websocket_proxy). The terminal and
its programs are lab/terminal/; these handlers parse, check and relay.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web
from fakepve import schema as pve_schema
from fakepve.server import USER, params

from lab import errors
from lab.handlers.base import LabArea, Route
from lab.models.fakepve_model import running_task_log
from lab.terminal.service import InvalidTicket, NoFreePort, TerminalService
from lab.terminal.session import Connection, ConnectionRefused

VNCWEBSOCKET = "/nodes/{node}/vncwebsocket"


class TerminalApi(LabArea):
    terminals: TerminalService

    def _routes_terminal(self) -> list[Route]:
        return [("POST", "/nodes/{node}/termproxy", self._termproxy_node)]

    def _raw_routes_terminal(self) -> list[tuple[str, str, Any]]:
        """Routes that answer with something other than PVE's JSON (registered ahead of fakepve's)."""
        return [("GET", VNCWEBSOCKET, self._vncwebsocket_node)]

    async def _termproxy_node(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        try:
            opened = self.terminals.open(user, v["node"], v.get("cmd"), v.get("cmd-opts"))
        except NoFreePort as exc:
            raise errors.die(str(exc)) from exc
        holder: dict[str, str] = {}

        def log(line: str) -> None:  # termproxy's own lines: all the vncshell task's log gets
            running_task_log(self, holder).append(line)

        async def body() -> None:
            await opened.session.run(log)

        # fork_worker('vncshell', "", $user, ...) on the answering node, whatever `{node}` is.
        upid = await self.task(self.terminals.answering_node, "vncshell", "", user, body, lock=False)
        holder["upid"] = upid
        return {"user": opened.user, "ticket": opened.ticket, "port": opened.port, "upid": upid}

    async def _vncwebsocket_node(self, request: web.Request) -> web.StreamResponse:
        """The API method checks the ticket; only an upgrade request then gets the websocket (pve-http-server
        AnyEvent.pm: `websocket_proxy` when the answer is 200 and the client asked to upgrade)."""
        user = request[USER]
        match = pve_schema.Match(VNCWEBSOCKET, dict(request.match_info), pve_schema.load().paths[VNCWEBSOCKET])

        async def verify(_match: Any, values: dict[str, Any]) -> int:
            port = int(values["port"])
            try:
                self.terminals.verify_websocket(user, values["node"], port, values["vncticket"])
            except InvalidTicket as exc:
                raise errors.PveError(401, str(exc)) from exc
            return port

        port = await self.answer(request, match, await params(request), user, verify)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"data": {"port": str(port)}})
        try:
            conn = self.terminals.connect(port)
        except ConnectionRefused:
            # tcp_connect failed: pveproxy drops the client without the 101.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        ws = web.WebSocketResponse(protocols=("binary",), max_msg_size=128 * 1024)
        await ws.prepare(request)
        await relay(ws, conn)
        return ws


async def relay(ws: web.WebSocketResponse, conn: Connection) -> None:
    """pveproxy's websocket_proxy: client frames to termproxy, termproxy's bytes back as binary frames."""

    async def to_client() -> None:
        while (data := await conn.output.get()) is not None:
            await ws.send_bytes(data)
        await ws.close()

    sender = asyncio.ensure_future(to_client())
    try:
        async for message in ws:
            if message.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                payload = message.data if isinstance(message.data, bytes) else message.data.encode()
                conn.client_sent(payload)
            elif message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    finally:
        conn.client_closed()
        if not sender.done():
            await asyncio.wait({sender}, timeout=1)
            sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
