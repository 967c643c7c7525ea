"""The lab's termproxy model without HTTP: wire protocol, tty, pveceph install, the session's life."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from lab import releases
from lab.errors import TaskError
from lab.terminal import protocol
from lab.terminal.programs import Login, PvecephInstall, parse_install_args
from lab.terminal.service import InvalidTicket, TerminalService
from lab.terminal.session import Connection, ConnectionRefused, TermproxySession
from lab.terminal.tickets import VncTickets
from lab.terminal.tty import Tty

NOSUB_SQUID = ["--version", "squid", "--repository", "no-subscription"]


# -- protocol -------------------------------------------------------------------------------------


def test_cmd_opts_split_on_nul_only() -> None:
    wizard = protocol.shell_command("root@pam", "ceph_install", "--version\0reef\0--repository\0no-subscription")
    assert wizard == ["/usr/bin/pveceph", "install", "--version", "reef", "--repository", "no-subscription"]
    spaced = protocol.shell_command("root@pam", "ceph_install", "--version reef --repository no-subscription")
    assert spaced == ["/usr/bin/pveceph", "install", "--version reef --repository no-subscription"]


def test_non_root_gets_login_even_with_a_root_token() -> None:
    assert protocol.shell_command("root@pam!ci", "ceph_install", "--version\0reef") == ["/bin/login"]
    assert protocol.shell_command("alice@pve", None, None) == ["/bin/login"]
    assert protocol.shell_command("root@pam", None, None) == ["/bin/login", "-f", "root"]


def test_ssh_tunnel_rejoins_arguments_on_the_remote_side() -> None:
    tunnel = protocol.ssh_tunnel("pve2", "10.0.0.2")
    argv = protocol.shell_command("root@pam", "ceph_install", "--version reef", tunnel)
    assert argv[: len(tunnel)] == tunnel
    assert protocol.remote_argv(argv) == ["/usr/bin/pveceph", "install", "--version", "reef"]


def test_task_error_quotes_like_pve_cmd() -> None:
    argv = protocol.termproxy_argv(5900, "/nodes/pve1", 9, ["/usr/bin/pveceph", "install", "--version reef"])
    assert protocol.command_failed(argv, 1) == (
        "command '/usr/bin/termproxy 5900 --path /nodes/pve1 --perm Sys.Console --vncticket-endpoint "
        "--verify-port --ticket-fd 9 -- /usr/bin/pveceph install '--version reef'' failed: exit code 1"
    )


def test_ticket_line() -> None:
    assert protocol.parse_ticket_line(b"root@pam:PVEVNC:1") is None
    assert protocol.parse_ticket_line(b"root@pam:PVEVNC:1::sig\n0:1:y") == ("root@pam", "PVEVNC:1::sig", b"0:1:y")
    with pytest.raises(protocol.TicketLineError, match="authentication data is invalid"):
        protocol.parse_ticket_line(b"no-colon\n")


def test_frames_including_split_data_resize_and_ping() -> None:
    decoder = protocol.FrameDecoder()
    assert decoder.feed(b"0:5:he") == [b"he"]
    assert decoder.feed(b"llo2") == [b"llo"]  # a lone "2" waits for a second byte
    assert decoder.feed(b"1:120:40:0:1:\r") == [protocol.Resize(120, 40), b"\r"]
    assert decoder.feed(protocol.data_frame("ü".encode())) == ["ü".encode()]  # the length counts bytes


# -- tty and programs ----------------------------------------------------------------------------


@dataclass
class FakeNode:
    """InstallTarget for tests: records what pveceph did."""

    node: str = "pve1"
    has_subscription: bool = False
    release: str | None = None
    source: tuple[str, str] | None = None
    flag: bool = False
    dpkg_broken: bool = False
    reloads: int = 0
    events: list[str] = field(default_factory=list)

    def installed_release(self) -> str | None:
        return self.release

    def write_ceph_source(self, codename: str, repository: str) -> None:
        self.source = (codename, repository)

    def dpkg_interrupted(self) -> bool:
        return self.dpkg_broken

    def begin_install(self) -> None:
        self.flag = True

    def finish_install(self, codename: str) -> None:
        self.release, self.flag = codename, False

    def abort_install(self) -> None:
        self.flag = False

    def interrupt_install(self, dpkg_broken: bool) -> None:
        self.dpkg_broken = dpkg_broken

    def reload_daemons(self) -> None:
        self.reloads += 1


class Screen:
    def __init__(self) -> None:
        self.data = b""

    def __call__(self, data: bytes) -> None:
        self.data += data

    @property
    def text(self) -> str:
        return self.data.decode()


async def run_program(program: PvecephInstall | Login, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run a program, typing each answer once its question is on screen."""
    screen = Screen()
    tty = Tty(screen, time_scale=0.0)
    task = asyncio.ensure_future(program.run(tty))
    for question, answer in answers:
        for _ in range(200):
            if screen.text.rstrip().endswith(question) or task.done():
                break
            await asyncio.sleep(0.001)
        assert screen.text.rstrip().endswith(question), screen.text[-300:]
        tty.input(answer.encode())
    return await asyncio.wait_for(task, 5), screen.text


def test_install_on_83_with_the_wizards_options() -> None:
    node = FakeNode()
    release = releases.release("8.3.0")
    argv = ["--version", "reef", "--repository", "no-subscription"]
    code, text = asyncio.run(run_program(PvecephInstall(argv, release, node), [("[Y/n]", "\r")]))
    assert code == 0
    assert "\r\n" in text  # ONLCR
    assert "HINT: The no-subscription repository is not the best choice" in text
    assert "installed Ceph 18.2 Reef successfully!" in text
    assert node.source == ("reef", "no-subscription")
    assert node.release == "reef" and not node.flag and node.reloads == 1


def test_space_joined_options_fail_as_getopt_does() -> None:
    node = FakeNode()
    argv = ["--version reef --repository no-subscription"]
    code, text = asyncio.run(run_program(PvecephInstall(argv, releases.release("8.3.0"), node), []))
    assert code == 255
    assert "Unknown option: version reef --repository no-subscription\r\n400 unable to parse option" in text
    assert node.release is None and node.source is None


def test_apt_no_aborts_and_nothing_is_installed() -> None:
    node = FakeNode()
    argv = ["--version", "squid", "--repository", "no-subscription"]
    code, text = asyncio.run(run_program(PvecephInstall(argv, releases.release("9.0.10"), node), [("[Y/n]", "n\r")]))
    assert code == 255
    assert "Abort.\r\napt failed during ceph installation (256)" in text
    assert node.release is None and not node.flag


def test_answer_typed_before_apt_asks_is_flushed() -> None:
    async def scenario() -> tuple[int, str]:
        node = FakeNode()
        screen = Screen()
        tty = Tty(screen, time_scale=0.0)
        tty.input(b"y\r")  # typed ahead: apt's tcflush drops it
        task = asyncio.ensure_future(PvecephInstall(NOSUB_SQUID, releases.release("9.0.10"), node).run(tty))
        for _ in range(200):
            if screen.text.endswith("[Y/n] "):
                break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        assert not task.done() and screen.text.endswith("[Y/n] ")
        tty.hangup()
        return await task, screen.text

    code, _text = asyncio.run(scenario())
    assert code == 129


def test_version_and_repository_checked_per_release() -> None:
    with pytest.raises(Exception, match="value 'reef' does not have a value in the enumeration 'squid'"):
        parse_install_args(["--version", "reef"], releases.release("9.0.0"))
    with pytest.raises(Exception, match="repository: value 'manual'"):
        parse_install_args(["--repository", "manual"], releases.release("9.0.10"))
    assert parse_install_args(["--repository", "manual"], releases.release("9.0.11")).repository == "manual"


def test_tentacle_preview_prompts_on_915() -> None:
    release = releases.release("9.1.5")
    node = FakeNode()
    argv = ["--version", "tentacle", "--repository", "enterprise"]
    answers = [("(Y/n)?", "\r"), ("continue (y/N)?", "y\r"), ("[Y/n]", "y\r")]
    code, text = asyncio.run(run_program(PvecephInstall(argv, release, node), answers))
    assert code == 0, text
    assert "Do you want to switch to the test repository (Y/n)?" in text
    assert node.source == ("tentacle", "test")
    # --allow-experimental skips the preview question; 9.1.13 has none at all
    node2 = FakeNode()
    argv2 = ["--version", "tentacle", "--repository", "test", "--allow-experimental"]
    code2, text2 = asyncio.run(run_program(PvecephInstall(argv2, release, node2), [("[Y/n]", "\r")]))
    assert code2 == 0 and "NOTE: installing experimental/tech-preview Ceph release 20.2 Tentacle!" in text2


def test_hangup_during_unpack_leaves_flag_and_dpkg_broken() -> None:
    async def scenario() -> FakeNode:
        node = FakeNode()
        screen = Screen()
        tty = Tty(screen, time_scale=0.01)
        task = asyncio.ensure_future(PvecephInstall(NOSUB_SQUID, releases.release("9.0.10"), node).run(tty))
        while not screen.text.endswith("[Y/n] "):
            await asyncio.sleep(0.001)
        tty.input(b"\r")
        while "Unpacking" not in screen.text:
            await asyncio.sleep(0.001)
        tty.hangup()
        assert await task == 129
        return node

    node = asyncio.run(scenario())
    assert node.flag and node.dpkg_broken and node.release is None


def test_login_never_lets_anyone_in() -> None:
    code, text = asyncio.run(
        run_program(Login("pve1"), [("pve1 login:", "root\r"), ("Password:", "x\r"), ("pve1 login:", "\x04")])
    )
    assert code == 1 and "Login incorrect" in text


# -- the session -------------------------------------------------------------------------------


def make_session(
    program: PvecephInstall | Login, tickets: VncTickets, accept_timeout: float = 10.0
) -> TermproxySession:
    ticket = tickets.issue("root@pam", "/nodes/pve1", 5900)
    return TermproxySession(
        port=5900,
        authpath="/nodes/pve1",
        pinned_ticket=ticket,
        argv=protocol.termproxy_argv(5900, "/nodes/pve1", 9, ["/usr/bin/pveceph", "install"]),
        program=program,
        authenticate=lambda authid, t, path, port: tickets.verify(t, authid, path, port),
        time_scale=0.0,
        accept_timeout=accept_timeout,
    )


def test_no_client_within_the_window_fails_and_installs_nothing() -> None:
    async def scenario() -> tuple[list[str], FakeNode, str]:
        node = FakeNode()
        session = make_session(
            PvecephInstall(["--version", "squid"], releases.release("9.0.10"), node), VncTickets(), 0.05
        )
        log: list[str] = []
        with pytest.raises(TaskError) as failed:
            await session.run(log.append)
        with pytest.raises(ConnectionRefused):
            session.connect()
        return log, node, str(failed.value)

    log, node, error = asyncio.run(scenario())
    assert log == ["failed waiting for client: timed out"]
    assert error.startswith("command '/usr/bin/termproxy 5900") and error.endswith("failed: exit code 1")
    assert node.release is None


async def next_output(conn: Connection) -> bytes:
    chunk = await asyncio.wait_for(conn.output.get(), 5)
    assert chunk is not None, "the terminal closed"
    return chunk


def test_whole_session_ok_then_the_client_closes() -> None:
    async def scenario() -> tuple[list[str], bytes, FakeNode, int | None]:
        tickets = VncTickets()
        node = FakeNode()
        session = make_session(PvecephInstall(NOSUB_SQUID, releases.release("9.0.10"), node), tickets)
        log: list[str] = []
        task = asyncio.ensure_future(session.run(log.append))
        await asyncio.sleep(0)
        conn = session.connect()
        conn.client_sent(f"root@pam:{session.pinned_ticket}\n".encode())
        seen = b""
        while not seen.endswith(b"[Y/n] "):
            seen += await next_output(conn)
        conn.client_sent(protocol.data_frame(b"\r"))
        while b"reloading API" not in seen:
            seen += await next_output(conn)
        await asyncio.sleep(0.05)
        assert not task.done()  # pveceph ended quietly: termproxy waits for the client
        conn.client_closed()
        await asyncio.wait_for(task, 5)
        return log, seen, node, session.exit_code

    log, seen, node, exit_code = asyncio.run(scenario())
    assert seen.startswith(b"OK")
    assert log == ["client connection: 127.0.0.1:45900"]  # nothing of pveceph in the task log
    assert node.release == "squid" and exit_code == 0


def test_wrong_ticket_is_refused() -> None:
    async def scenario() -> list[str]:
        tickets = VncTickets()
        session = make_session(Login("pve1"), tickets)
        log: list[str] = []
        task = asyncio.ensure_future(session.run(log.append))
        await asyncio.sleep(0)
        conn = session.connect()
        other = tickets.issue("root@pam", "/nodes/pve2", 5900)
        conn.client_sent(f"root@pam:{other}\n".encode())
        with pytest.raises(TaskError):
            await asyncio.wait_for(task, 5)
        return log

    assert asyncio.run(scenario())[-1] == "authentication request failed"


def test_vnc_ticket_binds_user_path_port_and_age() -> None:
    now = [1000.0]
    tickets = VncTickets(clock=lambda: now[0])
    ticket = tickets.issue("root@pam", "/nodes/pve1", 5901)
    assert tickets.verify(ticket, "root@pam", "/nodes/pve1", 5901)
    assert not tickets.verify(ticket, "root@pam", "/nodes/pve2", 5901)
    assert not tickets.verify(ticket, "root@pam", "/nodes/pve1", 5902)
    assert not tickets.verify(ticket, "root@pam!ci", "/nodes/pve1", 5901)
    now[0] += 40
    assert not tickets.verify(ticket, "root@pam", "/nodes/pve1", 5901)


def test_enterprise_without_subscription_fails_in_apt() -> None:
    node = FakeNode()
    code, text = asyncio.run(run_program(PvecephInstall(["--version", "squid"], releases.release("9.0.10"), node), []))
    assert code == 255
    assert "WARN: Enterprise repository selected, but no active subscription!" in text
    assert "401  Unauthorized" in text and "apt failed during ceph installation (25600)" in text
    assert node.release is None and not node.flag


def test_service_remote_node_runs_through_ssh_and_names_the_answering_node() -> None:
    async def scenario() -> None:
        nodes = {"pve1": FakeNode("pve1"), "pve2": FakeNode("pve2")}
        service = TerminalService(
            "pve1",
            releases.release("8.3.0"),
            node_ip=lambda n: {"pve1": "10.0.0.1", "pve2": "10.0.0.2"}[n],
            target_for=nodes.__getitem__,
            may_console=lambda authid, path: authid == "root@pam",
        )
        # space-joined options: through ssh they are split again (works), on the answering node they are not
        remote = service.open("root@pam", "pve2", "ceph_install", "--version reef --repository no-subscription")
        local = service.open("root@pam", "pve1", "ceph_install", "--version reef --repository no-subscription")
        assert remote.port == 5900 and local.port == 5901
        assert "ssh" in remote.session.argv[11] and isinstance(remote.session.program, PvecephInstall)
        assert remote.session.program.argv == ["--version", "reef", "--repository", "no-subscription"]
        assert local.session.program.argv == ["--version reef --repository no-subscription"]  # type: ignore[attr-defined]
        token = service.open("root@pam!ci", "pve1", "ceph_install", "--version\0reef")
        assert isinstance(token.session.program, Login)
        with pytest.raises(InvalidTicket):
            service.verify_websocket("root@pam", "pve1", remote.port, remote.ticket)  # ticket is for /nodes/pve2
        service.verify_websocket("root@pam", "pve2", remote.port, remote.ticket)
        conn = service.connect(remote.port)
        with pytest.raises(ConnectionRefused):
            service.connect(remote.port)  # one client per terminal
        conn.client_closed()

    asyncio.run(scenario())
