"""The GitHub Actions workflows: actionlint (built with the engine by scripts/install-engine.sh, hence
in tests/unit/engine, which the --unit lane skips) finds nothing, and
no workflow can hand a fork's code the runner or the secrets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from hci_tools.pulumi_project import REPO, engine_bin

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"preview.yml", "deploy.yml"}


def test_actionlint_finds_nothing() -> None:
    actionlint = Path(engine_bin()) / "actionlint"
    assert actionlint.is_file(), f"{actionlint} missing: scripts/install-engine.sh builds it"
    out = subprocess.run(
        [str(actionlint), "-no-color", *map(str, WORKFLOWS)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_does_fail_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    out = subprocess.run(
        [str(Path(engine_bin()) / "actionlint"), "-no-color", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0 and "nope" in out.stdout


def test_no_pull_request_target_and_forks_are_skipped() -> None:
    for path in WORKFLOWS:
        data = yaml.safe_load(path.read_text())
        triggers = data.get(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
        assert "pull_request_target" not in triggers, path.name
    preview = yaml.safe_load((REPO / ".github" / "workflows" / "preview.yml").read_text())
    first = preview["jobs"]["stacks"]
    assert first["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert all("stacks" in job.get("needs", "stacks") for job in preview["jobs"].values())
