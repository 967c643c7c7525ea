"""Run the real `pulumi` CLI on a copy of the program, against a lab, with a local file backend.

The program's files are copied into a temporary project directory (the virtualenv is linked),
so a caller (an e2e test, a bench) can edit the stack's config without touching the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PROGRAM_FILES = tuple(
    REPO / name for name in ("Pulumi.yaml", "__main__.py", "components", "dynamic_providers", "hci_config")
)
PULUMI_TIMEOUT = 1800


class PulumiCommandFailed(RuntimeError):
    """A `pulumi` command exited non-zero; the message holds the tail of its output."""


def engine_bin() -> Path:
    """The engine's bin directory, built (or found in the cache) by scripts/install-engine.sh.

    PROXMOX_HCI_ENGINE_BIN names one directly (scripts/test.sh sets it after its own set-up).
    """
    given = os.environ.get("PROXMOX_HCI_ENGINE_BIN")
    if given:
        return Path(given)
    out = subprocess.run(
        [str(REPO / "scripts" / "install-engine.sh")], capture_output=True, text=True, check=True, timeout=3600
    )
    return Path(out.stdout.strip().splitlines()[-1])


def install_plugins(env: dict[str, str], bin_dir: Path) -> None:
    """Our proxmoxve plugin into env's PULUMI_HOME, where Pulumi expects it (scripts/install-engine.sh
    keeps it off PATH, which would make Pulumi warn on every run)."""
    version = (REPO / "engine" / "proxmoxve-bridge" / "VERSION").read_text().strip()
    plugin = bin_dir.parent / "plugins" / "pulumi-resource-proxmoxve"
    subprocess.run(
        ["pulumi", "plugin", "install", "resource", "proxmoxve", version, "--file", str(plugin)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def lab_environment(state_dir: str) -> dict[str, str]:
    """What `eval "$(python -m lab env ...)"` would export."""
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "lab", "env", "--state-dir", state_dir],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    env = {}
    for line in out.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


def pulumi_environment(base: Path, bin_dir: Path, lab_env: dict[str, str]) -> dict[str, str]:
    """The engine on PATH, a file backend and a PULUMI_HOME under base (our proxmoxve plugin installed
    in it), the lab's credentials."""
    (base / "state").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(lab_env)
    env.update(
        {
            "PATH": f"{bin_dir}:{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{base / 'state'}",
            "PULUMI_HOME": str(base / "home"),
            "PULUMI_CONFIG_PASSPHRASE": "",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
    )
    install_plugins(env, bin_dir)
    return env


@dataclass
class PulumiProject:
    root: Path
    stack: str
    env: dict[str, str]

    @classmethod
    def create(
        cls,
        base: Path,
        stack: str,
        config: dict[str, Any],
        bin_dir: Path,
        lab_env: dict[str, str],
        files: tuple[Path, ...] = PROGRAM_FILES,
    ) -> PulumiProject:
        """A project in base/project from `files` (files and folders, copied by name), its stack initialised."""
        root = base / "project"
        root.mkdir(parents=True)
        for src in files:
            if src.is_dir():
                shutil.copytree(src, root / src.name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, root / src.name)
        (root / ".venv").symlink_to(REPO / ".venv")
        project = cls(root=root, stack=stack, env=pulumi_environment(base, bin_dir, lab_env))
        project.write_config(config)
        project.run("stack", "init")
        return project

    # -- config ---------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / f"Pulumi.{self.stack}.yaml"

    def read_config(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        return data

    def write_config(self, data: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False))

    def edit_config(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = self.read_config()
        change(data["config"])
        self.write_config(data)

    # -- commands -------------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, timeout: float = PULUMI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--stack", self.stack, "--non-interactive"]
        out = subprocess.run(
            cmd, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and out.returncode != 0:
            raise PulumiCommandFailed(
                f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-6000:]}\n{out.stderr[-4000:]}"
            )
        return out

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", *extra, check=check)

    def preview(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("preview", *extra, check=check)

    def preview_json(self) -> dict[str, Any]:
        """`pulumi preview --json`: the planned steps, with their operation per resource."""
        out = self.run("preview", "--json", "--diff")
        data: dict[str, Any] = json.loads(out.stdout)
        return data

    def outputs(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run("stack", "output", "--json").stdout)
        return data

    def planned_ops(self) -> dict[str, str]:
        """URN type + name -> the preview's operation (same, update, replace, create, delete, ...)."""
        steps = self.preview_json().get("steps", [])
        return {f"{s['urn'].split('::')[-2].rsplit('$', 1)[-1]}::{s['urn'].split('::')[-1]}": s["op"] for s in steps}
