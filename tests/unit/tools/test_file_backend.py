"""The file backend's repair after a kill (hci_tools/file_backend.py) and resume's use of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynamic_providers.errors import ProxmoxHciError
from hci_tools import file_backend
from hci_tools.resume import Pulumi, repair_state


def test_the_root_of_a_file_backend_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/op")
    assert file_backend.file_backend_root("file:///srv/state") == Path("/srv/state")
    assert file_backend.file_backend_root("file://~") == Path("/home/op")
    assert file_backend.file_backend_root("file://~/states/a%20b") == Path("/home/op/states/a b")
    assert file_backend.file_backend_root("s3://bucket/path") is None
    assert file_backend.file_backend_root("https://api.pulumi.com") is None


def stack_files(root: Path, attrs: str) -> Path:
    stacks = root / ".pulumi" / "stacks" / "proxmox-hci"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text("{}")
    (stacks / "dev.json.attrs").write_text(attrs)
    (stacks / "dev.json.bak.attrs").write_text('{"user.cache_control":""}')
    return stacks


def test_only_an_empty_attributes_file_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = stack_files(tmp_path, "")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    assert file_backend.repair() == [stacks / "dev.json.attrs"]
    assert sorted(p.name for p in stacks.iterdir()) == ["dev.json", "dev.json.bak.attrs"]
    assert file_backend.repair() == []  # nothing more to do


def test_a_whole_state_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = stack_files(tmp_path, '{"user.content_type":"application/json"}')
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    assert file_backend.repair() == []
    assert (stacks / "dev.json.attrs").exists()


class FakePulumi(Pulumi):
    def __init__(self, cancel_fails: bool) -> None:
        super().__init__("dev")
        self.ran: list[tuple[str, ...]] = []
        self.cancel_fails = cancel_fails

    def run(self, *args: str) -> str:
        self.ran.append(args)
        if self.cancel_fails:
            raise ProxmoxHciError("no lock")
        return ""


@pytest.mark.parametrize("cancel_fails", [False, True])
def test_after_a_repair_the_lock_is_cancelled(cancel_fails: bool, capsys: pytest.CaptureFixture[str]) -> None:
    pulumi = FakePulumi(cancel_fails)
    repair_state(pulumi, lambda: [Path("/s/.pulumi/stacks/p/dev.json.attrs")])
    assert pulumi.ran == [("cancel", "--yes")]
    assert "removed /s/.pulumi/stacks/p/dev.json.attrs: empty" in capsys.readouterr().out
    untouched = FakePulumi(False)
    repair_state(untouched, lambda: [])
    assert untouched.ran == []
