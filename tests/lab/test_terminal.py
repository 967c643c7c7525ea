"""The lab's node terminal on the wire, as PVE runs it (pve-manager PVE/API2/Nodes.pm termproxy and
vncwebsocket, proxmox/pve-xtermjs termproxy; docs/pve-compat.md): with the tests' own websocket client
(tests/lab/terminal_client.py), never the providers'. No Ceph daemon starts here: only packages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import websocket

from lab.pytest_plugin import Lab, LabFactory
from tests.lab.terminal_client import (
    Session,
    connect,
    install,
    login,
    nul,
    task_log,
    task_status,
    termproxy,
    token_session,
    wait_stopped,
)

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def pve8(lab_factory: LabFactory) -> Iterator[Lab]:
    lab = lab_factory("--pve-release", "8.3.0")
    yield lab
    lab_factory.stop(lab)


@pytest.fixture(scope="module")
def root(pve8: Lab) -> Session:
    return login(pve8)


def ceph_status(session: Session, node: str) -> tuple[int, str, dict[str, object]]:
    answer = session.get(f"/nodes/{node}/ceph/status")
    return answer.status_code, answer.reason, answer.json()


# -- what the current provider did fails: no websocket, space-joined options -----------------------


def test_waiting_on_the_upid_without_a_websocket_fails_after_10_s_and_installs_nothing(root: Session) -> None:
    start = time.monotonic()
    reply = termproxy(root, "pve1", opts="--version reef --repository no-subscription")  # the old way
    status = wait_stopped(root, reply["upid"], timeout=20)
    assert 9.5 < time.monotonic() - start < 15
    assert status["exitstatus"] == (
        f"command '/usr/bin/termproxy {reply['port']} --path /nodes/pve1 --perm Sys.Console --vncticket-endpoint "
        "--verify-port --ticket-fd 9 -- /usr/bin/pveceph install '--version reef --repository no-subscription'' "
        "failed: exit code 1"  # PVE::Tools::run_command's `command '$cmdstr' failed`, the last word quoted
    )
    assert "failed waiting for client: timed out" in task_log(root, reply["upid"])
    assert ceph_status(root, "pve1")[1] == "binary not installed: /usr/bin/ceph-mon"


def test_space_joined_options_are_one_argument_on_the_answering_node(root: Session) -> None:
    reply = termproxy(root, "pve1", opts="--version reef --repository no-subscription")
    terminal = connect(root, "pve1", reply)
    text = terminal.until_closed()
    assert text.startswith("OK")
    assert "Unknown option: version reef --repository no-subscription" in text
    assert "400 unable to parse option" in text
    assert ceph_status(root, "pve1")[1] == "binary not installed: /usr/bin/ceph-mon"
    # pveceph's output is on the terminal only; the task log has termproxy's lines.
    log = task_log(root, wait_stopped(root, reply["upid"])["upid"])
    assert not [line for line in log if "Unknown option" in line]


# -- termproxy's answer and its task --------------------------------------------------------------


def test_termproxy_for_another_node_is_answered_by_the_endpoints_node(root: Session) -> None:
    reply = termproxy(root, "pve2", opts=nul("--version", "reef"))
    assert set(reply) == {"user", "ticket", "port", "upid"}
    assert reply["user"] == "root@pam" and 5900 <= int(reply["port"]) <= 5999
    assert reply["ticket"].startswith("PVEVNC:")
    assert reply["upid"].startswith("UPID:pve1:") and ":vncshell::root@pam:" in reply["upid"]
    # The ticket is for /nodes/pve2: a websocket naming pve1 is refused, one naming pve2 is taken.
    url = f"{root.lab.endpoint}/api2/json/nodes/pve1/vncwebsocket"
    refused = root.http.get(url, params={"port": reply["port"], "vncticket": reply["ticket"]}, verify=root.lab.ca_cert)
    assert (refused.status_code, refused.reason) == (401, "permission denied - invalid PVEVNC ticket")
    terminal = connect(root, "pve2", reply)
    terminal.wait_for(r"^OK")
    terminal.close()
    assert wait_stopped(root, reply["upid"])["exitstatus"] == "OK"  # the client left: termproxy exits 0


def test_through_the_ssh_tunnel_space_joined_options_happen_to_work(root: Session) -> None:
    reply = termproxy(root, "pve3", opts="--version reef --repository no-subscription")
    terminal = connect(root, "pve3", reply)
    terminal.wait_for(r"Do you want to continue\? \[Y/n\] $")
    terminal.type("n\r")
    text = terminal.until_closed()
    assert "Abort." in text and "apt failed during ceph installation (256)" in text
    assert ceph_status(root, "pve3")[1] == "binary not installed: /usr/bin/ceph-mon"  # n: nothing installed


def test_a_wrong_ticket_line_ends_termproxy(root: Session) -> None:
    reply = termproxy(root, "pve1", opts=nul("--version", "reef"))
    terminal = connect(root, "pve1", reply, ticket_line=False)
    terminal.send_raw(b"root@pam:PVEVNC:00000000::forged\n")
    assert terminal.until_closed() == ""  # no OK, nothing run
    status = wait_stopped(root, reply["upid"])
    assert status["exitstatus"].endswith("failed: exit code 1")
    assert "authentication request failed" in task_log(root, reply["upid"])


def test_anyone_but_root_pam_gets_a_login_prompt_not_a_403(pve8: Lab) -> None:
    token = token_session(pve8)
    reply = termproxy(token, "pve1", opts=nul("--version", "reef"))
    assert reply["user"] == "root@pam!lab"
    terminal = connect(token, "pve1", reply)
    assert terminal.wait_for(r"pve1 login: $").startswith("OK")
    terminal.close()


# -- the install itself --------------------------------------------------------------------------


def test_the_wizards_way_installs_after_apts_question_and_reloads_the_daemons(root: Session, pve8: Lab) -> None:
    reply = termproxy(root, "pve1", opts=nul("--version", "reef", "--repository", "no-subscription"))
    terminal = connect(root, "pve1", reply)
    terminal.type("y\r")  # typed ahead of apt's question: apt flushes it
    screen = terminal.wait_for(r"Do you want to continue\? \[Y/n\] $")
    for line in ("HINT: The no-subscription repository", "update available package list", "start installation"):
        assert line in screen
    assert "The following NEW packages will be installed:" in screen
    time.sleep(0.5)
    assert ceph_status(root, "pve1")[1] == "binary not installed: /usr/bin/ceph-mon"  # the install flag
    terminal.type("\r")  # Enter: yes
    text = terminal.wait_for(r"reloading API to load new Ceph RADOS library\.\.\.")
    # The reload: a new connection waits in the backlog while the new master loads.
    fresh = requests.Session()
    fresh.trust_env = False
    start = time.monotonic()
    answer = fresh.get(f"{pve8.endpoint}/api2/json/version", verify=pve8.ca_cert, timeout=30)
    assert answer.status_code == 401 and time.monotonic() - start > 0.5
    assert "Setting up ceph-mon (18.2" in text and "installed Ceph 18.2 Reef successfully!" in text
    sources = {f["path"]: f for f in token_session(pve8).get("/nodes/pve1/apt/repositories").json()["data"]["files"]}
    (entry,) = sources["/etc/apt/sources.list.d/ceph.list"]["repositories"]
    assert entry["URIs"] == ["http://download.proxmox.com/debian/ceph-reef"] and entry["Components"] == [
        "no-subscription"
    ]
    status, reason, body = ceph_status(root, "pve1")
    assert (status, reason) == (
        500,
        "pveceph configuration not initialized - missing '/etc/pve/ceph.conf', missing '/etc/pve/ceph'",
    )
    assert "message" not in body  # 8.3.0: libpve-http-server-perl before 5.2.0
    # pveceph ends quietly after the reload: termproxy waits for the client to go, then exits 0.
    time.sleep(3)
    assert task_status(root, reply["upid"])["status"] == "running"
    terminal.close()
    assert wait_stopped(root, reply["upid"])["exitstatus"] == "OK"
    assert not [line for line in task_log(root, reply["upid"]) if "Ceph" in line]


def test_a_kept_alive_connection_of_the_old_workers_ends_after_the_reload(root: Session, pve8: Lab) -> None:
    keep = login(pve8)
    assert keep.get("/version").status_code == 200  # opened before the reload
    install(
        root, "pve2", "--version", "reef", "--repository", "no-subscription"
    )  # pve2's reload: the endpoint (pve1) keeps its workers
    assert keep.get("/version").headers.get("Connection", "").lower() != "close"
    install(
        root, "pve1", "--version", "reef", "--repository", "no-subscription"
    )  # pve1's own: the endpoint's pveproxy reloads
    time.sleep(1.6 + 5.0)  # the new master loads, sleeps 5 s, then TERMs the old workers
    assert keep.get("/version").headers.get("Connection", "").lower() == "close"


def test_the_release_is_checked_by_pveceph_on_the_terminal(root: Session) -> None:
    reply = termproxy(root, "pve3", opts=nul("--version", "tentacle"))
    text = connect(root, "pve3", reply).until_closed()
    assert "version: value 'tentacle' does not have a value in the enumeration 'quincy, reef, squid'" in text


def test_a_websocket_on_a_port_nobody_listens_on_is_dropped(root: Session) -> None:
    reply = termproxy(root, "pve1", opts=nul("--version", "reef"))
    connect(root, "pve1", reply).close()
    wait_stopped(root, reply["upid"])
    with pytest.raises((websocket.WebSocketException, OSError)):
        connect(root, "pve1", reply)


# -- what differs between releases (lab/releases.py; docs/pve-compat.md) -------------------------------


def test_9_1_5_offers_tentacle_as_a_technology_preview(lab_factory: LabFactory) -> None:
    lab = lab_factory("--pve-release", "9.1.5")
    try:
        root = login(lab)
        terminal = connect(root, "pve1", termproxy(root, "pve1", opts=nul("--version", "reef")))
        assert "'squid, tentacle'" in terminal.until_closed()  # reef is a PVE 8 release
        words = ("--version", "tentacle", "--repository", "no-subscription")
        terminal = connect(root, "pve1", termproxy(root, "pve1", opts=nul(*words)))
        terminal.wait_for(
            r"Ceph 20\.2 Tentacle is currently considered a technology preview for Proxmox VE - "
            r"continue \(y/N\)\? $"
        )
        terminal.type("\r")  # no answer is no
        assert "Aborting installation as requested" in terminal.until_closed()
        terminal = connect(root, "pve1", termproxy(root, "pve1", opts=nul("--version", "tentacle")))
        terminal.wait_for(r"Do you want to switch to the test repository \(Y/n\)\? $")  # from enterprise
        terminal.close()
        text = install(root, "pve2", *words, "--allow-experimental")
        assert "NOTE: installing experimental/tech-preview Ceph release 20.2 Tentacle!" in text
        assert "technology preview for Proxmox VE" not in text
        text = connect(root, "pve3", termproxy(root, "pve3", opts=nul("--repository", "manual"))).wait_for(
            r"continue \(y/N\)\? $"
        )
        assert "HINT: The manual repository option" in text  # `manual` exists from 9.0.11
        assert "This will install Ceph 19.2 Squid - continue (y/N)? " in text  # no --version: pveceph asks
        ceph_releases = login(lab).get("/nodes/pve1/ceph/releases")
        assert (ceph_releases.status_code, ceph_releases.reason) == (
            501,
            "Method 'GET /nodes/pve1/ceph/releases' not implemented",
        )
    finally:
        lab_factory.stop(lab)


def test_9_2_7_lists_the_ceph_releases_and_errors_carry_a_message(lab_factory: LabFactory) -> None:
    lab = lab_factory("--pve-release", "9.2.7")
    try:
        root = login(lab)
        rows = {r["release"]: r for r in root.get("/nodes/pve2/ceph/releases").json()["data"]}
        assert [name for name, r in rows.items() if r["available"]] == ["squid", "tentacle"]
        assert rows["tentacle"]["is-default"] == 1 and rows["tentacle"]["unsupported"] == 0
        assert rows["reef"]["available"] == 0 and rows["reef"]["version"] == "18.2"
        answer = root.get("/nodes/pve1/ceph/status")
        assert answer.json()["message"] == "binary not installed: /usr/bin/ceph-mon\n"
        version = token_session(lab).get("/nodes/pve3/version").json()["data"]
        assert (version["version"], version["release"]) == ("9.2.7", "9.2")
    finally:
        lab_factory.stop(lab)


def test_tfa_on_root_gives_the_partial_ticket(lab_factory: LabFactory) -> None:
    lab = lab_factory("--pve-release", "8.4.1", "--tfa")
    try:
        http = requests.Session()
        http.trust_env = False
        answer = http.post(
            f"{lab.endpoint}/api2/json/access/ticket",
            data={"username": "root@pam", "password": lab.root_password},
            verify=lab.ca_cert,
        ).json()["data"]
        assert answer["NeedTFA"] == 1 and answer["ticket"].startswith("PVE:!tfa!") and "cap" not in answer
        assert token_session(lab).get("/version").json()["data"]["version"] == "8.4.1"  # tokens are not asked
    finally:
        lab_factory.stop(lab)
