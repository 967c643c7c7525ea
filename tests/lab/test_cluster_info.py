"""Cluster membership on the lab's wire: each node's address and certificate fingerprint as PVE reports them
(pve-cluster src/PVE/API2/ClusterConfig.pm join_info, src/PVE/Cluster.pm get_node_fingerprint; pve-manager
PVE/API2/Nodes.pm index)."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.inprocess import InProcessLab, error_of


@pytest.fixture
def inproc(tmp_path: Path) -> Iterator[InProcessLab]:
    lab = InProcessLab(tmp_path, pve_version=8)
    yield lab
    lab.stop()


def served_fingerprint(host: str, port: int) -> str:
    """The SHA-256 fingerprint of the certificate a client receives, as a pinning client computes it."""
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, port)))
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def test_every_node_reports_the_fingerprint_of_the_certificate_it_serves(inproc: InProcessLab) -> None:
    api = inproc.api()
    served = served_fingerprint(inproc.pve.host, inproc.pve.port)
    assert {n["node"]: n["ssl_fingerprint"] for n in api.nodes.get()} == dict.fromkeys(("pve1", "pve2", "pve3"), served)
    assert {n["pve_fp"] for n in api.cluster.config.join.get()["nodelist"]} == {served}


def test_join_info_and_cluster_status_carry_the_nodes_own_addresses(inproc: InProcessLab) -> None:
    api = inproc.api()
    spec = inproc.pve.cluster.spec
    addresses = {node.name: node.ip for node in spec.nodes}
    join = api.cluster.config.join.get()
    assert join["preferred_node"] == "pve1"
    assert {n["name"]: (n["ring0_addr"], n["pve_addr"]) for n in join["nodelist"]} == {
        name: (ip, ip) for name, ip in addresses.items()
    }
    assert join["totem"]["cluster_name"] == "lab" and len(join["config_digest"]) == 40
    assert api.cluster.config.join.get(node="pve3")["preferred_node"] == "pve3"
    assert error_of(lambda: api.cluster.config.join.get(node="pve7"))[:2] == (500, "unknown node 'pve7'")
    assert {n["name"]: n["ring0_addr"] for n in api.cluster.config.nodes.get()} == addresses
    status = [e for e in api.cluster.status.get() if e["type"] == "node"]
    assert {e["name"]: e["ip"] for e in status} == addresses
    assert [e["name"] for e in status if e["local"]] == ["pve1"]
    assert not any(ip.startswith("192.0.2.") for ip in addresses.values())
