"""The lab's HA stack over HTTPS: groups (PVE 8) and rules (PVE 9), resources, HA requests, and recovery
of a failed node's VMs.

None of this touches Ceph, so the lab's API runs in-process without Ceph (a stand-in backend) on its
own event loop; `InProcessLab` is also what tests/lab/test_qemu.py uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.lab.inprocess import FENCE_DELAY, InProcessLab, error_of, wait_for, wait_task


def service(api: Any, sid: str) -> dict[str, Any]:
    return next(e for e in api.cluster.ha.status.current.get() if e.get("sid") == sid)


def vm_resource(api: Any, vmid: int) -> dict[str, Any]:
    return next(r for r in api.cluster.resources.get(type="vm") if r["vmid"] == vmid)


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


# -- groups and rules: PVE 8 vs PVE 9 ---------------------------------------------------------------


def test_pve9_refuses_every_group_call(lab9: InProcessLab) -> None:
    groups = lab9.api().cluster.ha.groups
    calls = {
        "index groups": groups.get,
        "create group": lambda: groups.post(group="g1", nodes="pve1"),
        "read group": lambda: groups("g1").get(),
        "update group": lambda: groups("g1").put(comment="x"),
        "delete group": lambda: groups("g1").delete(),
    }
    for verb, call in calls.items():
        assert error_of(call)[:2] == (500, f"cannot {verb}: ha groups have been migrated to rules")


def test_pve9_refuses_group_on_a_resource(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    status, message, _ = error_of(lambda: lab9.api().cluster.ha.resources.post(sid="vm:100", group="g1"))
    assert (status, message) == (500, "invalid parameter 'group': ha groups have been migrated to rules")


def test_pve8_has_no_rules_api(lab8: InProcessLab) -> None:
    rules = lab8.api().cluster.ha.rules
    assert error_of(lambda: rules.post(rule="r1", type="node-affinity", resources="vm:100", nodes="pve1"))[:2] == (
        501,
        "Method 'POST /cluster/ha/rules' not implemented",
    )
    assert error_of(lambda: rules("r1").get())[:2] == (501, "Method 'GET /cluster/ha/rules/r1' not implemented")
    assert {i["id"] for i in lab8.api().cluster.ha.get()} == {"status", "resources", "groups"}


def test_pve8_groups_and_a_resource_in_a_group(lab8: InProcessLab) -> None:
    lab8.add_vm(100)
    ha = lab8.api().cluster.ha
    assert ha.groups.post(group="g1", nodes="pve2:2,pve3", restricted=1) is None
    assert error_of(lambda: ha.groups.post(group="g1", nodes="pve1"))[:2] == (
        500,
        "create ha group failed: ha group ID 'g1' already defined",
    )
    status, _, errs = error_of(lambda: ha.groups.post(group="g2", nodes="pve1:x"))
    assert (status, errs) == (400, {"nodes": "invalid format - value does not look like a valid ha group node\n"})
    assert ha.resources.post(sid="100", group="g1", max_relocate=2) is None  # a bare VMID works too
    got = ha.resources("vm:100").get()
    assert {k: got[k] for k in ("sid", "type", "group", "max_relocate")} == {
        "sid": "vm:100",
        "type": "vm",
        "group": "g1",
        "max_relocate": 2,
    }
    group = ha.groups("g1").get()
    assert (group["nodes"], group["restricted"], group["type"]) == ("pve2:2,pve3", 1, "group")
    assert error_of(lambda: ha.groups("g1").delete())[:2] == (
        500,
        "delete ha group failed: ha group is used by service 'vm:100'",
    )
    # PVE 8's resources have no failback (a PVE 9 option): the schema refuses it
    status, _, errs = error_of(lambda: ha.resources("vm:100").put(failback=0))
    assert status == 400 and "failback" in errs
    assert ha.resources("vm:100").migrate.post(node="pve2") is None  # PVE 9 answers {sid, requested-node}


# -- resources ---------------------------------------------------------------------------------------


def test_resource_errors_use_pves_words(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    resources = lab9.api().cluster.ha.resources
    status, _, errs = error_of(lambda: resources.post(sid="vm 100"))
    assert (status, errs) == (400, {"sid": "invalid format - value does not look like a valid ha resource id\n"})
    assert error_of(lambda: resources.post(sid="555"))[:2] == (
        500,
        "unable to detect SID from VMID - VM/CT 555 does not exist",
    )
    assert error_of(lambda: resources.post(sid="vm:555"))[:2] == (500, "resource 'vm:555' does not exist in cluster")
    assert resources.post(sid="vm:100", state="stopped") is None
    assert error_of(lambda: resources.post(sid="vm:100"))[:2] == (
        500,
        "create resource failed: resource ID 'vm:100' already defined",
    )
    assert error_of(lambda: resources("vm:101").get())[:2] == (500, "no such resource 'vm:101'")
    digest = resources("vm:100").get()["digest"]
    assert resources("vm:100").put(comment="db", digest=digest) is None
    assert error_of(lambda: resources("vm:100").put(comment="x", digest=digest))[:2] == (
        500,
        "update resources config failed: detected modified configuration - file changed by other user? Try again.",
    )
    assert resources("vm:100").delete() is None
    assert error_of(lambda: resources("vm:100").delete())[:2] == (
        500,
        "cannot delete service 'vm:100', not HA managed!",
    )


def test_a_new_started_resource_starts_its_vm(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    assert service(api, "vm:100")["crm_state"] == "request_start"
    wait_for("VM 100 started by HA", lambda: service(api, "vm:100")["state"] == "started")
    assert api.nodes("pve1").qemu(100).status.current.get()["status"] == "running"
    assert vm_resource(api, 100)["hastate"] == "started"
    assert api.nodes("pve1").qemu(100).status.current.get()["ha"] == {"managed": 1, "state": "started"}


def test_start_and_stop_of_an_ha_vm_are_requests(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    upid = api.nodes("pve1").qemu(100).status.stop.post()
    assert ":hastop:100:" in upid
    assert wait_task(api, upid) == ("OK", ["Requesting HA stop for VM 100", "TASK OK"])
    assert api.cluster.ha.resources("vm:100").get()["state"] == "stopped"  # the request is the config
    wait_for("VM 100 stopped", lambda: api.nodes("pve1").qemu(100).status.current.get()["status"] == "stopped")
    wait_for("CRM state stopped", lambda: service(api, "vm:100")["crm_state"] == "stopped")


def test_qm_create_ha_managed_and_destroy_purge(lab9: InProcessLab) -> None:
    api = lab9.api()
    upid = api.nodes("pve2").qemu.post(vmid=100, memory=512, start=1, **{"ha-managed": 1})
    assert wait_task(api, upid)[0] == "OK"
    assert [(r["sid"], r["state"]) for r in api.cluster.ha.resources.get()] == [("vm:100", "started")]
    assert service(api, "vm:100")["node"] == "pve2"
    api.cluster.ha.rules.post(rule="r1", type="node-affinity", resources="vm:100", nodes="pve2")
    status, message, _ = error_of(lambda: api.nodes("pve2").qemu(100).delete())
    assert (status, message) == (500, "unable to remove VM 100 - used in HA resources and purge parameter not set.")
    wait_for(
        "VM 100 stopped",
        lambda: (
            wait_task(api, api.nodes("pve2").qemu(100).status.stop.post())
            and vm_resource(api, 100)["status"] == "stopped"
        ),
    )
    assert wait_task(api, api.nodes("pve2").qemu(100).delete(purge=1))[0] == "OK"
    assert api.cluster.ha.resources.get() == []
    assert api.cluster.ha.rules.get() == []  # the rule was left empty, so it went too


def test_ignored_resource_is_not_managed(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100", state="ignored")
    upid = api.nodes("pve1").qemu(100).status.start.post()
    assert ":qmstart:100:" in upid  # a direct start, bypassing HA
    assert service(api, "vm:100")["state"] == "ignored"
    assert "hastate" not in vm_resource(api, 100)


# -- recovery of a failed node ----------------------------------------------------------------------


def test_failed_nodes_vm_comes_back_running_elsewhere(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    lab9.add_vm(101, node="pve2", running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    api.cluster.ha.resources.post(sid="vm:101")
    wait_for("services started", lambda: service(api, "vm:100")["state"] == "started")
    lab9.fail_node("pve1")
    assert service(api, "vm:100")["crm_state"] == "fence"
    lrm = next(e for e in api.cluster.ha.status.current.get() if e["id"] == "lrm:pve1")
    assert lrm["status"].startswith("pve1 (old timestamp - dead?")
    # pve3 carries no HA service, pve2 one: the recovery goes to pve3
    wait_for(
        "VM 100 running on pve3",
        lambda: vm_resource(api, 100)["node"] == "pve3" and vm_resource(api, 100)["status"] == "running",
    )
    assert api.nodes("pve3").qemu(100).config.get()["name"] == "vm100"
    # the verbose state says "started" only once the LRM's next round has seen the VM running
    # (PVE::HA::Tools::get_verbose_service_state), a moment after the VM itself runs
    wait_for(
        "vm:100 started on pve3",
        lambda: (service(api, "vm:100")["node"], service(api, "vm:100")["state"]) == ("pve3", "started"),
    )
    assert any(t["type"] == "qmstart" and t["id"] == "100" for t in api.nodes("pve3").tasks.get())
    assert "recover service 'vm:100' from fenced node 'pve1' to node 'pve3'" in lab9.pve.ha.log
    assert lab9.pve.ha.services["vm:101"].node == "pve2"  # services of healthy nodes stay


def test_recovery_follows_rule_priority(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    api.cluster.ha.rules.post(rule="prefer-2", type="node-affinity", resources="vm:100", nodes="pve1:3,pve2:2,pve3:1")
    wait_for("started", lambda: service(api, "vm:100")["state"] == "started")
    lab9.fail_node("pve1")
    wait_for(
        "VM 100 running on pve2",
        lambda: vm_resource(api, 100)["node"] == "pve2" and vm_resource(api, 100)["status"] == "running",
    )
    # failback: when pve1 (priority 3) is back, the service migrates home
    lab9.recover_node("pve1")
    wait_for(
        "VM 100 back on pve1",
        lambda: vm_resource(api, 100)["node"] == "pve1" and service(api, "vm:100")["state"] == "started",
    )


def test_strict_rule_with_no_member_left_waits_in_recovery(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    api.cluster.ha.rules.post(rule="only-1", type="node-affinity", resources="vm:100", nodes="pve1", strict=1)
    wait_for("started", lambda: service(api, "vm:100")["state"] == "started")
    lab9.fail_node("pve1")
    wait_for("recovery state", lambda: service(api, "vm:100")["crm_state"] == "recovery")
    assert "recovering service 'vm:100' from fenced node 'pve1' failed, no recovery node found" in lab9.pve.ha.log
    lab9.recover_node("pve1")
    wait_for(
        "VM 100 running on pve1 again",
        lambda: vm_resource(api, 100)["status"] == "running" and service(api, "vm:100")["state"] == "started",
    )
    assert "recover service 'vm:100' to previous failed and fenced node 'pve1' again" in lab9.pve.ha.log


def test_pve8_restricted_group_places_the_recovery(lab8: InProcessLab) -> None:
    lab8.add_vm(100, running=True)
    api = lab8.api()
    api.cluster.ha.groups.post(group="g1", nodes="pve1:2,pve3:1", restricted=1)
    api.cluster.ha.resources.post(sid="vm:100", group="g1")
    wait_for("started", lambda: service(api, "vm:100")["state"] == "started")
    lab8.fail_node("pve1")
    wait_for(
        "VM 100 on pve3",
        lambda: vm_resource(api, 100)["node"] == "pve3" and vm_resource(api, 100)["status"] == "running",
    )
    assert service(api, "vm:100")["group"] == "g1"


@pytest.mark.parametrize(("max_relocate", "failed_nodes"), [(0, ["pve2"]), (1, ["pve2", "pve3"])])
def test_start_failures_after_recovery_end_in_error(
    lab9: InProcessLab, max_relocate: int, failed_nodes: list[str]
) -> None:
    # PVE's max_relocate counts nodes where *starting* failed, not fencing moves: the recovery itself
    # always happens, a start that keeps failing uses up the relocations and ends in 'error'.
    vm = lab9.add_vm(100, running=True)
    lab9.add_vm(101, node="pve3", running=True)  # makes pve2 the first recovery choice
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100", max_relocate=max_relocate)
    api.cluster.ha.resources.post(sid="vm:101")
    wait_for("started", lambda: service(api, "vm:100")["state"] == "started")
    lab9.run(lambda: setattr(vm, "start_error", "start failed: QEMU exited with code 1"))
    lab9.fail_node("pve1")
    wait_for("error state", lambda: service(api, "vm:100")["crm_state"] == "error")
    assert lab9.pve.ha.services["vm:100"].failed_nodes == failed_nodes
    assert vm_resource(api, 100)["status"] == "stopped"
    assert (
        "recovery policy for service vm:100 failed, entering error state. Failed nodes: " + ", ".join(failed_nodes)
    ) in lab9.pve.ha.log
    # in error, only `state=disabled` is taken
    assert error_of(lambda: api.cluster.ha.resources("vm:100").put(state="started"))[:2] == (
        500,
        "service 'vm:100' in error state, must be disabled and fixed first",
    )
    api.cluster.ha.resources("vm:100").put(state="disabled")
    assert service(api, "vm:100")["crm_state"] == "stopped"


def test_stopped_resources_move_but_stay_stopped_and_disabled_ones_stay(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    lab9.add_vm(101)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100", state="stopped")
    api.cluster.ha.resources.post(sid="vm:101", state="disabled")
    wait_for("stopped", lambda: service(api, "vm:100")["crm_state"] == "stopped")
    lab9.fail_node("pve1")
    wait_for("VM 100 moved", lambda: vm_resource(api, 100)["node"] != "pve1")
    assert vm_resource(api, 100)["status"] == "stopped"
    time.sleep(FENCE_DELAY + 0.5)
    assert lab9.pve.vm(101).node == "pve1"  # disabled: not recovered


# -- HA migrations --------------------------------------------------------------------------------------


def test_migrate_of_an_ha_vm_is_an_ha_request(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    upid = api.nodes("pve1").qemu(100).migrate.post(target="pve2", online=1)
    assert ":hamigrate:100:" in upid
    assert wait_task(api, upid) == ("OK", ["Requesting HA migration for VM 100 to node pve2", "TASK OK"])
    assert vm_resource(api, 100)["node"] == "pve1"  # the task ends before the VM moves
    wait_for(
        "VM 100 on pve2",
        lambda: service(api, "vm:100")["node"] == "pve2" and service(api, "vm:100")["crm_state"] == "started",
    )
    assert vm_resource(api, 100)["status"] == "running"


def test_a_running_vm_put_under_ha_is_not_started_again(lab9: InProcessLab) -> None:
    # pve-ha-manager src/PVE/HA/LRM.pm exec_resource_agent: `return SUCCESS if $running` for 'started'
    lab9.add_vm(100, running=True)
    api = lab9.api()
    api.cluster.ha.resources.post(sid="vm:100")
    wait_for("CRM state started", lambda: service(api, "vm:100")["crm_state"] == "started")
    assert [t["type"] for t in api.nodes("pve1").tasks.get(vmid=100)] == []


def test_ha_migration_takes_local_disks_along(lab9: InProcessLab) -> None:
    # pve-ha-manager src/PVE/HA/Resources/PVEVM.pm migrate passes `with-local-disks => 1`
    api = lab9.api()
    assert wait_task(api, api.nodes("pve2").qemu.post(vmid=100, memory=512, scsi0="local-lvm:1"))[0] == "OK"
    api.cluster.ha.resources.post(sid="vm:100")
    wait_for("VM 100 started by HA", lambda: vm_resource(api, 100)["status"] == "running")
    # failback: the rule prefers pve1, so the CRM migrates the running VM there, local disk and all
    api.cluster.ha.rules.post(rule="home", type="node-affinity", resources="vm:100", nodes="pve1:2,pve2:1")
    wait_for(
        "VM 100 failed back to pve1",
        lambda: vm_resource(api, 100)["node"] == "pve1" and service(api, "vm:100")["state"] == "started",
    )
    migration = next(t for t in api.nodes("pve2").tasks.get(vmid=100) if t["type"] == "qmigrate")
    assert migration["status"] == "OK"
    assert vm_resource(api, 100)["status"] == "running"


def test_resource_migrate_endpoint(lab9: InProcessLab) -> None:
    lab9.add_vm(100, running=True)
    api = lab9.api()
    assert error_of(lambda: api.cluster.ha.resources("vm:100").migrate.post(node="pve2"))[:2] == (
        500,
        "resource 'vm:100' is not HA managed",
    )
    api.cluster.ha.resources.post(sid="vm:100")
    assert api.cluster.ha.resources("vm:100").relocate.post(node="pve3") == {"sid": "vm:100", "requested-node": "pve3"}
    wait_for(
        "VM 100 relocated to pve3",
        lambda: vm_resource(api, 100)["node"] == "pve3" and vm_resource(api, 100)["status"] == "running",
    )


# -- rules -------------------------------------------------------------------------------------------------


def test_rules_api(lab9: InProcessLab) -> None:
    lab9.add_vm(100)
    lab9.add_vm(101)
    ha = lab9.api().cluster.ha
    assert error_of(lambda: ha.rules.post(rule="r1", type="node-affinity", resources="vm:100", nodes="pve1"))[:2] == (
        500,
        "create ha rule failed: cannot use unmanaged resource(s) vm:100.",
    )
    ha.resources.post(sid="vm:100", state="stopped")
    ha.resources.post(sid="vm:101", state="stopped")
    assert error_of(lambda: ha.rules.post(rule="r1", type="node-affinity", resources="vm:100", nodes="pve7"))[:2] == (
        500,
        "create ha rule failed: cannot use non-existent node(s) pve7.",
    )
    status, _, errs = error_of(lambda: ha.rules.post(rule="r1", type="node-affinity", resources="100", nodes="pve1"))
    assert (status, errs) == (400, {"resources": "invalid format - value does not look like a valid ha resource id\n"})
    status, _, errs = error_of(lambda: ha.rules.post(rule="r1", type="colocation", resources="vm:100"))
    assert status == 400 and "type" in errs
    assert ha.rules.post(rule="r1", type="node-affinity", resources="vm:101,vm:100", nodes="pve2:2,pve1") is None
    assert error_of(lambda: ha.rules.post(rule="r1", type="node-affinity", resources="vm:100", nodes="pve1"))[:2] == (
        500,
        "create ha rule failed: HA rule 'r1' already defined",
    )
    assert error_of(lambda: ha.rules.post(rule="r2", type="node-affinity", resources="vm:100", nodes="pve3"))[:2] == (
        500,
        "create ha rule failed: Rule 'r2' is invalid.",
    )
    rule = ha.rules("r1").get()
    assert {k: rule[k] for k in ("rule", "type", "resources", "nodes", "affinity", "order")} == {
        "rule": "r1",
        "type": "node-affinity",
        "resources": "vm:100,vm:101",
        "nodes": "pve1,pve2:2",
        "affinity": "positive",
        "order": 1,
    }
    assert ha.rules("r1").put(type="node-affinity", strict=1, digest=rule["digest"]) is None
    assert ha.rules("r1").get()["strict"] == 1
    assert error_of(lambda: ha.rules("r1").put(type="node-affinity", delete="nodes"))[:2] == (
        500,
        "update HA rules failed: unable to delete required option 'nodes'",
    )
    assert [r["rule"] for r in ha.rules.get(resource="vm:101")] == ["r1"]
    # deleting a resource purges it from the rules (PVE 9's default purge=1)
    ha.resources("vm:100").delete()
    assert ha.rules("r1").get()["resources"] == "vm:101"
    assert ha.rules("r1").delete() is None
    assert ha.rules("r1").delete() is None  # deleting a missing rule is no error
    assert error_of(lambda: ha.rules("r1").get())[:2] == (500, "no such ha rule 'r1'")


def test_a_trailing_slash_reaches_the_same_handler(lab9: InProcessLab) -> None:
    # PVE's router ignores it, and the bpg provider POSTs HA resources to /cluster/ha/resources/.
    lab9.add_vm(120)
    url = f"https://{lab9.pve.host}:{lab9.pve.port}/api2/json/cluster/ha/resources/"
    token = lab9.run(lambda: lab9.pve.apitokens.setdefault("root@pam!slash", "s3cret"))
    auth = {"Authorization": f"PVEAPIToken=root@pam!slash={token}"}
    reply = requests.post(
        url, data={"sid": "vm:120", "state": "stopped"}, timeout=10, verify=str(lab9.certs.ca_cert), headers=auth
    )
    assert reply.status_code == 200, reply.text
    assert lab9.api().cluster.ha.resources("vm:120").get()["state"] == "stopped"
