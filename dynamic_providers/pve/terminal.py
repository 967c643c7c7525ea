"""A node terminal opened by `POST /nodes/{node}/termproxy`, driven over its websocket (websocket-client).

The protocol is termproxy's (proxmox/pve-xtermjs `termproxy/src/main.rs`, and the xterm.js client
in `xterm.js/src/main.js`): a websocket on `GET /api2/json/nodes/{node}/vncwebsocket?port=P&vncticket=T`
with subprotocol `binary`, authenticated as the user the ticket was issued to (the root@pam ticket
cookie; `vncwebsocket` checks `verify_vnc_ticket($ticket, $user, /nodes/{node}, $port)`), through the
same endpoint that answered termproxy (there is no `proxyto`: the port is on that host). termproxy
waits 10 s for it. The first message is `<user>:<ticket>\\n`, answered with `OK`; then input goes in
frames `0:<byte length>:<bytes>`, resizes as `1:<cols>:<rows>:`, and output comes back raw.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import websocket

from dynamic_providers.errors import ProxmoxHciError

# termproxy's listen window (main.rs listen_and_accept) is 10 s from the moment termproxy answered.
CONNECT_TIMEOUT = 8.0


class TerminalError(ProxmoxHciError):
    """The terminal could not be opened or broke off; the message says where."""


@dataclass(frozen=True)
class TerminalTicket:
    """termproxy's answer: `user`, `ticket`, `port`, `upid`."""

    user: str
    ticket: str
    port: int
    upid: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TerminalTicket:
        return cls(str(data.get("user")), str(data.get("ticket")), int(data.get("port") or 0), str(data.get("upid")))


def data_frame(payload: bytes) -> bytes:
    return b"0:%d:" % len(payload) + payload


def resize_frame(cols: int, rows: int) -> bytes:
    return b"1:%d:%d:" % (cols, rows)


def websocket_url(endpoint: str, node: str, ticket: TerminalTicket) -> str:
    parts = urlsplit(endpoint)
    prefix = parts.path.rstrip("/")
    return (
        f"wss://{parts.netloc}{prefix}/api2/json/nodes/{quote(node, safe='')}/vncwebsocket"
        f"?port={ticket.port}&vncticket={quote(ticket.ticket, safe='')}"
    )


def ssl_options(verify: bool | str) -> dict[str, Any]:
    """websocket-client's sslopt for requests' `verify` (a CA file, True, or False)."""
    if verify is False:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    return {"context": context}


class Terminal:
    """One open terminal; `read` gives output bytes, `send` types."""

    def __init__(self, ws: websocket.WebSocket, where: str) -> None:
        self._ws = ws
        self.where = where
        self.closed = False
        self.rest = b""  # output that came in with `OK`

    @classmethod
    def open(
        cls, endpoint: str, node: str, ticket: TerminalTicket, cookie: str, verify: bool | str, *, cols: int = 160
    ) -> Terminal:
        """Connect, send the ticket line, wait for `OK`; raises TerminalError with what went wrong."""
        where = f"the terminal of {node} (termproxy port {ticket.port})"
        try:
            ws = websocket.create_connection(
                websocket_url(endpoint, node, ticket),
                timeout=CONNECT_TIMEOUT,
                subprotocols=["binary"],
                cookie=f"PVEAuthCookie={cookie}",
                sslopt=ssl_options(verify),
                enable_multithread=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise TerminalError(f"{where}: the websocket was refused ({exc.status_code} {exc})") from exc
        except (OSError, websocket.WebSocketException) as exc:
            raise TerminalError(f"{where}: could not open the websocket ({exc})") from exc
        terminal = cls(ws, where)
        terminal._send_raw(f"{ticket.user}:{ticket.ticket}\n".encode())
        answer = b""
        while len(answer) < 2:
            chunk = terminal.read(CONNECT_TIMEOUT)
            if chunk is None:
                raise TerminalError(f"{where}: termproxy closed the connection instead of answering the ticket")
            answer += chunk
        if not answer.startswith(b"OK"):
            raise TerminalError(f"{where}: termproxy did not accept the ticket (it answered {answer[:40]!r})")
        terminal.rest = answer[2:]
        terminal._send_raw(resize_frame(cols, 40))
        return terminal

    def _send_raw(self, data: bytes) -> None:
        try:
            self._ws.send_binary(data)
        except (OSError, websocket.WebSocketException) as exc:
            self.closed = True
            raise TerminalError(f"{self.where}: the connection broke while sending ({exc})") from exc

    def send(self, text: str) -> None:
        """Type `text` (e.g. `y\\r`)."""
        self._send_raw(data_frame(text.encode()))

    def read(self, timeout: float) -> bytes | None:
        """The next output, b"" if none came within `timeout`, None once the terminal is gone."""
        if self.closed:
            return None
        self._ws.settimeout(timeout)
        try:
            opcode, data = self._ws.recv_data(control_frame=False)
        except websocket.WebSocketTimeoutException:
            return b""
        except (OSError, websocket.WebSocketConnectionClosedException, websocket.WebSocketException):
            self.closed = True
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            return None
        return data if isinstance(data, bytes) else str(data).encode()

    def close(self) -> None:
        """Hang up: termproxy exits and the command it ran gets SIGHUP."""
        self.closed = True
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self._ws.close(timeout=2)
