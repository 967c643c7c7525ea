"""termproxy's wire, byte for byte: which command a terminal runs, the ticket line, the input frames. Pure.

Sources: proxmox/pve-manager `PVE/API2/Nodes.pm` (`$shell_cmd_map`, `get_shell_command`, the
`termproxy` method), proxmox/pve-xtermjs `termproxy/src/main.rs` at 89075b0 (2.1.0; the same in 1.1.0,
9bf8b31, which PVE 8 ships): `read_ticket_line`, `process_queue`, `remove_number`; proxmox/pve-common
`PVE/Cmd.pm` (`to_string`, the `command '...' failed: exit code N` wording); proxmox/pve-cluster
`PVE/SSHInfo.pm` (the tunnel to a node other than the one answering).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

# Nodes.pm $shell_cmd_map: what `cmd` runs for root@pam; `allow_args` only for ceph_install.
SHELL_COMMANDS: dict[str, tuple[str, ...]] = {
    "login": ("/bin/login", "-f", "root"),
    "upgrade": ("/usr/bin/pveupgrade", "--shell"),
    "ceph_install": ("/usr/bin/pveceph", "install"),
}
ALLOW_ARGS = frozenset({"ceph_install"})
# main.rs do_main: listen_and_accept(.., Duration::new(10, 0)) and read_ticket_line(.., 10 s).
ACCEPT_TIMEOUT = 10.0
TICKET_LINE_TIMEOUT = 10.0
# proxmox-io ByteBuffer::new(), the buffer the ticket line is read into (unverified: 4 KiB).
TICKET_BUFFER = 4096


def split_cmd_opts(cmd_opts: str) -> list[str]:
    """Nodes.pm get_shell_command: `split("\\0", $args)` - Perl drops trailing empty fields."""
    parts = cmd_opts.split("\0")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def ssh_tunnel(node: str, ip: str) -> list[str]:
    """SSHInfo::ssh_info_to_command({ip, name}, '-t') plus the '--' Nodes.pm appends."""
    return [
        "/usr/bin/ssh",
        "-e",
        "none",
        "-o",
        "BatchMode=yes",
        "-o",
        f"HostKeyAlias={node}",
        "-o",
        f"UserKnownHostsFile=/etc/pve/nodes/{node}/ssh_known_hosts",
        "-o",
        "GlobalKnownHostsFile=none",
        "-t",
        f"root@{ip}",
        "--",
    ]


def shell_command(user: str, cmd: str | None, cmd_opts: str | None, tunnel: list[str] | None = None) -> list[str]:
    """get_shell_command: the argv termproxy runs after `--`.

    Anyone but root@pam (an API token too: its id is the "user") gets `/bin/login`, not an error.
    """
    tunneling = bool(tunnel)
    argv: list[str]
    if user == "root@pam":
        if cmd is not None and cmd in SHELL_COMMANDS:
            argv = [] if tunneling and cmd == "login" else list(SHELL_COMMANDS[cmd])
            if cmd_opts is not None and cmd in ALLOW_ARGS:
                argv += split_cmd_opts(cmd_opts)
        elif tunneling:
            argv = []
        else:
            argv = list(SHELL_COMMANDS["login"])
    else:
        argv = ["/bin/login"]
    return [*(tunnel or []), *argv]


def remote_argv(argv: list[str]) -> list[str]:
    """What runs on the far side of `ssh ... --`: ssh joins its arguments with spaces and the remote
    shell splits them again, so a space-joined `cmd-opts` works there but not on the answering node."""
    if "--" not in argv or argv[0] != "/usr/bin/ssh":
        return argv
    rest = argv[argv.index("--") + 1 :]
    return shlex.split(" ".join(rest))


def termproxy_argv(port: int, authpath: str, ticket_fd: int, command: list[str]) -> list[str]:
    """The command the vncshell worker runs (Nodes.pm termproxy $realcmd)."""
    return [
        "/usr/bin/termproxy",
        str(port),
        "--path",
        authpath,
        "--perm",
        "Sys.Console",
        "--vncticket-endpoint",
        "--verify-port",
        "--ticket-fd",
        str(ticket_fd),
        "--",
        *command,
    ]


def command_failed(argv: list[str], exit_code: int) -> str:
    """PVE::Cmd::run's error for a non-zero exit: the task's exit status."""
    return f"command '{' '.join(shlex.quote(a) for a in argv)}' failed: exit code {exit_code}"


class TicketLineError(Exception):
    """read_ticket_line's failures, worded as termproxy prints them after `failed reading ticket: `."""


def parse_ticket_line(buffer: bytes) -> tuple[str, str, bytes] | None:
    """(authid, ticket, rest) once a whole line is in; None while it is not.

    The line is `<authid>:<ticket>\\n`, split at the first colon; bytes after the newline stay queued
    as terminal input.
    """
    if b"\n" not in buffer:
        if len(buffer) >= TICKET_BUFFER:
            raise TicketLineError(f"authentication data is incomplete: {list(buffer[:TICKET_BUFFER])!r}")
        return None
    line, rest = buffer.split(b"\n", 1)
    if b":" not in line:
        raise TicketLineError("authentication data is invalid")
    authid, ticket = line.split(b":", 1)
    return authid.decode(errors="replace"), ticket.decode(errors="replace"), rest


@dataclass(frozen=True)
class Resize:
    cols: int
    rows: int


@dataclass
class FrameDecoder:
    """process_queue + remove_number, including their quirks.

    `0:LEN:DATA` writes LEN bytes to the pty (DATA may arrive in pieces); `1:COLS:ROWS:` resizes;
    any other first byte (`2`, the GUI's ping, too) is dropped one byte at a time. A number without
    its colon waits for more input, but the two bytes of `0:`/`1:` are already consumed, as in
    termproxy; more than 20 bytes without a colon are thrown away 20 at a time.
    """

    _buffer: bytearray = field(default_factory=bytearray)
    _remaining: int = 0
    _pending_resize: list[int] = field(default_factory=list)

    def feed(self, data: bytes) -> list[bytes | Resize]:
        self._buffer += data
        out: list[bytes | Resize] = []
        while self._buffer:
            if self._remaining:
                chunk = bytes(self._buffer[: self._remaining])
                del self._buffer[: len(chunk)]
                self._remaining -= len(chunk)
                out.append(chunk)
                continue
            event = self._next_message()
            if event is None:
                break
            if isinstance(event, Resize):
                out.append(event)
            else:
                self._remaining = event
        return out

    def _next_message(self) -> int | Resize | None:
        """One message header off the queue: a data length, a resize, or None (need more input)."""
        while True:
            if len(self._buffer) < 2:
                return None
            kind = (self._buffer[0] - ord("0")) % 256
            if kind == 0:
                del self._buffer[:2]
                length = self._number()
                if length is None:
                    return None
                if length:
                    return length
                continue
            if kind == 1:
                del self._buffer[:2]
                cols = self._number()
                if cols is None:
                    return None
                rows = self._number()
                if rows is None:
                    return None
                return Resize(cols, rows)
            del self._buffer[:1]

    def _number(self) -> int | None:
        while True:
            pos = self._buffer.find(b":")
            if pos >= 0:
                digits = bytes(self._buffer[:pos])
                del self._buffer[: pos + 1]
                try:
                    return int(digits.decode())
                except ValueError:  # remove_number: "error parsing number", message dropped
                    return None
            if len(self._buffer) > 20:
                del self._buffer[:20]
                continue
            return None


def data_frame(payload: bytes) -> bytes:
    """What xterm.js sends for typed input (`0:<byte length>:<bytes>`)."""
    return b"0:%d:" % len(payload) + payload


def resize_frame(cols: int, rows: int) -> bytes:
    return b"1:%d:%d:" % (cols, rows)


PING_FRAME = b"2"
