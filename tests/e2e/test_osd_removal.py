"""Removing an OSD from the config, with the real engine: a drain when the data has somewhere to go,
a refusal with Ceph's reason when it has not. A Ceph-only stack on a lab with four OSDs (pve1 has
two disks); protection is off in this stack so that removal reaches the provider's own checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hci_tools.pulumi_project import PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import Lab, LabFactory

pytestmark = pytest.mark.e2e


def stack_config(osds: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "config": {
            "proxmox-hci:pveVersion": 9,
            "proxmox-hci:publicNetwork": "env:PROXMOX_HCI_PUBLIC_NETWORK",
            "proxmox-hci:aptRepositories": False,
            "proxmox-hci:protect": False,
            "proxmox-hci:monitors": ["pve1", "pve2", "pve3"],
            "proxmox-hci:managers": ["pve1", "pve2"],
            "proxmox-hci:nodes": [{"name": n, "osds": [{"device": d} for d in devs]} for n, devs in osds.items()],
            "proxmox-hci:pools": [{"name": "vm-pool", "size": 3, "minSize": 2}],
        }
    }


FOUR = {"pve1": ["/dev/sdb", "/dev/sdc"], "pve2": ["/dev/sdb"], "pve3": ["/dev/sdb"]}


@pytest.fixture(scope="module")
def stack(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, PulumiProject]]:
    lab = lab_factory("--disks", "pve1=512G+512G,pve2=512G,pve3=1T")
    project = PulumiProject.create(
        tmp_path_factory.mktemp("osd"), "osd", stack_config(FOUR), engine_bin(), lab_environment(lab.info.state_dir)
    )
    project.up()
    yield lab, project
    lab_factory.stop(lab)


def ceph_json(lab: Lab, *args: str) -> Any:
    return json.loads(lab.ceph(*args, "--format", "json"))


def osd_on(lab: Lab, node: str, dev: str) -> int:
    return int({d["devpath"]: d["osdid"] for d in lab.api().nodes(node).disks.list.get()}[dev])


def test_four_osds_up(stack: tuple[Lab, PulumiProject]) -> None:
    lab, _ = stack
    assert ceph_json(lab, "status")["osdmap"]["num_up_osds"] == 4


def test_removing_one_of_four_drains_it_and_loses_no_pg(stack: tuple[Lab, PulumiProject], tmp_path: Path) -> None:
    lab, project = stack
    # Data on the cluster, so the drain has something to move, and a checksum to prove none is lost.
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(24 * 2**20))
    lab.rbd("import", str(data), "vm-pool/vm-900-disk-0")
    victim = osd_on(lab, "pve1", "/dev/sdc")
    project.write_config(stack_config({**FOUR, "pve1": ["/dev/sdb"]}))
    project.up()
    tree = ceph_json(lab, "osd", "tree")
    assert victim not in [n["id"] for n in tree["nodes"]]

    def settled() -> bool:
        states = {s["name"] for s in ceph_json(lab, "pg", "stat")["pg_summary"]["num_pg_by_state"]}
        assert not states & {"down", "incomplete", "stale"}, states  # never lost, even while re-peering
        return states == {"active+clean"}

    deadline = time.monotonic() + 120
    while not settled():
        assert time.monotonic() < deadline, "PGs not active+clean 120 s after the OSD was removed"
        time.sleep(1)
    back = tmp_path / "back.bin"
    lab.rbd("export", "vm-pool/vm-900-disk-0", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data.read_bytes()).digest()
    # The drain went through out -> safe-to-destroy -> stop -> destroy with cleanup.
    types = [t["type"] for t in lab.tasks()]
    assert "srvstop" in types and "cephdestroyosd" in types
    assert {d["devpath"]: d.get("used") for d in lab.api().nodes("pve1").disks.list.get()}["/dev/sdc"] is None


def test_removing_a_host_below_the_pools_size_is_refused_by_the_config(stack: tuple[Lab, PulumiProject]) -> None:
    """Three OSD hosts and size 3: dropping a host's last OSD is refused before Ceph is even asked."""
    lab, project = stack
    lab.control("POST", "/lab/requests/reset")
    project.write_config(stack_config({"pve1": ["/dev/sdb"], "pve2": ["/dev/sdb"], "pve3": []}))
    out = project.up(check=False)
    assert out.returncode != 0
    assert "pools[0].size: 3 replicas need 3 hosts with OSDs" in out.stdout and "only 2 node(s)" in out.stdout
    assert {k for k in lab.request_counts() if k[0] != "GET"} == set()


def test_removing_an_osd_whose_data_has_nowhere_to_go_is_refused_with_cephs_reason(
    stack: tuple[Lab, PulumiProject],
) -> None:
    """The config is fine, but pve1's other OSD is out for maintenance: Ceph has nowhere to put the data."""
    lab, project = stack
    project.write_config(stack_config(FOUR))
    project.up()  # the cleaned disk takes a new OSD
    out_for_maintenance = osd_on(lab, "pve1", "/dev/sdb")
    victim = osd_on(lab, "pve1", "/dev/sdc")
    lab.api().nodes("pve1").ceph.osd(out_for_maintenance).out.post()
    try:
        project.write_config(stack_config({**FOUR, "pve1": ["/dev/sdb"]}))
        out = project.up(check=False)
        assert out.returncode != 0
        text = out.stdout + out.stderr
        assert f"refusing to remove osd.{victim}" in text and "nowhere to go" in text, text[-3000:]
        assert "Ceph says: " in text
        # Refused means put back as it was: the OSD is up and in again.
        osd = next(o for o in ceph_json(lab, "osd", "dump")["osds"] if o["osd"] == victim)
        assert (osd["up"], osd["in"]) == (1, 1)
    finally:
        lab.api().nodes("pve1").ceph.osd(out_for_maintenance).post("in")
