"""Kill `pulumi up` (SIGKILL to its process group, as CI's cancel does) in the middle of a provider's wait;
count what of the run is still alive afterwards, and whether the step after the wait still ran.

The program's one dynamic resource (bench/killed_runs_project/drain_fixture.py DrainThenDestroyProvider)
waits WAIT seconds in waiting.wait_until, then "destroys" (writes a marker file). The kill lands
KILL_AFTER seconds into that wait. No lab: what is measured is the engine's processes.

Usage: .venv/bin/python -m bench.killed_runs [--kills 3] [--sdk-host] [--engine-bin DIR]
  --sdk-host   run providers under the SDK's `python -m pulumi.dynamic`, as before dynamic_providers/host.py
  --engine-bin another engine of this layout (bin/, plugins/), e.g. one built by an older install-engine.sh
               with its bin/pulumi-resource-proxmoxve moved to plugins/
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from hci_tools.pulumi_project import REPO, engine_bin, pulumi_environment
from hci_tools.run_processes import RUN_ID_VARIABLE, new_run_id, processes_of

WAIT = 20.0  # the provider's wait before its destroy
KILL_AFTER = 5.0  # seconds into the wait
LOOK_AFTER = 30.0  # seconds after the kill at which survivors are counted

PROGRAM = """\
import drain_fixture as f

f.Drain(f.DrainThenDestroyProvider(), "drain", {{"wait": {wait}, "marker": {marker!r}}})
"""


def project(base: Path, bin_dir: Path, sdk_host: bool) -> tuple[Path, dict[str, str], Path]:
    root = base / "project"
    root.mkdir(parents=True)
    runtime = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]
    if sdk_host:
        runtime["options"].pop("dynamicProviderHost", None)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "killed-runs", "runtime": runtime}))
    marker = base / "destroyed"
    (root / "__main__.py").write_text(PROGRAM.format(wait=WAIT, marker=str(marker)))
    shutil.copy2(REPO / "bench" / "killed_runs_project" / "drain_fixture.py", root / "drain_fixture.py")
    shutil.copytree(
        REPO / "dynamic_providers", root / "dynamic_providers", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".venv").symlink_to(REPO / ".venv")
    env = pulumi_environment(base, bin_dir, {})
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
