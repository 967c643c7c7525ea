"""The tests' own client of a lab's node terminal, written from PVE's side of the wire and not from the
providers' (dynamic_providers/pve/terminal.py): a login ticket session with requests, termproxy, and the
websocket as the GUI's xterm.js opens it (pve-xtermjs `xterm.js/src/main.js`) with websocket-client.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import websocket

from lab.pytest_plugin import Lab


@dataclass
class Session:
    """A ticket (cookie + CSRF token) or API-token session."""

    lab: Lab
    http: requests.Session
    cookie: str | None = None

    def url(self, path: str) -> str:
        return f"{self.lab.endpoint}/api2/json{path}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.url(path), params=params, verify=self.lab.ca_cert, timeout=30)

    def post(self, path: str, **data: Any) -> requests.Response:
        return self.http.post(self.url(path), data=data, verify=self.lab.ca_cert, timeout=30)


def login(lab: Lab, user: str = "root@pam", password: str | None = None) -> Session:
    http = requests.Session()
    http.trust_env = False  # the lab's CA, not the environment's bundle
    answer = http.post(
        f"{lab.endpoint}/api2/json/access/ticket",
        data={"username": user, "password": password or lab.root_password},
        verify=lab.ca_cert,
        timeout=30,
    )
    answer.raise_for_status()
    data = answer.json()["data"]
    http.cookies.set("PVEAuthCookie", data["ticket"])
    http.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]
    return Session(lab, http, data["ticket"])


def token_session(lab: Lab) -> Session:
    http = requests.Session()
    http.trust_env = False
    http.headers["Authorization"] = f"PVEAPIToken={lab.api_token}"
    return Session(lab, http)


def termproxy(session: Session, node: str, cmd: str | None = "ceph_install", opts: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if cmd is not None:
        data["cmd"] = cmd
    if opts is not None:
        data["cmd-opts"] = opts
    answer = session.post(f"/nodes/{node}/termproxy", **data)
    assert answer.status_code == 200, (answer.status_code, answer.reason, answer.text)
    result: dict[str, Any] = answer.json()["data"]
    return result


def nul(*words: str) -> str:
    """`cmd-opts` as the GUI's wizard joins them."""
    return "\0".join(words)


class Terminal:
    """The websocket of one terminal: the ticket line, then frames in, raw bytes out."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.output = b""
        self.closed = False

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def send_raw(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def type(self, text: str) -> None:
        payload = text.encode()
        self.send_raw(b"0:%d:" % len(payload) + payload)

    def read(self, timeout: float = 1.0) -> bytes | None:
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return b""
        except (websocket.WebSocketConnectionClosedException, OSError):
            self.closed = True
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            return None
        chunk = bytes(data)
        self.output += chunk
        return chunk

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        """Read until `pattern` (a regex) is on screen; the screen so far."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            if self.closed or time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never came; the terminal showed:\n{self.text}")
            self.read(0.5)
        return self.text

    def until_closed(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.read(0.5)
        return self.text

    def close(self) -> None:
        self.ws.close(timeout=2)
        self.closed = True


def connect(session: Session, node: str, reply: dict[str, Any], *, ticket_line: bool = True) -> Terminal:
    """GET /nodes/{node}/vncwebsocket with the session's cookie, subprotocol `binary`; then `user:ticket\\n`."""
    url = session.lab.endpoint.replace("https://", "wss://") + (
        f"/api2/json/nodes/{node}/vncwebsocket?port={reply['port']}&vncticket={quote(reply['ticket'], safe='')}"
    )
    headers = [] if session.cookie else [f"Authorization: PVEAPIToken={session.lab.api_token}"]
    ws = websocket.create_connection(
        url,
        subprotocols=["binary"],
        cookie=f"PVEAuthCookie={session.cookie}" if session.cookie else None,
        header=headers,
        sslopt={"ca_certs": session.lab.ca_cert},
        timeout=10,
    )
    terminal = Terminal(ws)
    if ticket_line:
        terminal.send_raw(f"{reply['user']}:{reply['ticket']}\n".encode())
    return terminal


def task_status(session: Session, upid: str) -> dict[str, Any]:
    node = upid.split(":")[1]
    status: dict[str, Any] = session.get(f"/nodes/{node}/tasks/{quote(upid, safe='')}/status").json()["data"]
    return status


def task_log(session: Session, upid: str) -> list[str]:
    node = upid.split(":")[1]
    rows = session.get(f"/nodes/{node}/tasks/{quote(upid, safe='')}/log").json()["data"]
    return [row["t"] for row in rows]


def wait_stopped(session: Session, upid: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (status := task_status(session, upid))["status"] == "running":
        if time.monotonic() > deadline:
            raise AssertionError(f"task {upid} still running after {timeout} s")
        time.sleep(0.2)
    return status


def install(session: Session, node: str, *words: str, via: str | None = None) -> str:
    """The whole wizard: termproxy, websocket, answer apt when it asks, wait for pveceph to reach the reload."""
    reply = termproxy(session, node, opts=nul(*words))
    terminal = connect(session, via or node, reply)
    deadline = time.monotonic() + 120
    answered = False
    while "reloading API to load new Ceph RADOS library" not in terminal.text:
        if terminal.closed or time.monotonic() > deadline:
            raise AssertionError(f"pveceph install on {node} did not get to the reload:\n{terminal.text}")
        if not answered and re.search(r"Do you want to continue\? \[Y/n\] $", terminal.text):
            terminal.type("y\r")
            answered = True
        terminal.read(0.5)
    terminal.close()
    return terminal.text
