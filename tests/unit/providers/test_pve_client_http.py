"""The client against fakepve (the real PVE schema, in process): auth, TLS, errors, retries, tasks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dynamic_providers.errors import MissingCredential, PveApiError, PveAuthError, PveUnreachable, TaskFailed
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import Credentials
from dynamic_providers.pve.retry import RetryPolicy

LOCK_TIMEOUT = "cfs-lock 'file-ceph_conf' error: got lock request timeout"


def test_token_call_with_verified_tls(client: PveClient, fakepve: Any, seen: Any) -> None:
    assert [row["node"] for row in client.nodes()] == ["pve1"]
    assert seen("POST", "/access/ticket") == []  # the token needs no login


def test_tls_verified_by_default(token_creds: Credentials, sleeps: Any) -> None:
    # Without the fake's CA the system trust store is used, and it does not know the fake.
    creds = dataclasses.replace(token_creds, ca_bundle=None)
    with pytest.raises(PveUnreachable, match="SSLError"):
        PveClient(creds, sleep=sleeps).nodes()
    assert sleeps == []  # a certificate failure is not retried


def test_insecure_skips_verification(token_creds: Credentials) -> None:
    creds = dataclasses.replace(token_creds, ca_bundle=None, insecure=True)
    assert PveClient(creds).nodes()


def test_wrong_token_is_an_auth_error(token_creds: Credentials, fakepve: Any, sleeps: Any) -> None:
    fakepve.apitokens["root@pam!ci"] = "something-else"
    with pytest.raises(PveAuthError) as info:
        PveClient(token_creds, sleep=sleeps).nodes()
    assert info.value.status == 401 and sleeps == []


def test_root_only_call_with_token_only_names_the_missing_credential(client: PveClient, seen: Any) -> None:
    with pytest.raises(MissingCredential) as info:
        client.osd_create("pve1", dev="/dev/sdb")
    text = str(info.value)
    assert "creating an OSD on pve1" in text
    assert "proxmoxve:username=root@pam" in text and "proxmoxve:password" in text and "PROXMOX_VE_PASSWORD" in text
    assert seen() == []  # refused before any request


def test_root_only_call_uses_a_password_ticket(full_creds: Credentials, fakepve: Any, seen: Any) -> None:
    client = PveClient(full_creds)
    client.nodes()  # token
    upid = client.wipe_disk("pve1", "/dev/sdb")  # root@pam ticket
    assert upid.startswith("UPID:pve1:")
    assert seen("POST", "/access/ticket") == [("POST", "/access/ticket")]
    bodies = [body for method, path, body in fakepve.requests if path.endswith("/access/ticket")]
    assert b"username=root%40pam" in bodies[0]


def test_non_root_username_is_reported(token_creds: Credentials) -> None:
    creds = dataclasses.replace(token_creds, username="admin@pve", password="pw")
    with pytest.raises(MissingCredential, match="'admin@pve'"):
        PveClient(creds).osd_destroy("pve1", 3)


def test_pve_message_and_param_errors_are_kept(client: PveClient, sleeps: Any) -> None:
    with pytest.raises(PveApiError) as info:
        client.ceph_init("pve1", network="not-a-cidr")
    assert info.value.status == 400
    assert "CIDR" in info.value.errors["network"]
    assert "network:" in str(info.value)  # the per-field error reaches the user
    assert sleeps == []


def test_real_500_is_not_retried(client: PveClient, fakepve: Any, seen: Any, sleeps: Any) -> None:
    fakepve.fail("GET", "/nodes", 500, "boom - a real error")
    with pytest.raises(PveApiError, match="boom - a real error"):
        client.nodes()
    assert len(seen("GET", "/nodes")) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("status", "message", "html"),
    [
        (502, "<html><body>502 Bad Gateway</body></html>", True),  # a reverse proxy's page
        (595, "No route to host", False),  # PVE's proxy between nodes
        (500, LOCK_TIMEOUT, False),  # the ceph.conf lock was busy
    ],
)
def test_transient_faults_are_retried(
    client: PveClient, fakepve: Any, seen: Any, sleeps: Any, status: int, message: str, html: bool
) -> None:
    fakepve.fail("GET", "/nodes", status, message, html=html, times=2)
    assert client.nodes()
    assert len(seen("GET", "/nodes")) == 3 and len(sleeps) == 2


def test_retries_are_bounded(client: PveClient, fakepve: Any, seen: Any) -> None:
    fakepve.fail("GET", "/nodes", 502, "<html>bad gateway</html>", html=True)
    with pytest.raises(PveApiError) as info:
        client.nodes()
    assert info.value.html and info.value.status == 502
    assert len(seen("GET", "/nodes")) == 4  # RetryPolicy(attempts=4)


def test_dropped_connections_are_retried(token_creds: Credentials, fakepve: Any, sleeps: Any) -> None:
    fakepve.flaky_network(drop_rate=0.3, seed=7)
    client = PveClient(token_creds, policy=RetryPolicy(attempts=8, jitter=0), sleep=sleeps)
    for _ in range(15):
        assert client.nodes()
    assert sleeps  # some requests were dropped and tried again


def test_task_wait_returns_on_ok(client: PveClient, fakepve: Any) -> None:
    fakepve.add_vm(100, "web", node="pve1")
    upid = client.call("POST", "/nodes/pve1/qemu/100/status/start")
    assert client.wait_task(upid, 10, "starting VM 100").exitstatus == "OK"


@pytest.mark.fakepve(time_scale=0.02)
def test_task_wait_polls_a_running_task(client: PveClient, fakepve: Any, seen: Any) -> None:
    vm = fakepve.add_vm(100, "web", node="pve1")
    vm.start_secs = 20  # 0.4 s real
    upid = client.call("POST", "/nodes/pve1/qemu/100/status/start")
    client.sleep = __import__("time").sleep  # real waiting for a real running task
    result = client.wait_task(upid, 10, "starting VM 100")
    assert result.exitstatus == "OK"
    assert len(seen("GET", "/status")) >= 3
    assert result.seconds < 1.5


def test_task_failure_carries_pve_message_and_log(client: PveClient, fakepve: Any) -> None:
    vm = fakepve.add_vm(100, "web", node="pve1")
    vm.start_error = "kvm: -drive file=rbd:vm/vm-100-disk-0: error connecting: Connection timed out"
    upid = client.call("POST", "/nodes/pve1/qemu/100/status/start")
    with pytest.raises(TaskFailed) as info:
        client.wait_task(upid, 10, "starting VM 100")
    text = str(info.value)
    assert "starting VM 100" in text and "qmstart 100" in text and "node pve1" in text
    assert "error connecting: Connection timed out" in text
    assert "TASK ERROR" in text  # the log tail


def test_run_task_starts_again_after_a_lock_timeout(client: PveClient, fakepve: Any, sleeps: Any) -> None:
    fakepve.add_vm(100, "web", node="pve1")
    starts = []
    failing = iter([True, True, False])

    def start() -> str:
        vm = fakepve.vm(100)
        vm.status = "stopped"
        vm.start_error = LOCK_TIMEOUT if next(failing) else None
        starts.append(1)
        return str(client.call("POST", "/nodes/pve1/qemu/100/status/start"))

    assert client.run_task(start, 10, "starting VM 100").exitstatus == "OK"
    assert len(starts) == 3 and len(sleeps) == 2


def test_run_task_does_not_repeat_real_failures(client: PveClient, fakepve: Any) -> None:
    vm = fakepve.add_vm(100, "web", node="pve1")
    vm.start_error = "no such volume"
    starts = []

    def start() -> str:
        starts.append(1)
        return str(client.call("POST", "/nodes/pve1/qemu/100/status/start"))

    with pytest.raises(TaskFailed, match="no such volume"):
        client.run_task(start, 10, "starting VM 100")
    assert len(starts) == 1


def test_first_online_skips_offline_nodes(client: PveClient, fakepve: Any) -> None:
    fakepve.add_node("pve2")
    fakepve.add_node("pve3")
    fakepve.set_node_offline("pve2")
    assert client.first_online(["pve2", "pve3", "pve1"]) == "pve3"


def test_cluster_wide_read_falls_back_when_the_node_is_down(client: PveClient, fakepve: Any, seen: Any) -> None:
    fakepve.add_node("pve2")
    fakepve.set_node_offline("pve1")
    assert client.via_any("pve1", lambda node: (client.disks_list(node), node)[1]) == "pve2"
    assert len(seen("GET", "/nodes/pve1/disks/list")) == 4  # retried, then given up on


def test_cluster_wide_read_does_not_hide_real_errors(client: PveClient, fakepve: Any) -> None:
    fakepve.add_node("pve2")
    fakepve.fail("GET", "/nodes/pve1/disks/list", 500, "disk enumeration broke")
    with pytest.raises(PveApiError, match="disk enumeration broke"):
        client.via_any("pve1", client.disks_list)
