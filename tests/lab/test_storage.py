"""Storages on the lab's wire: list parameters as proxmoxer sends them, and the content of node-local storages.

In-process, without Ceph (tests/lab/inprocess.py): nothing here touches an RBD pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab.inprocess import InProcessLab, error_of, wait_task


@pytest.fixture
def lab9(tmp_path: Path) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path, pve_version=9)
    yield lab
    lab.stop()


@pytest.fixture
def lab8(tmp_path: Path) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path, pve_version=8)
    yield lab
    lab.stop()


def volids(api: Any, node: str, storage: str) -> set[str]:
    return {item["volid"] for item in api.nodes(node).storage(storage).content.get()}


# -- list parameters (pve-common src/PVE/RESTHandler.pm $normalize_legacy_param_formats) ---------------


def test_a_node_list_sent_as_repeated_keys_is_joined(lab9: InProcessLab) -> None:
    api = lab9.api()
    # proxmoxer sends a list as nodes=pve1&nodes=pve2, which PVE's HTTP server reads as an array
    api.storage.post(
        storage="images", type="dir", path="/srv/images", content=["images", "iso"], nodes=["pve1", "pve2"]
    )
    stored = api.storage("images").get()
    assert (stored["nodes"], stored["content"]) == ("pve1,pve2", "images,iso")
    api.storage("images").put(nodes=["pve3"])
    assert api.storage("images").get()["nodes"] == "pve3"
    # a list where the schema wants a plain string is still refused, in PVE's words
    status, _, errs = error_of(lambda: api.storage.post(storage="other", type="dir", path=["/a", "/b"]))
    assert (status, errs) == (400, {"path": "type check ('string') failed - got 'ARRAY'"})


def test_ha_group_nodes_as_a_list(lab8: InProcessLab) -> None:
    api = lab8.api()
    api.cluster.ha.groups.post(group="g1", nodes=["pve1:2", "pve2"])
    assert api.cluster.ha.groups("g1").get()["nodes"] in ("pve1:2,pve2", "pve2,pve1:2")


def test_vm_config_delete_as_a_list(lab9: InProcessLab) -> None:
    api = lab9.api()
    assert wait_task(api, api.nodes("pve1").qemu.post(vmid=100, memory=512, tags="a", description="x"))[0] == "OK"
    api.nodes("pve1").qemu(100).config.put(delete=["tags", "description"])
    config = api.nodes("pve1").qemu(100).config.get()
    assert "tags" not in config and "description" not in config


# -- node-local storages (pve-storage src/PVE/API2/Storage/Content.pm index runs on the node asked) ----------


def test_a_local_storage_lists_each_nodes_own_disks(lab9: InProcessLab) -> None:
    api = lab9.api()
    api.storage.post(storage="local-images", type="dir", path="/srv/images", content="images")
    upid = api.nodes("pve1").qemu.post(vmid=100, memory=512, scsi0="local-images:1")
    assert wait_task(api, upid)[0] == "OK"
    api.nodes("pve1").qemu(100).config.put(scsi2="local-lvm:1")
    assert volids(api, "pve1", "local-images") == {"local-images:100/vm-100-disk-0.raw"}
    assert volids(api, "pve2", "local-images") == set()
    assert volids(api, "pve1", "local-lvm") == {"local-lvm:vm-100-disk-0"}
    assert volids(api, "pve3", "local-lvm") == set()
    # a migration takes the local disks to the target node
    assert wait_task(api, api.nodes("pve1").qemu(100).migrate.post(target="pve2"))[0] == "OK"
    assert volids(api, "pve1", "local-images") == set() and volids(api, "pve1", "local-lvm") == set()
    assert volids(api, "pve2", "local-images") == {"local-images:100/vm-100-disk-0.raw"}
    assert volids(api, "pve2", "local-lvm") == {"local-lvm:vm-100-disk-0"}


def test_a_shared_storage_lists_the_same_on_every_node(lab9: InProcessLab) -> None:
    api = lab9.api()
    api.storage.post(storage="nfs-images", type="dir", path="/mnt/shared", content="images", shared=1)
    assert wait_task(api, api.nodes("pve2").qemu.post(vmid=100, memory=512, scsi0="nfs-images:1"))[0] == "OK"
    for node in ("pve1", "pve2", "pve3"):
        assert volids(api, node, "nfs-images") == {"nfs-images:100/vm-100-disk-0.raw"}
