"""CephInstall through the node's terminal, on a PVE 9.1.7 lab whose nodes start without Ceph: the release
rule at check, the websocket dialogue, success read from ceph/status, the failure message."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from dynamic_providers.ceph_init import CephInitProvider
from dynamic_providers.ceph_install import CephInstallProvider
from dynamic_providers.errors import AlreadyExists, MissingCredential, ProxmoxHciError, PveApiError, PveAuthError
from tests.integration.conftest import PROJECT, CheckFailed, stack_config

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def hci_lab(lab_factory: Any) -> Any:
    lab = lab_factory("--pve-release", "9.1.7")  # no --ceph-installed; tentacle is a preview on 9.1.7
    yield lab
    lab_factory.stop(lab)


def terminals(lab: Any) -> list[dict[str, Any]]:
    return [t for t in lab.tasks() if t["type"] == "vncshell"]


def test_not_installed_reads_as_absent(drive: Any) -> None:
    install = drive(CephInstallProvider)
    assert install.provider.read("pve1", install.check({"node": "pve1"})).id == ""
    # Without packages on the api node nothing can be said about init: an error, not "gone".
    init = drive(CephInitProvider)
    with pytest.raises(PveApiError, match="binary not installed: /usr/bin/ceph-mon"):
        init.provider.read("x", init.check({"api_nodes": ["pve1"], "network": "10.0.0.0/24"}))


def test_a_release_the_node_does_not_offer_is_refused_at_check(drive: Any, hci_lab: Any) -> None:
    hci_lab.control("POST", "/lab/requests/reset")
    with pytest.raises(CheckFailed, match=r"version: CephInstall.version 'reef': node pve2 runs PVE 9\.1\.7, where"):
        drive(CephInstallProvider).check({"node": "pve2", "version": "reef"})
    with pytest.raises(CheckFailed, match=r"technology preview on PVE 9\.1\.7: set allow_experimental: true"):
        drive(CephInstallProvider, token_only=True).check({"node": "pve2", "version": "tentacle"})
    # A preview asks what the node runs, with the token: no root, nothing written.
    assert set(hci_lab.request_counts()) == {("GET", "/nodes/{node}/version")}


def test_a_declared_release_the_node_does_not_run_is_drift(drive: Any) -> None:
    with pytest.raises(CheckFailed, match=r"pve_release is 9\.1\.5, but pve3 runs PVE 9\.1\.7"):
        drive(CephInstallProvider).check({"node": "pve3", "pve_release": "9.1.5"})
    with pytest.raises(CheckFailed, match=r"offers squid; set version"):  # the table, before any request
        drive(CephInstallProvider).check({"node": "pve3", "pve_release": "9.1.4", "version": "tentacle"})


def test_install_needs_a_root_password(drive: Any, hci_lab: Any) -> None:
    with pytest.raises(MissingCredential, match=r"terminal needs a root@pam password ticket.*only an API token"):
        drive(CephInstallProvider, token_only=True).create(node="pve1")
    assert not terminals(hci_lab)


def test_install_drives_the_terminal_and_streams_it(drive: Any, hci_lab: Any, caplog: Any) -> None:
    hci_lab.control("POST", "/lab/requests/reset")
    with caplog.at_level(logging.INFO, logger="dynamic_providers.progress"):
        res = drive(CephInstallProvider).create(node="pve1", version="squid")
    assert res.id == "pve1" and res.outs["installed_version"] == "squid"
    lines = [r.getMessage() for r in caplog.records if r.name == "dynamic_providers.progress"]
    assert "Do you want to continue? [Y/n] y" in lines and "installed Ceph 19.2 Squid successfully!" in lines
    assert any(line.startswith("Setting up ceph-mon (19.2") for line in lines)
    assert hci_lab.control("GET", "/lab/status")["nodes"]["pve1"]["ceph_installed"] == "squid"
    (task,) = terminals(hci_lab)
    assert task["node"] == "pve1" and task["exitstatus"] == "OK"  # we hung up after the reload
    writes = {k: n for k, n in hci_lab.request_counts().items() if k[0] != "GET"}
    assert writes == {("POST", "/nodes/{node}/termproxy"): 1, ("POST", "/access/ticket"): 1}


def test_a_failed_install_says_where_what_and_what_to_run(drive: Any, hci_lab: Any) -> None:
    # The lab's nodes have no subscription: enterprise has nothing to install.
    with pytest.raises(ProxmoxHciError) as info:
        drive(CephInstallProvider).create(node="pve2", repository="enterprise")
    text = str(info.value)
    assert text.startswith("pveceph install on pve2 failed at step: installing the packages (apt-get install)")
    assert "  | E: Package 'ceph' has no installation candidate" in text
    assert text.endswith("to install by hand, run on pve2: pveceph install --version squid --repository enterprise")


def test_a_preview_release_is_installed_only_when_the_stack_opts_in(drive: Any, hci_lab: Any) -> None:
    res = drive(CephInstallProvider).create(node="pve3", version="tentacle", repository="test", allow_experimental=True)
    assert res.outs["installed_version"] == "tentacle"
    assert hci_lab.control("GET", "/lab/status")["nodes"]["pve3"]["ceph_installed"] == "tentacle"


def test_install_then_read_then_adopt_rules(drive: Any, hci_lab: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve1", version="squid")
    assert res.id == "pve1" and res.outs["installed_version"] == "squid"
    assert hci_lab.control("GET", "/lab/status")["nodes"]["pve1"]["ceph_installed"] == "squid"
    assert install.read(res).id == "pve1"
    assert install.create(node="pve1").id == "pve1"  # the declared release: taken over
    with pytest.raises(AlreadyExists, match="version is 'squid' there, 'tentacle' here"):
        install.create(node="pve1", version="tentacle", repository="test", allow_experimental=True, adopt=True)


def test_repository_change_reruns_the_installer(drive: Any, hci_lab: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve1", adopt=True)
    runs = len(terminals(hci_lab))
    diff = install.diff(res, repository="test")
    assert diff.changes and diff.replaces == []
    install.update(res, repository="test")
    assert len(terminals(hci_lab)) == runs + 1
    sources = hci_lab.api().nodes("pve1").apt.repositories.get()["files"]
    (ceph,) = [f for f in sources if f["path"].endswith("ceph.sources")]
    assert [r["Components"] for r in ceph["repositories"]] == [["test"]]


def test_release_change_is_refused(drive: Any) -> None:
    install = drive(CephInstallProvider)
    res = install.create(node="pve3", version="tentacle", adopt=True, allow_experimental=True)
    with pytest.raises(AssertionError, match=r"version: .*upgrade procedure"):
        install.update(res, version="squid")


def test_tfa_on_root_is_said_plainly(lab_factory: Any, lab_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_factory("--pve-release", "8.4.1", "--tfa")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(lab.ca_cert))
    try:
        provider = CephInstallProvider()
        provider.configure(ConfigureRequest(Config(stack_config(lab), PROJECT)))
        with pytest.raises(PveAuthError, match=r"root@pam has two-factor authentication on.*pveum user tfa delete"):
            provider.create(provider.check({}, {"node": "pve1", "version": "reef"}).inputs)
    finally:
        lab_factory.stop(lab)
