"""The providers' release check, install dialogue and terminal client (websocket-client) without a lab."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import WSMsgType, web

from dynamic_providers import install_driver
from dynamic_providers.logic import install_dialogue as dialogue
from dynamic_providers.logic import pve_releases as rel
from dynamic_providers.pve.terminal import Terminal, TerminalError, TerminalTicket, data_frame, websocket_url

# -- release check ---------------------------------------------------------------------------------


def test_reef_on_83_and_quincy_are_fine() -> None:
    plan = rel.plan_install((8, 3, 0), "reef", "no-subscription", False)
    assert plan.options == ["--version", "reef", "--repository", "no-subscription"]
    assert rel.plan_install((8, 4, 14), "quincy", "enterprise", False).release == "quincy"


@pytest.mark.parametrize(
    ("version", "release", "repository", "experimental", "message"),
    [
        ((9, 0, 3), "reef", "no-subscription", False, "offers squid; set cephVersion"),
        ((8, 4, 1), "tentacle", "no-subscription", False, "offers quincy, reef, squid"),
        ((9, 0, 10), "squid", "manual", False, "repository 'manual'"),
        ((9, 1, 7), "tentacle", "test", False, "set cephAllowExperimental: true"),
        ((9, 1, 7), "tentacle", "enterprise", True, "set repository to 'test' or 'no-subscription'"),
        ((8, 2, 7), "squid", "no-subscription", False, "supports PVE 8.3.0 and later"),
    ],
)
def test_refusals_name_the_key_and_the_fix(
    version: rel.PveVersion, release: str, repository: str, experimental: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rel.plan_install(version, release, repository, experimental)


def test_preview_release_opted_in_passes_allow_experimental() -> None:
    plan = rel.plan_install((9, 1, 5), "tentacle", "test", True)
    assert plan.options[-1] == "--allow-experimental"
    assert "--allow-experimental" not in rel.plan_install((9, 1, 13), "tentacle", "test", True).options


def test_node_releases_win_over_the_table() -> None:
    rows = [
        {"release": "squid", "version": "19.2", "available": 0, "is-default": 0, "unsupported": 0},
        {"release": "tentacle", "version": "20.2", "available": 1, "is-default": 1, "unsupported": 0},
    ]
    offers = rel.offered_by_node(rows)
    with pytest.raises(ValueError, match="its ceph/releases offers tentacle"):
        rel.plan_install((9, 2, 7), "squid", "no-subscription", False, offers)


def test_pool_statistics_bug_versions() -> None:
    assert rel.pool_status_reports_last_pool((8, 4, 21))
    assert rel.pool_status_reports_last_pool((9, 1, 11))
    assert not rel.pool_status_reports_last_pool((9, 1, 12))
    assert rel.pool_status_reports_last_pool(None)
    assert rel.parse_pve_version("8.3.0") == (8, 3, 0) and rel.parse_pve_version("nope") is None


# -- dialogue ----------------------------------------------------------------------------------------


def test_terminal_text_lines_prompt_and_escapes() -> None:
    text = dialogue.TerminalText()
    assert text.feed(b"\x1b[?2004hstart install") == []
    assert text.feed(b"ation\r\nReading package lists... 0%\rReading package lists... Done\r\n") == [
        "start installation",
        "Reading package lists... 0%",
        "Reading package lists... Done",
    ]
    text.feed(b"Do you want to continue? [Y/n] ")
    assert dialogue.reply(text.pending, dialogue.Answers()) == "y\r"
    text.feed(b"\xc3")  # half a UTF-8 character waits for the rest
    assert text.feed(b"\xbc\r\n")[-1].endswith("ü")


def test_replies() -> None:
    answers = dialogue.Answers(allow_experimental=False)
    preview = "Ceph 20.2 Tentacle is currently considered a technology preview for Proxmox VE - continue (y/N)? "
    assert dialogue.reply(preview, answers) == "n\r"
    assert dialogue.reply(preview, dialogue.Answers(allow_experimental=True)) == "y\r"
    assert dialogue.reply("Do you want to switch to the test repository (Y/n)? ", answers) == "n\r"
    assert dialogue.reply("Reading package lists...", answers) is None
    with pytest.raises(dialogue.LoginPrompt):
        dialogue.reply("pve1 login: ", answers)


def test_steps_and_result() -> None:
    lines = ["update available package list", "start installation", "Unpacking ceph (18.2.7-pve1) ..."]
    assert dialogue.step_of(lines) == "unpacking the packages"
    done = [*lines, "installed Ceph 18.2 Reef successfully!", "reloading API to load new Ceph RADOS library..."]
    assert dialogue.installed_release(done) == "reef" and dialogue.finished(done)


# -- terminal client against a small websocket server of the test's own -------------------------------


class FakeTermproxy:
    """A vncwebsocket that checks the cookie and ticket, answers OK and echoes typed data back."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.received: list[bytes] = []
        self.protocols: list[str] = []

    async def handler(self, request: web.Request) -> web.StreamResponse:
        if request.cookies.get("PVEAuthCookie") != "good" or request.query.get("vncticket") != "PVEVNC:1::s+g":
            return web.Response(status=401, reason="permission denied - invalid PVEVNC ticket")
        ws = web.WebSocketResponse(protocols=("binary",))
        await ws.prepare(request)
        self.protocols.append(ws.ws_protocol or "")
        first = await ws.receive()
        if first.data != b"root@pam:PVEVNC:1::s+g\n":
            await ws.close()
            return ws
        await ws.send_bytes(b"OK")
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.received.append(msg.data)
                if msg.data.startswith(b"0:"):
                    await ws.send_bytes(msg.data.split(b":", 2)[2])
        return ws

    def start(self) -> None:
        async def serve() -> None:
            app = web.Application()
            app.router.add_get("/api2/json/nodes/{node}/vncwebsocket", self.handler)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(5)


@pytest.fixture()
def termproxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTermproxy]:
    server = FakeTermproxy()
    server.start()
    # plain ws:// for the test server: the client builds wss:// URLs for PVE
    monkeypatch.setattr(
        "dynamic_providers.pve.terminal.websocket_url",
        lambda endpoint, node, ticket: websocket_url(endpoint, node, ticket).replace("wss://", "ws://"),
    )
    yield server
    server.loop.call_soon_threadsafe(server.loop.stop)


def test_url_quotes_the_ticket() -> None:
    ticket = TerminalTicket("root@pam", "PVEVNC:1::s+g/=", 5901, "UPID:x")
    assert websocket_url("https://pve1:8006", "pve1", ticket) == (
        "wss://pve1:8006/api2/json/nodes/pve1/vncwebsocket?port=5901&vncticket=PVEVNC%3A1%3A%3As%2Bg%2F%3D"
    )


def test_open_authenticates_and_frames_input(termproxy: FakeTermproxy) -> None:
    ticket = TerminalTicket("root@pam", "PVEVNC:1::s+g", 5900, "UPID:x")
    terminal = Terminal.open(f"https://127.0.0.1:{termproxy.port}", "pve1", ticket, "good", False)
    terminal.send("y\r")
    out = b""
    while b"y\r" not in out:
        chunk = terminal.read(2)
        assert chunk is not None
        out += chunk
    terminal.close()
    assert termproxy.protocols == ["binary"]
    assert termproxy.received[0] == b"1:160:40:" and termproxy.received[1] == data_frame(b"y\r")


def test_refused_websocket_says_so(termproxy: FakeTermproxy) -> None:
    ticket = TerminalTicket("root@pam", "PVEVNC:1::s+g", 5900, "UPID:x")
    with pytest.raises(TerminalError, match="refused"):
        Terminal.open(f"https://127.0.0.1:{termproxy.port}", "pve1", ticket, "bad-cookie", False)


# -- the install driver ------------------------------------------------------------------------------


class ScriptedTerminal:
    """A terminal that plays output in steps; each step waits for the expected answer, if any."""

    def __init__(self, steps: list[tuple[bytes, str | None]], close_at_end: bool = False) -> None:
        self.steps = steps
        self.sent: list[str] = []
        self.rest = b"OK"[2:]
        self.close_at_end = close_at_end
        self.closed = False

    def read(self, timeout: float) -> bytes | None:
        if not self.steps:
            return None if self.close_at_end else b""
        output, expected = self.steps[0]
        if expected is not None and expected not in self.sent:
            if output == b"":
                return b""
            self.steps[0] = (b"", expected)
            return output
        self.steps.pop(0)
        return output

    def send(self, text: str) -> None:
        self.sent.append(text)

    def close(self) -> None:
        self.closed = True


def test_driver_answers_apt_streams_lines_and_stops_at_the_reload() -> None:
    terminal = ScriptedTerminal(
        [
            (b"update available package list\r\nstart installation\r\n", None),
            (b"Do you want to continue? [Y/n] ", "y\r"),
            (b"\r\nUnpacking ceph ...\r\n\r\ninstalled Ceph 18.2 Reef successfully!\r\n", None),
            (b"\r\nreloading API to load new Ceph RADOS library...\r\n", None),
        ]
    )
    seen: list[str] = []
    transcript = install_driver.drive(terminal, dialogue.Answers(), seen.append, timeout=30)
    assert terminal.sent == ["y\r"]
    assert transcript.finished and transcript.release == "reef" and not transcript.closed
    assert "start installation" in seen and "installed Ceph 18.2 Reef successfully!" in seen


def test_driver_reports_a_closed_terminal_and_its_step() -> None:
    terminal = ScriptedTerminal(
        [(b"start installation\r\nAbort.\r\napt failed during ceph installation (256)\r\n", None)], close_at_end=True
    )
    transcript = install_driver.drive(terminal, dialogue.Answers(), lambda _line: None, timeout=30)
    assert transcript.closed and not transcript.finished
    message = install_driver.failure_message(
        "pve2", transcript, "not-installed", "pveceph install --version reef --repository no-subscription", None
    )
    assert "pve2 failed at step: installing the packages" in message
    assert "| apt failed during ceph installation (256)" in message
    assert message.endswith("run on pve2: pveceph install --version reef --repository no-subscription")


def test_driver_stops_at_a_login_prompt() -> None:
    terminal = ScriptedTerminal([(b"pve1 login: ", None)])
    transcript = install_driver.drive(terminal, dialogue.Answers(), lambda _line: None, timeout=30)
    assert transcript.login_prompt == "pve1 login:"
    assert "root@pam" in install_driver.failure_message("pve1", transcript, "unknown", "pveceph install", None)


def test_probe_reads_status_as_the_wizard_and_rides_out_the_reload() -> None:
    assert install_driver.classify_status(None) == "installed"
    assert install_driver.classify_status("pveceph configuration not initialized - missing '/etc/pve/ceph.conf'") == (
        "installed"
    )
    assert install_driver.classify_status("rados_connect failed - No such file or directory") == "installed"
    assert install_driver.classify_status("binary not installed: /usr/bin/ceph-mon") == "not-installed"
    answers = iter(["Connection aborted.", "Connection refused", "rados_connect failed - x"])
    naps: list[float] = []
    verdict, last = install_driver.probe_until_settled(lambda: next(answers), naps.append)
    assert verdict == "installed" and last == "rados_connect failed - x" and len(naps) == 2
