"""Kill `pulumi up` (SIGKILL to its process group, as CI's cancel does) in the middle of a provider's wait;
count what of the run is still alive afterwards, and whether the step after the wait still ran.

The program's one dynamic resource (tests/unit/providers/host_fixtures.py DrainThenDestroyProvider)
waits WAIT seconds in waiting.wait_until, then "destroys" (writes a marker file). The kill lands
KILL_AFTER seconds into that wait. No lab: what is measured is the engine's processes.

Usage: .venv/bin/python bench/killed_runs.py [--kills 3] [--sdk-host] [--engine-bin DIR]
  --sdk-host   run providers under the SDK's `python -m pulumi.dynamic`, as before dynamic_providers/host.py
  --engine-bin an engine built by another revision of scripts/install-engine.sh (e.g. the shared cache)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.e2e.processes import RUN_ID_VARIABLE, new_run_id, processes_of  # noqa: E402
from tests.e2e.workspace import PROGRAM_FILES, pulumi_environment  # noqa: E402

WAIT = 20.0  # the provider's wait before its destroy
KILL_AFTER = 5.0  # seconds into the wait
LOOK_AFTER = 30.0  # seconds after the kill at which survivors are counted

PROGRAM = """\
import host_fixtures as f

f.Fixture(f.DrainThenDestroyProvider(), "drain", {{"wait": {wait}, "marker": {marker!r}}})
"""


def project(base: Path, bin_dir: Path, sdk_host: bool) -> tuple[Path, dict[str, str], Path]:
    root = base / "project"
    root.mkdir(parents=True)
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    if sdk_host:
        runtime["options"].pop("dynamicProviderHost", None)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "killed-runs", "runtime": runtime}))
    marker = base / "destroyed"
    (root / "__main__.py").write_text(PROGRAM.format(wait=WAIT, marker=str(marker)))
    (root / "host_fixtures.py").write_text((ROOT / "tests/unit/providers/host_fixtures.py").read_text())
    dynamic = next(p for p in PROGRAM_FILES if p.name == "dynamic_providers")
    subprocess.run(["cp", "-r", str(dynamic), str(root)], check=True)
    (root / ".venv").symlink_to(ROOT / ".venv")
    env = pulumi_environment(base, bin_dir, {})
    plugin = bin_dir.parent / "plugins" / "pulumi-resource-proxmoxve"
    if plugin.exists():  # older engines keep it on PATH instead
        version = (ROOT / "engine/proxmoxve-bridge/VERSION").read_text().strip()
        cmd = ["pulumi", "plugin", "install", "resource", "proxmoxve", version, "--file", str(plugin)]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    subprocess.run(["pulumi", "stack", "init", "bench", "--non-interactive"], cwd=root, env=env, check=True)
    return root, env, marker


def one_kill(bin_dir: Path, sdk_host: bool) -> tuple[int, list[str], bool, float]:
    base = Path(tempfile.mkdtemp(prefix="bench-killed-"))
    root, env, marker = project(base, bin_dir, sdk_host)
    run_id = new_run_id()
    with (base / "up.log").open("w") as log:
        up = subprocess.Popen(
            ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", "bench"],
            cwd=root,
            env={**env, RUN_ID_VARIABLE: run_id},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # The wait has begun once the provider host runs; then KILL_AFTER more seconds.
    deadline = time.monotonic() + 120
    while not any("pulumi.dynamic" in cmd or "dynamic_providers.host" in cmd for _, cmd in processes_of(run_id)):
        if up.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"pulumi up never reached the provider:\n{(base / 'up.log').read_text()[-3000:]}")
        time.sleep(0.2)
    time.sleep(KILL_AFTER)
    before = len(processes_of(run_id))
    os.killpg(up.pid, signal.SIGKILL)
    killed = time.monotonic()
    up.wait()
    while processes_of(run_id) and time.monotonic() - killed < LOOK_AFTER:
        time.sleep(0.1)
    last_exit = time.monotonic() - killed
    time.sleep(max(0.0, killed + LOOK_AFTER - time.monotonic()))
    left = [cmd for _, cmd in processes_of(run_id)]
    # Whether the destroy after the wait still ran, unobserved: look once the wait would have ended.
    time.sleep(max(0.0, WAIT - KILL_AFTER - LOOK_AFTER + 2))
    destroyed = marker.exists()
    for pid, _ in processes_of(run_id):  # leave nothing behind ourselves
        os.kill(pid, signal.SIGKILL)
    return before, left, destroyed, last_exit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--sdk-host", action="store_true")
    parser.add_argument("--engine-bin", type=Path)
    args = parser.parse_args()
    from tests.e2e.workspace import engine_bin

    bin_dir = args.engine_bin or engine_bin()
    print(f"engine {bin_dir}; provider host: {'SDK pulumi.dynamic' if args.sdk_host else 'dynamic_providers.host'}")
    total_left, destroys = 0, 0
    for n in range(1, args.kills + 1):
        before, left, destroyed, last_exit = one_kill(bin_dir, args.sdk_host)
        total_left += len(left)
        destroys += destroyed
        gone = f"the last exited {last_exit:.1f} s after the kill" if not left else f"{len(left)} alive"
        print(
            f"kill {n}: {before} processes at the kill; {gone} ({LOOK_AFTER:.0f} s looked); "
            f"destroy ran after the kill: {destroyed}"
        )
        for cmd in left:
            print(f"    {cmd[:140]}")
    print(f"total: {total_left} processes left by {args.kills} kills; {destroys} destroys after the kill")


if __name__ == "__main__":
    main()
