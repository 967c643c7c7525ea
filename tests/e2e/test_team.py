"""How a team works, end to end on the real engine: two lab stacks made by `hci_tools.lab_stack` on
two labs of different shapes, up at the same time; a config change in one shows in that stack's
preview only; the pull-request comment on real previews (an OSD removal warned about at the top,
with what the OSD holds read from the cluster; "No changes" for a no-op); shared state in an
S3-compatible bucket (radosgw on lab A's own Ceph) used by two people with their own PULUMI_HOME,
with Pulumi's lock refusing a concurrent up; and removing one lab stack leaving the other untouched.

One module, two labs, shared by every test; the tests run in order, each leaving the stacks as the
next expects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hci_tools.changed_stacks import tagged_stacks
from hci_tools.pulumi_project import PROGRAM_FILES, REPO, PulumiProject, engine_bin, pulumi_environment
from tests.e2e.s3_gateway import Gateway, start_gateway

pytestmark = pytest.mark.e2e

# Lab A: PVE 9, three nodes, pve1 with two disks (so one OSD can go). Lab B: PVE 8, four nodes.
SHAPES = {
    "lab-a": ["--nodes", "3", "--pve-version", "9", "--disks", "pve1=512G+512G,pve2=512G,pve3=1T"],
    "lab-b": ["--nodes", "4", "--pve-version", "8", "--disks", "512G"],
}
POLICY = str(REPO / "policy")


@dataclass
class Team:
    root: Path  # the project directory (a copy of the program), holding .labs/
    env: dict[str, str]  # person 1's environment: file backend, own PULUMI_HOME, the labs' CA bundle
    stacks: dict[str, PulumiProject]
    base: Path

    def lab_dir(self, stack: str) -> Path:
        return self.root / ".labs" / stack

    def ceph(self, stack: str, *args: str) -> Any:
        out = self.ceph_command(stack, *args, "--format", "json")
        return json.loads(out)

    def ceph_command(self, stack: str, *args: str) -> str:
        conf = json.loads((self.lab_dir(stack) / "lab.json").read_text())["ceph_conf"]
        out = subprocess.run(["ceph", "-c", conf, *args], capture_output=True, text=True, timeout=60, check=True)
        return out.stdout

    def lab_stack(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hci_tools.lab_stack", "--project", str(self.root), *args],
            cwd=REPO,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def copy_program(root: Path) -> None:
    root.mkdir(parents=True)
    for src in PROGRAM_FILES:
        if src.is_dir():
            shutil.copytree(src, root / src.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / src.name)
    (root / ".venv").symlink_to(REPO / ".venv")


def person_env(base: Path, name: str, root: Path) -> dict[str, str]:
    (base / name).mkdir(exist_ok=True)
    env = pulumi_environment(base / name, engine_bin(), {})
    for key in [k for k in env if k.startswith("PROXMOX_VE_") or k.startswith("PROXMOX_HCI_")]:
        del env[key]  # each stack's endpoint and credentials come from its own config, nothing else
    bundle = str(root / ".labs" / "ca-bundle.pem")
    env.update(SSL_CERT_FILE=bundle, REQUESTS_CA_BUNDLE=bundle)
    return env


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    base = tmp_path_factory.mktemp("team")
    root = base / "project"
    copy_program(root)
    env = person_env(base, "p1", root)
    t = Team(root=root, env=env, stacks={}, base=base)
    try:
        for name, options in SHAPES.items():
            made = t.lab_stack("up", name, *options)
            assert made.returncode == 0, made.stderr
            t.stacks[name] = PulumiProject(root=root, stack=name, env=env)
        # Both up at the same time: two stacks, two labs, one project.
        ups = {
            name: subprocess.Popen(
                ["pulumi", "up", "--yes", "--skip-preview", "--stack", name, "--non-interactive"],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in SHAPES
        }
        for name, proc in ups.items():
            output, _ = proc.communicate(timeout=1800)
            assert proc.returncode == 0, f"pulumi up {name}:\n{output[-6000:]}"
        yield t
    finally:
        for name in SHAPES:
            if t.lab_dir(name).exists():
                subprocess.run(
                    [sys.executable, "-m", "lab", "down", "--state-dir", str(t.lab_dir(name))],
                    cwd=REPO,
                    capture_output=True,
                    timeout=300,
                    check=False,
                )


def config_of(team: Team, stack: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((team.root / f"Pulumi.{stack}.yaml").read_text())
    return data


def changed_ops(proj: PulumiProject) -> dict[str, str]:
    return {k: op for k, op in proj.planned_ops().items() if op != "same"}


# -- 1. a stack per lab ------------------------------------------------------------------------------


def test_each_lab_stack_was_generated_from_its_labs_shape_and_is_up(team: Team) -> None:
    a, b = (team.ceph(s, "status") for s in SHAPES)
    assert a["osdmap"]["num_up_osds"] == 4 and b["osdmap"]["num_up_osds"] == 4
    assert a["health"]["status"] == b["health"]["status"] == "HEALTH_OK"
    assert len(team.ceph("lab-b", "osd", "tree")["nodes"]) - 4 == 4 + 1  # 4 OSDs, 4 hosts + root
    config_b = config_of(team, "lab-b")["config"]
    assert config_b["proxmox-hci:pveVersion"] == 8 and "proxmox-hci:ha" in config_b
    assert [len(n.get("osds", [])) for n in config_of(team, "lab-a")["config"]["proxmox-hci:nodes"]] == [2, 1, 1]
    # Endpoint in plain config, credentials as secrets (ciphertext in the file, never the value).
    assert config_b["proxmoxve:endpoint"].startswith("https://127.")
    assert set(config_b["proxmoxve:apiToken"]) == {"secure"}
    for name, pve in (("lab-a", "9"), ("lab-b", "8")):
        tags = json.loads(team.stacks[name].run("stack", "tag", "ls", "--json").stdout)
        assert tags["proxmox-hci:kind"] == "lab" and tags["proxmox-hci:pve"] == pve, tags


def test_a_stack_opts_in_to_up_on_merge_with_a_tag(team: Team) -> None:
    team.stacks["lab-a"].run("stack", "tag", "set", "proxmox-hci:up-on-merge", "true")
    assert tagged_stacks("proxmox-hci:up-on-merge=true", team.root, team.env) == {"lab-a"}
    assert tagged_stacks("proxmox-hci:kind=lab", team.root, team.env) == {"lab-a", "lab-b"}


def test_a_config_change_shows_in_that_stacks_preview_only(team: Team) -> None:
    a, b = team.stacks["lab-a"], team.stacks["lab-b"]
    original = a.read_config()
    try:
        a.edit_config(lambda c: c["proxmox-hci:pools"][0].update(minSize=3))
        assert changed_ops(a) == {
            "pulumi-python:dynamic/ceph:Pool::hci-ceph-pool-vm-pool": "update",
            "pulumi-python:dynamic/ceph:HealthGate::hci-ceph-gate-ready": "update",
        }
        assert changed_ops(b) == {}
    finally:
        a.write_config(original)


def test_lab_stacks_pass_the_policy_pack(team: Team) -> None:
    out = team.stacks["lab-b"].preview("--policy-pack", POLICY, "--expect-no-changes", check=False)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


# -- 2. the pull-request comment on real previews -----------------------------------------------------


def comment(team: Team, stack: str) -> str:
    """What the preview workflow does: the streamed JSON preview with the policy pack, then our command."""
    proj = team.stacks[stack]
    env = {**proj.env, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    out = subprocess.run(
        ["pulumi", "preview", "--stack", stack, "--diff", "--json", "--non-interactive", "--policy-pack", POLICY],
        cwd=team.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    preview = team.base / f"{stack}-preview.json"
    preview.write_text(out.stdout)
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "hci_tools.preview_comment",
            "--stack",
            stack,
            "--preview",
            str(preview),
            "--cwd",
            str(team.root),
        ],
        cwd=REPO,
        env=proj.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout


def test_a_no_op_preview_comment_says_no_changes(team: Team) -> None:
    text = comment(team, "lab-b")
    assert text.startswith("<!-- proxmox-hci-preview stack=lab-b -->")
    assert "**No changes.**" in text and "DATA" not in text


def test_an_osd_removal_is_warned_about_at_the_top_with_what_it_holds(team: Team, tmp_path: Path) -> None:
    a = team.stacks["lab-a"]
    original = a.read_config()
    try:

        def drop_sdc(config: dict[str, Any]) -> None:
            config["proxmox-hci:nodes"][0]["osds"] = [{"device": "/dev/sdb"}]

        a.edit_config(drop_sdc)
        started = time.monotonic()
        text = comment(team, "lab-a")
        seconds = time.monotonic() - started
    finally:
        a.write_config(original)
    lines = text.splitlines()
    warning_at = next(i for i, line in enumerate(lines) if "DELETES OR REPLACES DATA" in line)
    plan_at = next(i for i, line in enumerate(lines) if line.startswith("**Plan:**"))
    assert warning_at < plan_at and warning_at <= 4, text
    osd_line = next(line for line in lines if "on pve1 (/dev/sdc) is DELETED" in line)
    osds = {n["id"]: n for n in team.ceph("lab-a", "osd", "df")["nodes"]}
    osd_id = int(osd_line.split("OSD osd.", 1)[1].split(" ", 1)[0])
    assert f"holds {osds[osd_id]['pgs']} PGs" in osd_line, (osd_line, osds[osd_id])
    assert "read from the cluster at https://127." in text
    assert "| - delete | `hci-ceph-osd-pve1-sdc` | ceph:Osd |" in text
    print(f"\n--- comment for an OSD removal ({seconds:.1f} s for preview + comment) ---\n{text}")
    (team.base / "osd-removal-comment.md").write_text(text)


# -- 3. state the whole team shares --------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(team: Team) -> Iterator[Gateway]:
    info = json.loads((team.lab_dir("lab-a") / "lab.json").read_text())
    host = info["endpoint"].removeprefix("https://").split(":")[0]  # the lab's own loopback address
    gw = start_gateway(info["ceph_conf"], host, team.base / "rgw")
    try:
        yield gw
    finally:
        gw.stop()


def s3_person(team: Team, gw: Gateway, name: str) -> dict[str, str]:
    env = person_env(team.base, name, team.root)
    env.update(gw.env())
    env["PULUMI_BACKEND_URL"] = gw.backend_url
    return env


def pulumi(env: dict[str, str], cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if check:
        assert out.returncode == 0, f"pulumi {' '.join(args)}:\n{out.stdout[-4000:]}\n{out.stderr[-3000:]}"
    return out


def test_two_people_share_one_stack_in_an_s3_bucket_on_real_ceph(team: Team, gateway: Gateway, tmp_path: Path) -> None:
    p1, p2 = s3_person(team, gateway, "p1s3"), s3_person(team, gateway, "p2s3")
    root = team.root
    # Person 1 moves lab-b's state into the bucket (export from the file backend, import there).
    exported = tmp_path / "lab-b.json"
    exported.write_text(team.stacks["lab-b"].run("stack", "export").stdout)
    pulumi(p1, root, "stack", "init", "lab-b", "--secrets-provider", "passphrase")
    pulumi(p1, root, "stack", "import", "--stack", "lab-b", "--file", str(exported))
    pulumi(p1, root, "stack", "tag", "set", "proxmox-hci:kind", "lab", "--stack", "lab-b")

    # Person 2, another PULUMI_HOME, sees it: no changes.
    listed = json.loads(pulumi(p2, root, "stack", "ls", "--json").stdout)
    assert [s["name"].rsplit("/", 1)[-1] for s in listed] == ["lab-b"]
    pulumi(p2, root, "preview", "--stack", "lab-b", "--expect-no-changes")

    # Person 1 changes a pool (an update followed by the health gate); person 2's up meanwhile is refused.
    # Ceph's noout flag keeps the cluster at HEALTH_WARN, so person 1's up cannot pass the gate (and let go
    # of the lock) until the flag is cleared, however fast the pool update itself is.
    stack_file = root / "Pulumi.lab-b.yaml"
    original = stack_file.read_text()
    data = yaml.safe_load(original)
    data["config"]["proxmox-hci:pools"][0]["minSize"] = 3
    stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
    team.ceph_command("lab-b", "osd", "set", "noout")
    first = subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", "lab-b", "--non-interactive"],
        cwd=root,
        env=p1,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert first.stdout is not None
        seen = []
        for line in first.stdout:
            seen.append(line)
            if "updating" in line and "hci-ceph-pool-vm-pool" in line:
                break  # person 1's update is running: the lock is held until the gate passes
        second = pulumi(p2, root, "up", "--yes", "--skip-preview", "--stack", "lab-b", check=False)
        team.ceph_command("lab-b", "osd", "unset", "noout")
        output, _ = first.communicate(timeout=1800)
    finally:
        if first.poll() is None:
            first.kill()
        team.ceph_command("lab-b", "osd", "unset", "noout")
    assert first.returncode == 0, "".join(seen) + output
    assert second.returncode != 0
    refused = second.stdout + second.stderr
    assert "the stack is currently locked by 1 lock(s)" in refused, refused[-3000:]
    assert team.ceph("lab-b", "osd", "pool", "get", "vm-pool", "min_size")["min_size"] == 3

    # History and export are the same for both.
    history = json.loads(pulumi(p2, root, "stack", "history", "--stack", "lab-b", "--json").stdout)
    assert history[0]["kind"] == "update" and history[0]["result"] == "succeeded"
    assert history[0]["resourceChanges"].get("update", 0) >= 1
    one = json.loads(pulumi(p1, root, "stack", "export", "--stack", "lab-b").stdout)
    two = json.loads(pulumi(p2, root, "stack", "export", "--stack", "lab-b").stdout)
    assert one["deployment"]["resources"] == two["deployment"]["resources"]
    pulumi(p2, root, "preview", "--stack", "lab-b", "--expect-no-changes")
    stack_file.write_text(original)


# -- 4. removing one lab stack leaves the other untouched ------------------------------------------------


def test_removing_one_lab_stack_leaves_the_other_untouched(team: Team, gateway: Gateway) -> None:
    a = team.stacks["lab-a"]
    before = json.loads(a.run("stack", "export").stdout)["deployment"]["resources"]
    env = s3_person(team, gateway, "p1s3")  # lab-b's state is in the bucket now
    gone = team.lab_stack("down", "lab-b", env=env)
    assert gone.returncode == 0, gone.stderr
    assert not team.lab_dir("lab-b").exists() and not (team.root / "Pulumi.lab-b.yaml").exists()
    listed = json.loads(pulumi(env, team.root, "stack", "ls", "--json").stdout)
    assert listed == []
    after = json.loads(a.run("stack", "export").stdout)["deployment"]["resources"]
    assert after == before
    a.preview("--expect-no-changes")
    assert team.ceph("lab-a", "status")["osdmap"]["num_up_osds"] == 4
    assert os.environ.get("PROXMOX_VE_ENDPOINT") is None or a.env.get("PROXMOX_VE_ENDPOINT") is None
