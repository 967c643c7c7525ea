"""CephInstall through the root@pam terminal, on nodes that start without Ceph."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_providers.ceph_init import CephInitProvider
from dynamic_providers.ceph_install import CephInstallProvider
from dynamic_providers.errors import AlreadyExists, MissingCredential, ProxmoxHciError, PveApiError

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Any:
    lab = lab_factory()  # no --ceph-installed
    yield lab
    lab_factory.stop(lab)


def test_not_installed_reads_as_absent(drive: Any) -> None:
    install = drive(CephInstallProvider)
    assert install.provider.read("pve1", install.check({"node": "pve1"})).id == ""
    # Without packages on the api node nothing can be said about init: an error, not "gone".
    init = drive(CephInitProvider)
    with pytest.raises(PveApiError, match="binary not installed: /usr/bin/ceph-mon"):
        init.provider.read("x", init.check({"api_nodes": ["pve1"], "network": "10.0.0.0/24"}))


def test_install_needs_a_root_password(drive: Any, hci_lab: Any) -> None:
    with pytest.raises(MissingCredential, match=r"termproxy.*only an API token is configured"):
        drive(CephInstallProvider, token_only=True).create(node="pve1")
    assert not [t for t in hci_lab.tasks() if t["type"] == "vncshell"]


def test_install_task_error_carries_pves_message(drive: Any) -> None:
    # quincy is a PVE 8 release: the installer in this PVE 9 lab rejects it inside the task.
    with pytest.raises(ProxmoxHciError) as info:
        drive(CephInstallProvider).create(node="pve2", version="quincy")
    text = str(info.value)
    assert "installing Ceph quincy on pve2: task vncshell" in text and "on node pve2 failed" in text
    assert "value 'quincy' does not have a value in the enumeration 'squid, tentacle'" in text
    assert "starting termproxy: pveceph install --version quincy" in text  # the log tail
    assert "pveceph install --version quincy --repository no-subscription" in text  # what to run by hand


def test_install_then_read_then_adopt_rules(drive: Any, hci_lab: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve1", version="squid")
    assert res.id == "pve1" and res.outs["installed_version"] == "squid"
    assert hci_lab.control("GET", "/lab/status")["nodes"]["pve1"]["ceph_installed"] == "squid"
    assert install.read(res).id == "pve1"
    assert install.create(node="pve1").id == "pve1"  # the declared release: taken over
    with pytest.raises(AlreadyExists, match="version is 'squid' there, 'tentacle' here"):
        install.create(node="pve1", version="tentacle", adopt=True)


def test_repository_change_reruns_the_installer(drive: Any, hci_lab: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve3")
    runs = len([t for t in hci_lab.tasks() if t["type"] == "vncshell"])
    diff = install.diff(res, repository="enterprise")
    assert diff.changes and diff.replaces == []
    install.update(res, repository="enterprise")
    assert len([t for t in hci_lab.tasks() if t["type"] == "vncshell"]) == runs + 1


def test_release_change_is_refused(drive: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve3", adopt=True)
    with pytest.raises(AssertionError, match=r"version: .*upgrade procedure"):
        install.update(res, version="tentacle")
