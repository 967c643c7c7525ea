"""The processes under the engine, with the real engine against a lab: progress in `pulumi up`'s output,
no secret in any state, log or pickle (even at TF_LOG=TRACE), a clean refusal, and a kill drill.

One lab and one stack for the module: Ceph on three nodes with four OSDs (pve1 has two disks, so
one can be drained), one pool, and the APT repositories (so our proxmoxve plugin talks to PVE).
The tests run in order; the kill drill is last, as it leaves the stack as a killed run leaves it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hci_tools.pulumi_project import PulumiProject, engine_bin, lab_environment
from hci_tools.run_processes import RUN_ID_VARIABLE, new_run_id, processes_of
from lab.pytest_plugin import Lab, LabFactory

pytestmark = pytest.mark.e2e

FOUR = {"pve1": ["/dev/sdb", "/dev/sdc"], "pve2": ["/dev/sdb"], "pve3": ["/dev/sdb"]}
KILLED_RUN_GRACE = 30  # seconds after the kill by which nothing of the run may be alive


def stack_config(osds: dict[str, list[str]], pools: bool = True) -> dict[str, Any]:
    return {
        "config": {
            "proxmox-hci:pveVersion": 9,
            "proxmox-hci:publicNetwork": "env:PROXMOX_HCI_PUBLIC_NETWORK",
            "proxmox-hci:aptRepositories": True,
            "proxmox-hci:protect": False,
            "proxmox-hci:monitors": ["pve1", "pve2", "pve3"],
            "proxmox-hci:managers": ["pve1", "pve2"],
            "proxmox-hci:nodes": [{"name": n, "osds": [{"device": d} for d in devs]} for n, devs in osds.items()],
            "proxmox-hci:pools": [{"name": "vm-pool", "size": 3, "minSize": 2}] if pools else [],
        }
    }


@dataclass
class Stack:
    lab: Lab
    project: PulumiProject
    first_up: subprocess.CompletedProcess[str]

    @property
    def secrets(self) -> dict[str, str]:
        """What must never show: the API token's secret part and root@pam's password."""
        return {"token secret": self.lab.info.api_token.split("=", 1)[1], "root password": self.lab.root_password}


@pytest.fixture(scope="module")
def stack(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    lab = lab_factory("--disks", "pve1=512G+512G,pve2=512G,pve3=1T")
    base, lab_env = tmp_path_factory.mktemp("safety"), lab_environment(lab.info.state_dir)
    project = PulumiProject.create(base, "safety", stack_config(FOUR), engine_bin(), lab_env)
    yield Stack(lab, project, project.up())
    lab_factory.stop(lab)


def ceph_json(lab: Lab, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def stopped(lab: Lab, osd_id: int) -> bool:
    """The removal's stop task for the OSD has ended (PVE's srvstop of osd.N)."""
    return any(t["type"] == "srvstop" and t["id"] == f"osd.{osd_id}" and t.get("exitstatus") for t in lab.tasks())


def hits(text: str | bytes, secrets: dict[str, str]) -> dict[str, int]:
    data = text.encode() if isinstance(text, str) else text
    return {name: data.count(value.encode()) for name, value in secrets.items() if data.count(value.encode())}


# -- what the operator sees ------------------------------------------------------------------------


def test_up_shows_progress_of_long_steps(stack: Stack) -> None:
    """A wait shows what it sees as the resource's status, live (waiting.wait_until via progress.py):
    here the new pool's PGs on their way to active+clean. (Task log lines are shown the same way
    while a task runs; the lab writes its task logs when a task ends, so tests/unit covers those.)"""
    rows = [line for line in stack.first_up.stdout.splitlines() if ":Pool " in line and " creating (" in line]
    waits = [row for row in rows if "waiting for PGs active+clean after changing pool 'vm-pool': " in row]
    # PG states with their counts, as Ceph reports them at that moment (e.g. "32 unknown, 1 peering").
    assert waits and all(re.search(r"\d+ [a-z_]+(\+[a-z_]+)*", row.split("': ", 1)[1]) for row in waits), rows


def test_no_plugin_path_warning(stack: Stack) -> None:
    assert "from $PATH" not in stack.first_up.stdout + stack.first_up.stderr


def test_a_refusal_is_one_clean_message(stack: Stack, tmp_path: Path) -> None:
    """A pool that holds data is not deleted: UnsafeToProceed, shown as its message alone."""
    lab, project = stack.lab, stack.project
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(4 * 2**20))
    lab.rbd("import", str(data), "vm-pool/vm-900-disk-0")
    project.write_config(stack_config(FOUR, pools=False))
    try:
        out = project.up(check=False)
    finally:
        project.write_config(stack_config(FOUR))
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "vm-pool" in text and "Traceback" not in text, text[-3000:]
    assert "vm-pool" in lab.ceph("osd", "pool", "ls").split()


# -- secrets ----------------------------------------------------------------------------------------


def test_no_secret_in_state_exports_or_pickled_providers(stack: Stack) -> None:
    project = stack.project
    plain = project.run("stack", "export").stdout
    shown = project.run("stack", "export", "--show-secrets").stdout
    assert hits(plain, stack.secrets) == {} and hits(shown, stack.secrets) == {}
    pickles = [
        base64.b64decode(res["outputs"]["__provider"])
        for res in json.loads(shown)["deployment"]["resources"]
        if isinstance(res.get("outputs", {}).get("__provider"), str)
    ]
    assert len(pickles) >= 10  # every dynamic resource carries its pickled provider
    assert [hits(p, stack.secrets) for p in pickles if hits(p, stack.secrets)] == []


def test_no_secret_in_the_engines_verbose_logs(stack: Stack) -> None:
    out = stack.project.run("preview", "--logtostderr", "-v=9", "--logflow")
    assert len(out.stderr) > 100_000  # the engine really logged (RPCs, plugin output)
    assert hits(out.stdout + out.stderr, stack.secrets) == {}


def traced_refresh(project: PulumiProject, **env: str | None) -> str:
    """`pulumi refresh` with TF_LOG=TRACE, every log on (bpg logs each HTTP request with its headers)."""
    saved = dict(project.env)
    project.env["TF_LOG"] = "TRACE"
    for key, value in env.items():
        if value is None:
            project.env.pop(key, None)
        else:
            project.env[key] = value
    try:
        out = project.run("refresh", "--yes", "--debug", "--logtostderr", "-v=9", "--logflow")
    finally:
        project.env.clear()
        project.env.update(saved)
    return out.stdout + out.stderr


def test_tf_log_trace_keeps_the_token_out_of_our_plugins_logs(stack: Stack) -> None:
    text = traced_refresh(stack.project)
    assert hits(text, stack.secrets) == {}
    token_id = stack.lab.info.api_token.split("=", 1)[0]
    assert f"PVEAPIToken={token_id}=[REDACTED]" in text  # the header was logged, without its secret


def test_tf_log_trace_keeps_the_password_and_ticket_out_of_our_plugins_logs(stack: Stack) -> None:
    """Without a token bpg logs in with root@pam's password: the login body, the ticket it gets back, and
    the ticket cookie and CSRF token of every later request are all logged, and all redacted."""
    text = traced_refresh(stack.project, PROXMOX_VE_API_TOKEN=None)
    assert hits(text, stack.secrets) == {}
    assert "PVEAuthCookie=[REDACTED]" in text
    assert re.search(r"(?i)csrfpreventiontoken\W+\[REDACTED\]", text)
    assert not re.search(r"PVE:root@pam:[0-9A-F]{8}::", text)  # no ticket anywhere


# -- the kill drill ---------------------------------------------------------------------------------


def test_a_killed_up_leaves_nothing_running_and_destroys_nothing(stack: Stack) -> None:
    """SIGKILL to `pulumi up`'s process group (what CI's cancel does) in the middle of an OSD removal.

    The removal drains the OSD, stops it, waits until Ceph reports it down, then destroys it. With
    Ceph's `nodown` flag set, the wait between the stop and the destroy lasts until we unset it: the
    kill lands there, and the flag goes right after, so a provider still running would see the OSD
    down and destroy it, unobserved. Nothing may: no process of the run is alive 30 s after the
    kill, the lab received no write after it, and the OSD is still there.
    """
    lab, project = stack.lab, stack.project
    victim = next(int(d["osdid"]) for d in lab.api().nodes("pve1").disks.list.get() if d["devpath"] == "/dev/sdc")
    # Data in every PG, so the drain has something to move (and shows it): 512 writes spread over a
    # 1 GiB image's 256 objects.
    lab.rbd("create", "vm-pool/drill", "--size", "1G")
    lab.rbd(
        "bench", "--io-type", "write", "--io-size", "64K", "--io-total", "32M", "--io-pattern", "rand", "vm-pool/drill"
    )
    lab.ceph("osd", "set", "nodown")
    drill = stack_config({**FOUR, "pve1": ["/dev/sdb"]})
    # The health gates would wait for HEALTH_OK, which the flag rules out (OSDMAP_FLAGS).
    drill["config"]["proxmox-hci:healthRequire"] = "no_degraded_pgs"
    project.write_config(drill)
    run_id = new_run_id()
    log = project.root / "killed-up.log"
    with log.open("w") as sink:
        up = subprocess.Popen(
            ["pulumi", "up", "--yes", "--skip-preview", "--stack", project.stack, "--non-interactive"],
            cwd=project.root,
            env={**project.env, RUN_ID_VARIABLE: run_id},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a CI job's
        )
    try:
        deadline = time.monotonic() + 300
        while not stopped(lab, victim):  # drained and stopped: now it waits for Ceph to report it down
            assert up.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # well inside the wait
        assert len(processes_of(run_id)) >= 4  # pulumi, language host, program, provider host(s)
        os.killpg(up.pid, signal.SIGKILL)
        killed = time.monotonic()
        up.wait()
        lab.control("POST", "/lab/requests/reset")
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        lab.ceph("osd", "unset", "nodown")
    try:
        left = processes_of(run_id)
        while left and time.monotonic() - killed < KILLED_RUN_GRACE:
            time.sleep(0.5)
            left = processes_of(run_id)
        destroys = [t["upid"] for t in lab.tasks() if t["type"] == "cephdestroyosd"]
        assert left == [], f"alive {time.monotonic() - killed:.0f} s after the kill: {left}; destroys: {destroys}"
        # The OSD is reported down by now: a provider still going would have destroyed it. None did:
        # no write reached the lab after the kill, and the OSD is still there.
        time.sleep(max(0.0, killed + KILLED_RUN_GRACE - time.monotonic()))
        writes = {k: n for k, n in lab.request_counts().items() if k[0] != "GET"}
        assert writes == {}, writes
        assert victim in [n["id"] for n in ceph_json(lab, "osd", "tree")["nodes"]]
        assert not [t for t in lab.tasks() if t["type"] == "cephdestroyosd"], log.read_text()[-3000:]
        # While it ran, the drain showed what it waited for (osd_drain.py via progress.py).
        assert re.search(rf"waiting for osd\.{victim} to drain \(\d+ PGs still mapped to it\)", log.read_text())
    finally:
        for pid, _ in processes_of(run_id):  # whatever of the run survived, if this failed
            os.kill(pid, signal.SIGKILL)
