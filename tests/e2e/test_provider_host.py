"""What the operator sees, with the real engine and our provider host, and no lab: one `pulumi up` of a
small program whose dynamic resources (tests/unit/providers/host_fixtures.py) refuse with our own
error, hit a genuine bug, and report progress. Seconds, not minutes: nothing here needs PVE.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dynamic_providers.host import BUG_NOTE
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin
from tests.unit.providers import host_fixtures

pytestmark = pytest.mark.e2e

PROGRAM = """\
import host_fixtures as f

f.Fixture(f.ChattyProvider(), "chatty", {})
f.Fixture(f.RefusingProvider(), "refused", {})
f.Fixture(f.BuggyProvider(), "buggy", {"pool": "vm-pool"})
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.CompletedProcess[str]]:
    src = tmp_path_factory.mktemp("program")
    # The project's own runtime block (interpreter, dynamicProviderHost), nothing else of Pulumi.yaml.
    runtime = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]
    (src / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "host-check", "runtime": runtime}))
    (src / "__main__.py").write_text(PROGRAM)
    (src / "host_fixtures.py").write_text(Path(host_fixtures.__file__).read_text())
    files = (src / "Pulumi.yaml", src / "__main__.py", src / "host_fixtures.py", REPO / "dynamic_providers")
    project = PulumiProject.create(
        tmp_path_factory.mktemp("host"), "host", {"config": {}}, engine_bin(), {}, files=files
    )
    # The three are created at once; without --continue-on-error the engine shuts its resource
    # monitor down on the first failure and may drop the other failure's diagnostic (seen in CI:
    # "Resource monitor has terminated, shutting down" and no block for `buggy`).
    yield project.up("--continue-on-error", check=False)


def diagnostics_of(output: str, name: str) -> str:
    """The block the final "Diagnostics:" section prints under one resource."""
    section = output.split("Diagnostics:", 1)[1]
    blocks = re.split(r"\n  (?=\S)", section)
    found = [b for b in blocks if b.startswith(f"pulumi-python:dynamic:Resource ({name}):")]
    assert len(found) == 1, section
    return found[0]


def test_our_error_is_one_clean_message_under_the_resource(up: subprocess.CompletedProcess[str]) -> None:
    assert up.returncode != 0
    block = diagnostics_of(up.stdout, "refused")
    assert host_fixtures.REFUSAL in " ".join(block.split())
    assert "Traceback" not in block and 'File "' not in block


def test_a_bug_keeps_its_traceback(up: subprocess.CompletedProcess[str]) -> None:
    block = diagnostics_of(up.stdout, "buggy")
    assert "Traceback (most recent call last):" in block and "KeyError: 'vm-pool'" in block
    assert " ".join(BUG_NOTE.split()) in " ".join(block.split())


def test_progress_shows_live_under_the_resource(up: subprocess.CompletedProcess[str]) -> None:
    # Non-interactive output prints the resource's row with its status each time it changes.
    rows = [line for line in up.stdout.splitlines() if " chatty creating " in line and "step " in line]
    steps = [re.sub(r".*(step \d of 3).*", r"\1", row) for row in rows]
    assert steps == ["step 1 of 3", "step 2 of 3", "step 3 of 3"], up.stdout
    assert "step 1 of 3" not in up.stdout.split("Diagnostics:", 1)[1]  # status, not a diagnostic


def test_no_plugin_path_warning(up: subprocess.CompletedProcess[str]) -> None:
    # Pulumi warns "using pulumi-resource-X from $PATH" for a plugin found on PATH that it does not
    # bundle; ours is in PULUMI_HOME's plugin cache instead (scripts/install-engine.sh).
    assert "from $PATH" not in up.stdout + up.stderr
