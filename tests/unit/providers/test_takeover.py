"""The takeover rule as a safety property (docs/architecture.md, "Resuming: what create takes over").

For every resource: the object exactly as its create makes it is taken over, adopt or not; each
single blocking difference is refused whatever adopt says, naming what is there and what is
declared; each single adoptable difference is refused without adopt and taken over (to be changed)
with it. And for decide() itself, over many generated difference lists: refused exactly when a
difference blocks, or any differs without adopt.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from dynamic_providers.errors import AlreadyExists
from dynamic_providers.logic import init, install, mgr, mon, osd, pool, storage
from dynamic_providers.logic.takeover import Difference, Takeover, decide

Attempt = Callable[[bool], Takeover]  # adopt -> the takeover (or AlreadyExists)


@dataclass(frozen=True)
class Mutation:
    label: str
    adoptable: bool
    attempt: Attempt
    found: str  # words naming what is there, which the refusal must show
    wanted: str  # words naming what is declared


# -- one exact object per resource, and its mutations -------------------------------------------------

MON_ENTRY = {"name": "pve2", "host": "pve2", "addr": "10.0.0.12:6789/0", "quorum": 1}


def mon_attempt(entry: dict[str, Any] = MON_ENTRY, address: str | None = "10.0.0.12") -> Attempt:
    return lambda _adopt: mon.takeover(entry, "pve2", address, "10.0.0.0/24")


MGR_ENTRY = {"name": "pve1", "host": "pve1", "state": "standby"}

OSD_DISK = {"devpath": "/dev/sdb", "used": "LVM", "osdid": 3, "osdid-list": [3], "osdencrypted": 0}
OSD_STATE = osd.OsdState(3, "pve1", True, True, 40, "ssd")
OSD_META = {"osd": {"hostname": "pve1", "id": 3}, "devices": [{"device": "block", "physical_device": "sdb"}]}
OSD_DISKS = [OSD_DISK, {"devpath": "/dev/sdc", "osdid": -1}]
OSD_INPUTS = osd.OsdInputs(node="pve1", device="/dev/sdb", crush_device_class="ssd")


def osd_attempt(
    disk: dict[str, Any] = OSD_DISK,
    state: osd.OsdState | None = OSD_STATE,
    metadata: dict[str, Any] | None = OSD_META,
    inputs: osd.OsdInputs = OSD_INPUTS,
) -> Attempt:
    found = osd.FoundOsd(3, state, metadata)
    return lambda adopt: osd.takeover("pve1", disk, OSD_DISKS, found, replace(inputs, adopt=adopt))


POOL_INPUTS = pool.PoolInputs(api_nodes=("pve1",), pool_name="vm", size=3, min_size=2)
POOL_LIVE: pool.LivePool = {
    "pool_name": "vm",
    "pool_id": 2,
    "size": 3,
    "min_size": 2,
    "pg_num": 32,
    "autoscale_mode": "on",
    "application": "rbd",
    "crush_rule": "replicated_rule",
    "target_size_ratio": None,
    "bytes_used": 0,
}


def pool_attempt(objects: int = 0, **live: Any) -> Attempt:
    changed: pool.LivePool = {**POOL_LIVE, **live}  # type: ignore[typeddict-item]
    return lambda adopt: pool.takeover(changed, objects, replace(POOL_INPUTS, adopt=adopt))


STORAGE_ENTRY = {"storage": "ceph-vm", "type": "rbd", "pool": "vm", "content": "images", "krbd": 0, "digest": "d1"}
STORAGE_INPUTS = storage.StorageInputs(storage="ceph-vm", pool="vm")


def storage_attempt(**entry: Any) -> Attempt:
    changed = {**STORAGE_ENTRY, **entry}
    return lambda adopt: storage.takeover(changed, replace(STORAGE_INPUTS, adopt=adopt))


INIT_LIVE: init.LiveInit = {
    "fsid": "0c9a8a5e-1d1b-4f8c-9d0c-111111111111",
    "network": "10.0.0.0/24",
    "cluster_network": None,
    "size": 3,
    "min_size": 2,
}
INIT_INPUTS = init.InitInputs(api_nodes=("pve1",), network="10.0.0.0/24")


def init_attempt(**live: Any) -> Attempt:
    changed: init.LiveInit = {**INIT_LIVE, **live}  # type: ignore[typeddict-item]
    return lambda adopt: init.takeover(changed, replace(INIT_INPUTS, adopt=adopt))


def install_attempt(release: str | None) -> Attempt:
    def attempt(adopt: bool) -> Takeover:
        result = install.create_action("pve1", True, release, "squid", adopt)
        assert result is not None
        return result

    return attempt


EXACT: dict[str, Attempt] = {
    "mon at the declared address": mon_attempt(),
    "mon at an address in the public network, none declared": mon_attempt(address=None),
    "mgr": lambda _adopt: mgr.takeover(MGR_ENTRY, "pve1"),
    "osd": osd_attempt(),
    "osd, no device class declared": osd_attempt(inputs=replace(OSD_INPUTS, crush_device_class=None)),
    "pool": pool_attempt(),
    "storage": storage_attempt(),
    "init": init_attempt(),
    "init, pool defaults not in [global]": init_attempt(size=None, min_size=None),
    "install": install_attempt("squid"),
}

MUTATIONS: list[Mutation] = [
    Mutation("mon on another node", False, mon_attempt({**MON_ENTRY, "host": "pve3"}), "'pve3'", "'pve2'"),
    Mutation(
        "mon at another address",
        False,
        mon_attempt({**MON_ENTRY, "addr": "10.0.0.99:6789/0"}),
        "'10.0.0.99'",
        "'10.0.0.12'",
    ),
    Mutation(
        "mon outside the public network",
        False,
        mon_attempt({**MON_ENTRY, "addr": "192.0.2.5:6789/0"}, address=None),
        "'192.0.2.5'",
        "10.0.0.0/24",
    ),
    Mutation(
        "mgr on another node",
        False,
        lambda _adopt: mgr.takeover({**MGR_ENTRY, "host": "pve2"}, "pve1"),
        "'pve2'",
        "'pve1'",
    ),
    Mutation("osd of another cluster", False, osd_attempt(state=None), "not in this cluster's OSD map", "this cluster"),
    Mutation("osd that PVE places on another host", False, osd_attempt(metadata=None), "another host", "'pve1'"),
    Mutation(
        "osd under another host in CRUSH",
        False,
        osd_attempt(state=replace(OSD_STATE, host="pve2")),
        "'pve2'",
        "'pve1'",
    ),
    Mutation(
        "osd whose block device is another disk",
        False,
        osd_attempt(metadata={**OSD_META, "devices": [{"device": "block", "physical_device": "sdc"}]}),
        "'sdc'",
        "'sdb'",
    ),
    Mutation(
        "osd with a DB device not declared",
        False,
        osd_attempt(
            metadata={
                **OSD_META,
                "devices": [{"device": "block", "physical_device": "sdb"}, {"device": "db", "physical_device": "sdc"}],
            }
        ),
        "'sdc'",
        "unset",
    ),
    Mutation(
        "osd without the DB device declared",
        False,
        osd_attempt(inputs=replace(OSD_INPUTS, db_device="/dev/sdc")),
        "unset",
        "'sdc'",
    ),
    Mutation(
        "osd of another device class",
        False,
        osd_attempt(state=replace(OSD_STATE, device_class="hdd")),
        "'hdd'",
        "'ssd'",
    ),
    Mutation(
        "osd encrypted, declared plain", False, osd_attempt(disk={**OSD_DISK, "osdencrypted": 1}), "True", "False"
    ),
    Mutation(
        "osd whose encryption PVE does not report",
        True,
        osd_attempt(disk={k: v for k, v in OSD_DISK.items() if k != "osdencrypted"}),
        "not reported by PVE",
        "False",
    ),
    Mutation(
        "osd whose block device PVE does not report",
        True,
        osd_attempt(metadata={**OSD_META, "devices": []}),
        "not reported by PVE",
        "'sdb'",
    ),
    Mutation("pool of another application", False, pool_attempt(application="cephfs"), "'cephfs'", "'rbd'"),
    Mutation("pool without an application", True, pool_attempt(application=None), "unset", "'rbd'"),
    Mutation("pool of another size", True, pool_attempt(size=2), "size is 2", "3 here"),
    Mutation("pool of another min_size", True, pool_attempt(min_size=1), "min_size is 1", "2 here"),
    Mutation("pool under another autoscale mode", True, pool_attempt(autoscale_mode="warn"), "'warn'", "'on'"),
    Mutation("pool on another crush rule", True, pool_attempt(crush_rule="fast"), "'fast'", "'replicated_rule'"),
    Mutation("pool with a target ratio", True, pool_attempt(target_size_ratio=0.5), "0.5", "unset"),
    Mutation("pool holding objects", True, pool_attempt(objects=5), "5 objects", "empty"),
    Mutation("pool holding bytes", True, pool_attempt(bytes_used=4096), "4096 bytes", "empty"),
    Mutation("storage of another type", False, storage_attempt(type="dir"), "'dir'", "'rbd'"),
    Mutation("storage on another pool", False, storage_attempt(pool="other"), "'other'", "'vm'"),
    Mutation("storage of an external cluster", False, storage_attempt(monhost="192.0.2.1"), "'192.0.2.1'", "unset"),
    Mutation("storage in a namespace", False, storage_attempt(namespace="tenant"), "'tenant'", "unset"),
    Mutation("storage that is disabled", False, storage_attempt(disable=1), "disable is 1", "unset"),
    Mutation("storage of other content", True, storage_attempt(content="images,rootdir"), "images,rootdir", "images"),
    Mutation("storage with krbd", True, storage_attempt(krbd=1), "True", "False"),
    Mutation("storage on some nodes only", True, storage_attempt(nodes="pve1"), "pve1", "unset"),
    Mutation("init on another network", False, init_attempt(network="10.9.0.0/24"), "'10.9.0.0/24'", "'10.0.0.0/24'"),
    Mutation(
        "init with a cluster network", False, init_attempt(cluster_network="10.8.0.0/24"), "'10.8.0.0/24'", "unset"
    ),
    Mutation("init with another default size", False, init_attempt(size=2), "size is 2", "3 here"),
    Mutation("init with another default min_size", False, init_attempt(min_size=1), "min_size is 1", "2 here"),
    Mutation("install of another release", False, install_attempt("reef"), "'reef'", "'squid'"),
    Mutation("install of an unreadable release", True, install_attempt(None), "not readable", "'squid'"),
]


@pytest.mark.parametrize("adopt", [False, True])
@pytest.mark.parametrize("name", list(EXACT))
def test_the_exact_object_is_taken_over_and_said_so(name: str, adopt: bool) -> None:
    take = EXACT[name](adopt)
    assert not take.converge
    assert take.message.startswith("took over ") and "exactly what this create would make" in take.message


@pytest.mark.parametrize("adopt", [False, True])
@pytest.mark.parametrize("mutation", [m for m in MUTATIONS if not m.adoptable], ids=lambda m: m.label)
def test_a_blocking_difference_is_refused_whatever_adopt_says(mutation: Mutation, adopt: bool) -> None:
    with pytest.raises(AlreadyExists) as info:
        mutation.attempt(adopt)
    message = str(info.value)
    assert "is not what this resource would make" in message and "Nothing was changed" in message
    assert mutation.found in message and mutation.wanted in message


@pytest.mark.parametrize("mutation", [m for m in MUTATIONS if m.adoptable], ids=lambda m: m.label)
def test_an_adoptable_difference_needs_adopt_and_is_then_converged(mutation: Mutation) -> None:
    with pytest.raises(AlreadyExists) as info:
        mutation.attempt(False)
    message = str(info.value)
    assert "set adopt=true" in message and "Nothing was changed" in message
    assert mutation.found in message and mutation.wanted in message
    take = mutation.attempt(True)
    assert take.converge and take.message.startswith("adopted ")


def test_every_resource_that_takes_over_has_blocking_and_exact_cases() -> None:
    kinds = {name.split()[0].rstrip(",") for name in EXACT}
    assert kinds == {"mon", "mgr", "osd", "pool", "storage", "init", "install"}
    assert {m.label.split()[0] for m in MUTATIONS if not m.adoptable} == kinds


def test_decide_refuses_exactly_when_a_difference_blocks_or_adopt_is_missing() -> None:
    rng = random.Random(20260821)
    for _ in range(2000):
        differences = [
            Difference(f"key{i}", rng.randint(0, 3), rng.randint(0, 3), adoptable=rng.random() < 0.5)
            for i in range(rng.randint(0, 4))
        ]
        differing = [d for d in differences if d.found != d.wanted]
        adopt = rng.random() < 0.5
        refused = any(not d.adoptable for d in differing) or (bool(differing) and not adopt)
        try:
            take = decide("thing", differing, adopt=adopt, fix="fix it")
        except AlreadyExists as exc:
            assert refused, (differing, adopt)
            blocking = [d for d in differing if not d.adoptable]
            assert all(d.what in str(exc) for d in (blocking or differing))
        else:
            assert not refused, (differing, adopt)
            assert take.converge == bool(differing)
