"""The terminals of the node that answers the lab's API: what `POST termproxy` starts and
`GET vncwebsocket` reaches. The HTTP handlers only parse and call this.

PVE/API2/Nodes.pm: the port is the first free one of 5900-5999 (`PVE::Tools::next_vnc_port`), the
ticket is for (user, /nodes/{node}, port), and a `{node}` other than the answering one runs its
command through ssh. `vncwebsocket` checks the ticket for the caller (401 `permission denied - invalid
PVEVNC ticket`) and pveproxy connects to the local port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.releases import PveRelease
from lab.terminal.programs import InstallTarget, Login, PvecephInstall
from lab.terminal.protocol import remote_argv, shell_command, ssh_tunnel, termproxy_argv
from lab.terminal.session import Connection, ConnectionRefused, Program, TermproxySession
from lab.terminal.tickets import VncTickets
from lab.terminal.tty import Tty

VNC_PORTS = range(5900, 6000)
TICKET_FD = 9  # the pipe's fd number in the worker; it only shows in the task's error


class NoFreePort(Exception):
    """next_unused_port: `unable to find free port (5900-5999)`."""


class InvalidTicket(Exception):
    """verify_vnc_ticket failed: 401."""


class Unmodelled:
    """A command the lab's terminals do not model (a root shell, pveupgrade): says so and exits."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv

    async def run(self, tty: Tty) -> int:
        tty.write(f"lab: this terminal does not model {' '.join(self.argv) or 'a login shell'}\n")
        return 1


@dataclass
class OpenedTerminal:
    user: str
    ticket: str
    port: int
    session: TermproxySession


class TerminalService:
    def __init__(
        self,
        answering_node: str,
        release: PveRelease,
        node_ip: Callable[[str], str],
        target_for: Callable[[str], InstallTarget],
        may_console: Callable[[str, str], bool],
        time_scale: float = 1.0,
        tickets: VncTickets | None = None,
    ) -> None:
        self.answering_node = answering_node
        self.release = release
        self.node_ip = node_ip
        self.target_for = target_for
        self.may_console = may_console  # (authid, path) -> holds Sys.Console there
        self.time_scale = time_scale
        self.tickets = tickets or VncTickets()
        self.sessions: dict[int, TermproxySession] = {}

    def _free_port(self) -> int:
        for port in VNC_PORTS:
            session = self.sessions.get(port)
            if session is None or session.exit_code is not None:
                return port
        raise NoFreePort(f"unable to find free port ({VNC_PORTS[0]}-{VNC_PORTS[-1]})")

    def program_for(self, node: str, argv: list[str]) -> Program:
        words = remote_argv(argv)
        if words[:2] == ["/usr/bin/pveceph", "install"]:
            return PvecephInstall(words[2:], self.release, self.target_for(node))
        if words == ["/bin/login"]:
            return Login(node)
        return Unmodelled(words)

    def open(self, user: str, node: str, cmd: str | None, cmd_opts: str | None) -> OpenedTerminal:
        """POST /nodes/{node}/termproxy, answered by `answering_node`."""
        port = self._free_port()
        authpath = f"/nodes/{node}"
        ticket = self.tickets.issue(user, authpath, port)
        tunnel = ssh_tunnel(node, self.node_ip(node)) if node != self.answering_node else None
        command = shell_command(user, cmd, cmd_opts, tunnel)
        session = TermproxySession(
            port=port,
            authpath=authpath,
            pinned_ticket=ticket,
            argv=termproxy_argv(port, authpath, TICKET_FD, command),
            program=self.program_for(node, command),
            authenticate=self.authenticate,
            time_scale=self.time_scale,
        )
        self.sessions[port] = session
        return OpenedTerminal(user=user, ticket=ticket, port=port, session=session)

    def authenticate(self, authid: str, ticket: str, path: str, port: int) -> bool:
        """POST /access/vncticket privs=Sys.Console, as termproxy asks it."""
        return self.tickets.verify(ticket, authid, path, port) and self.may_console(authid, path)

    def shutdown(self) -> None:
        for session in self.sessions.values():
            session.kill()

    def verify_websocket(self, user: str, node: str, port: int, vncticket: str) -> None:
        """GET /nodes/{node}/vncwebsocket's own code: the ticket must be the caller's, for that node and port."""
        if not self.tickets.verify(vncticket, user, f"/nodes/{node}", port):
            raise InvalidTicket("permission denied - invalid PVEVNC ticket")

    def connect(self, port: int) -> Connection:
        """pveproxy's websocket_proxy: tcp_connect to localhost:port."""
        session = self.sessions.get(port)
        if session is None:
            raise ConnectionRefused(f"connect to 'localhost:{port}' failed: Connection refused")
        return session.connect()
