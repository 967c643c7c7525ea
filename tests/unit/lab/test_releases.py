"""The lab's per-release table against the facts read in pve-manager (commits in lab/releases.py)."""

from __future__ import annotations

import pytest

from lab import releases
from lab.models.apt import NodeApt
from lab.models.daemon_reload import DaemonReload


@pytest.mark.parametrize(
    ("version", "offers", "default", "wizard"),
    [
        ("8.3.0", ["quincy", "reef", "squid"], "quincy", "reef"),
        ("8.4.21", ["quincy", "reef", "squid"], "quincy", "reef"),
        ("9.0.0", ["squid"], "squid", "squid"),
        ("9.1.4", ["squid"], "squid", "squid"),
        ("9.1.5", ["squid", "tentacle"], "squid", "squid"),
        ("9.1.13", ["squid", "tentacle"], "tentacle", "tentacle"),
    ],
)
def test_ceph_offers(version: str, offers: list[str], default: str, wizard: str) -> None:
    release = releases.release(version)
    assert [o.codename for o in release.ceph_offers] == offers
    assert release.default_ceph == default and release.wizard_default_ceph == wizard


def test_tentacle_experimental_window() -> None:
    assert releases.release("9.1.5").offer("tentacle").experimental  # type: ignore[union-attr]
    assert releases.release("9.1.12").offer("tentacle").experimental  # type: ignore[union-attr]
    assert not releases.release("9.1.13").offer("tentacle").experimental  # type: ignore[union-attr]


def test_release_dependent_behaviour() -> None:
    assert "manual" not in releases.release("9.0.10").repositories
    assert "manual" in releases.release("9.0.11").repositories
    assert not releases.release("9.2.6").has_ceph_releases_endpoint
    assert releases.release("9.2.7").has_ceph_releases_endpoint
    assert releases.release("8.4.21").pool_status_reports_last_pool
    assert releases.release("9.1.11").pool_status_reports_last_pool
    assert not releases.release("9.1.12").pool_status_reports_last_pool
    assert not releases.release("8.3.3").errors_carry_message
    assert releases.release("8.3.4").errors_carry_message


def test_unknown_and_major_only() -> None:
    with pytest.raises(releases.ReleaseError, match=r"9\.1\.0 is not a release the lab emulates"):
        releases.release("9.1.0")
    with pytest.raises(releases.ReleaseError, match=r"is not a release X\.Y\.Z"):
        releases.release("8.3")
    assert releases.newest_of_major(8).text == "8.4.21"
    assert releases.newest_of_major(9).text == "9.2.11"


def test_daemon_reload_window() -> None:
    reload = DaemonReload(started=100.0, exec_seconds=1.5, old_worker_sleep=5.0)
    assert reload.accept_delay(100.5) == pytest.approx(1.0)
    assert reload.accept_delay(102.0) == 0.0
    assert not reload.closes_after_answer(connection_opened=99.0, now=103.0)  # old worker, not yet TERMed
    assert reload.closes_after_answer(connection_opened=99.0, now=106.6)
    assert not reload.closes_after_answer(connection_opened=102.0, now=106.6)  # a new worker's connection


def test_pveceph_writes_the_whole_ceph_source_file_in_the_releases_format() -> None:
    bookworm = NodeApt(8)
    assert bookworm.write_ceph_source("reef", "no-subscription") == "/etc/apt/sources.list.d/ceph.list"
    ceph = bookworm.file("/etc/apt/sources.list.d/ceph.list").repos
    assert [(r.uris, r.suites, r.components) for r in ceph] == [
        (["http://download.proxmox.com/debian/ceph-reef"], ["bookworm"], ["no-subscription"])
    ]
    trixie = NodeApt(9)
    assert trixie.write_ceph_source("squid", "enterprise") == "/etc/apt/sources.list.d/ceph.sources"
    (entry,) = trixie.file("/etc/apt/sources.list.d/ceph.sources").repos
    assert entry.uris == ["https://enterprise.proxmox.com/debian/ceph-squid"] and entry.suites == ["trixie"]
