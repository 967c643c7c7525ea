"""One termproxy run, from listening to exit, as `termproxy/src/main.rs` do_main does it.

The order is the source's: accept a TCP client within 10 s (else `failed waiting for client: timed
out`), read `<authid>:<ticket>\\n` within 10 s, compare it with the ticket pinned through
`--ticket-fd`, authenticate it against `/access/vncticket` (ticket valid for this user, path and
port, and `Sys.Console` on the path), write `OK`, and only then start the command on a pty. From
then on the client's bytes are frames (`0:LEN:DATA`, `1:COLS:ROWS:`, anything else dropped) and
the pty's output goes to the client raw.

termproxy never waits for its child, and what it prints (`client connection: ...` on stdout, its
error on stderr) is all the vncshell task's log gets: the command's own output is on the pty only.
How it ends decides the task's status:
- the client goes away: termproxy exits 0 (task OK) and the command gets SIGHUP;
- the command exits right after writing: the read after its last output fails with EIO, termproxy
  exits 1 (`error reading from pty: Input/output error (os error 5)`) and closes the connection;
- the command exits after a quiet spell (pveceph install ends with `systemctl
  try-reload-or-restart`, which prints nothing): the pty hangup comes as EPOLLHUP alone, which mio
  does not report as readable, and termproxy waits for the client to leave, then exits 0.
The last two follow from Linux's n_tty_poll and mio's `is_readable` (EPOLLIN|EPOLLPRI); they are
derived, not observed on a node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lab.errors import TaskError
from lab.terminal.protocol import (
    ACCEPT_TIMEOUT,
    TICKET_LINE_TIMEOUT,
    FrameDecoder,
    Resize,
    TicketLineError,
    command_failed,
    parse_ticket_line,
)
from lab.terminal.tty import Tty

# How soon after its last output a command's exit still races termproxy's next read into EIO.
FAST_EXIT = 0.05


class Program(Protocol):
    async def run(self, tty: Tty) -> int: ...


class Authenticator(Protocol):
    def __call__(self, authid: str, ticket: str, path: str, port: int) -> bool:
        """POST /access/vncticket with privs=Sys.Console: True when it answers 200."""


class ConnectionRefused(Exception):
    """Nothing listens on the port (termproxy gone or never started): pveproxy cannot connect."""


@dataclass
class Connection:
    """The TCP stream between pveproxy's websocket proxy and termproxy."""

    peer_port: int
    output: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _input: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed_by_client: bool = False

    def client_sent(self, data: bytes) -> None:
        if not self.closed_by_client:
            self._input.put_nowait(data)

    def client_closed(self) -> None:
        if not self.closed_by_client:
            self.closed_by_client = True
            self._input.put_nowait(None)

    def send(self, data: bytes) -> None:
        self.output.put_nowait(data)

    def close(self) -> None:
        """termproxy exited: the client's side sees the stream end."""
        self.output.put_nowait(None)


class TermproxyExit(Exception):
    """termproxy's own error (what main() prints to stderr before `exit(1)`)."""


class TermproxySession:
    def __init__(
        self,
        *,
        port: int,
        authpath: str,
        pinned_ticket: str,
        argv: list[str],
        program: Program,
        authenticate: Authenticator,
        time_scale: float = 1.0,
        accept_timeout: float = ACCEPT_TIMEOUT,
        ticket_timeout: float = TICKET_LINE_TIMEOUT,
    ) -> None:
        self.port = port
        self.authpath = authpath
        self.pinned_ticket = pinned_ticket
        self.argv = argv  # the whole termproxy command line, for the task's error
        self.program = program
        self.authenticate = authenticate
        self.time_scale = time_scale
        self.accept_timeout = accept_timeout
        self.ticket_timeout = ticket_timeout
        self.listening = True
        self.exit_code: int | None = None
        self._accepted: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self._next_peer_port = 40000 + port

    # -- pveproxy's side -----------------------------------------------------------------------

    def connect(self) -> Connection:
        """websocket_proxy's tcp_connect to localhost:port; termproxy accepts one client only."""
        if not self.listening or self._accepted.done():
            raise ConnectionRefused(f"connect to 'localhost:{self.port}' failed: Connection refused")
        conn = Connection(peer_port=self._next_peer_port)
        self._accepted.set_result(conn)
        return conn

    def kill(self) -> None:
        """The node goes down (the lab stops): the client's stream ends, termproxy and its command with it."""
        self.listening = False
        if self._accepted.done():
            conn = self._accepted.result()
            conn.close()
            conn.client_closed()

    # -- the vncshell task ---------------------------------------------------------------------

    async def run(self, log: Callable[[str], None]) -> None:
        """The worker's run_command(termproxy ...): returns on exit 0, raises TaskError on exit 1."""
        try:
            await self._serve(log)
            self.exit_code = 0
        except TermproxyExit as exc:
            self.exit_code = 1
            log(str(exc))
            raise TaskError(command_failed(self.argv, 1)) from None
        finally:
            self.listening = False

    async def _serve(self, log: Callable[[str], None]) -> None:
        try:
            conn = await asyncio.wait_for(asyncio.shield(self._accepted), self.accept_timeout)
        except TimeoutError:
            raise TermproxyExit("failed waiting for client: timed out") from None
        self.listening = False  # the listener is dropped once a client is in
        log(f"client connection: 127.0.0.1:{conn.peer_port}")
        try:
            authid, ticket, rest = await self._ticket_line(conn)
        except TicketLineError as exc:
            conn.close()
            raise TermproxyExit(f"failed reading ticket: {exc}") from None
        if ticket != self.pinned_ticket or not self.authenticate(authid, ticket, self.authpath, self.port):
            conn.close()
            raise TermproxyExit("authentication request failed")
        conn.send(b"OK")
        await self._relay(conn, rest)

    async def _ticket_line(self, conn: Connection) -> tuple[str, str, bytes]:
        buffer = b""
        deadline = time.monotonic() + self.ticket_timeout
        while True:
            parsed = parse_ticket_line(buffer)
            if parsed is not None:
                return parsed
            left = deadline - time.monotonic()
            if left <= 0:
                raise TicketLineError("timed out")
            try:
                data = await asyncio.wait_for(conn._input.get(), left)
            except TimeoutError:
                raise TicketLineError("timed out") from None
            if data is None:
                raise TicketLineError("connection closed before authentication")
            buffer += data

    async def _relay(self, conn: Connection, first: bytes) -> None:
        last_output = [time.monotonic()]

        def output(data: bytes) -> None:
            last_output[0] = time.monotonic()
            conn.send(data)

        tty = Tty(output, time_scale=self.time_scale)
        decoder = FrameDecoder()

        def feed(data: bytes) -> None:
            for event in decoder.feed(data):
                if isinstance(event, Resize):
                    tty.resize(event.cols, event.rows)
                else:
                    tty.input(event)

        program = asyncio.ensure_future(self.program.run(tty))
        if first:
            feed(first)
        reader = asyncio.ensure_future(conn._input.get())
        try:
            while True:
                done, _ = await asyncio.wait({program, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    data = reader.result()
                    if data is None:  # the client left: exit 0, the command gets SIGHUP
                        tty.hangup()
                        await asyncio.wait({program}, timeout=5)
                        return
                    feed(data)
                    reader = asyncio.ensure_future(conn._input.get())
                if program in done:
                    break
            if time.monotonic() - last_output[0] < FAST_EXIT:
                conn.close()
                raise TermproxyExit("error reading from pty: Input/output error (os error 5)")
            while await reader is not None:  # pings and typing go nowhere now
                reader = asyncio.ensure_future(conn._input.get())
            return
        finally:
            if not reader.done():
                reader.cancel()
            conn.close()
