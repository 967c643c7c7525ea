"""The pull-request comment from `pulumi preview --json`: data-touching steps first, in words, with
what the cluster says they hold; then counts, the steps and the changed properties; "No changes"
for a no-op. Previews here follow the engine's PreviewDigest (pkg/display/json.go); the e2e tier
runs the same code on real previews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hci_tools import cluster_facts, preview_comment
from hci_tools.preview_plan import OSD, POOL, VM, data_risks, parse_preview, parse_preview_text

STACK_URN = "urn:pulumi:lab1::proxmox-hci::pulumi:pulumi:Stack::proxmox-hci-lab1"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:lab1::proxmox-hci::proxmox-hci:ceph:Cluster${type_}::{name}"


def state(type_: str, inputs: dict[str, Any], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": type_, "inputs": inputs, "outputs": {**inputs, **(outputs or {})}}


OSD_INPUTS = {"node": "pve1", "device": "/dev/sdc", "allow_data_loss": False, "__provider": "gASV..."}
POOL_OLD = {"pool_name": "vm-pool", "size": 3, "min_size": 2, "allow_data_loss": False}


def step(
    op: str, type_: str, name: str, old: dict[str, Any] | None = None, new: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op, "urn": urn(type_, name), "provider": "", "detailedDiff": None}
    if old is not None:
        out["oldState"] = state(type_, old, {"osd_id": 3} if type_ == OSD else None)
    if new is not None:
        out["newState"] = state(type_, new)
    out.update(extra)
    return out


def removal_preview() -> dict[str, Any]:
    return {
        "config": {"proxmox-hci:pveVersion": "9"},
        "steps": [
            {"op": "same", "urn": STACK_URN, "newState": {"type": "pulumi:pulumi:Stack"}},
            step("delete", OSD, "hci-ceph-osd-pve1-sdc", old=OSD_INPUTS),
            step(
                "update",
                POOL,
                "hci-ceph-pool-vm-pool",
                old=POOL_OLD,
                new={**POOL_OLD, "min_size": 3},
                detailedDiff={"min_size": {"kind": "update", "inputDiff": True}},
                diffReasons=["min_size"],
            ),
            step(
                "same",
                "pulumi-python:dynamic/ceph:Monitor",
                "hci-ceph-mon-pve1",
                old={"node": "pve1"},
                new={"node": "pve1"},
            ),
        ],
        "changeSummary": {"delete": 1, "update": 1, "same": 2},
    }


class FakeApi:
    """The PVE API answers cluster_facts reads, shaped as pve-manager returns them."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.paths: list[str] = []

    def get(self, path: str, **params: Any) -> Any:
        self.paths.append(path)
        if self.fail:
            raise ConnectionError("connection refused")
        answers: dict[str, Any] = {
            "nodes": [{"node": "pve2", "status": "online"}, {"node": "pve1", "status": "online"}],
            "nodes/pve1/ceph/osd": {
                "root": {
                    "children": [
                        {
                            "type": "host",
                            "name": "pve1",
                            "children": [
                                {"id": 3, "type": "osd", "pgs": 33, "bytes_used": 150 * 2**20, "status": "up", "in": 1}
                            ],
                        }
                    ]
                }
            },
            "nodes/pve1/ceph/pool": [{"pool_name": "vm-pool", "bytes_used": 3 * 2**30, "pg_num": 32}],
            "nodes/pve1/ceph/pool/vm-pool/status": {"statistics": {"objects": 812, "stored": 2**30}},
            "nodes/pve1/storage/ceph-vm/content": [
                {"volid": "ceph-vm:vm-101-disk-0", "content": "images", "size": 8 * 2**30}
            ],
            "nodes/pve1/qemu/101/config": {"scsi0": "ceph-vm:vm-101-disk-0,size=8G", "ide2": "none,media=cdrom"},
        }
        return answers[path]


def test_an_osd_removal_is_the_first_thing_said_with_what_it_holds() -> None:
    preview = parse_preview(removal_preview())
    facts = cluster_facts.gather(data_risks(preview), cluster_facts.ClusterFacts(FakeApi()))
    text = preview_comment.render("lab1", preview, facts, cluster_note="read just now")
    lines = text.splitlines()
    assert lines[0] == "<!-- proxmox-hci-preview stack=lab1 -->"
    caution = next(i for i, line in enumerate(lines) if "DELETES OR REPLACES DATA" in line)
    plan = next(i for i, line in enumerate(lines) if line.startswith("**Plan:**"))
    assert caution < plan, "the data warning comes before everything else"
    warning = next(line for line in lines if "osd.3" in line)
    assert "OSD osd.3 on pve1 (/dev/sdc) is DELETED" in warning
    assert "holds 33 PGs and 150.0 MiB (up, in)" in warning
    assert "**Plan:** 1 to delete, 1 to update, 2 unchanged" in text
    assert "| - delete | `hci-ceph-osd-pve1-sdc` | ceph:Osd |" in text
    assert "| `hci-ceph-pool-vm-pool` | `min_size` | update | 2 | 3 |" in text
    assert "hci-ceph-mon-pve1" not in text  # unchanged steps are counted, not listed


def test_no_op_preview_says_no_changes_and_nothing_else() -> None:
    data = {
        "steps": [{"op": "same", "urn": STACK_URN}, step("same", POOL, "p", old=POOL_OLD, new=POOL_OLD)],
        "changeSummary": {"same": 2},
    }
    text = preview_comment.render("dev", parse_preview(data))
    assert "**No changes.** The stack matches its config (2 resources unchanged)." in text
    assert "DATA" not in text and "| op |" not in text


def test_pool_storage_mon_and_vm_removals_and_replacements_are_all_data_risks() -> None:
    storage = "pulumi-python:dynamic/storage:Rbd"
    mon = "pulumi-python:dynamic/ceph:Monitor"
    vm_old: dict[str, Any] = {
        "vmId": 101,
        "nodeName": "pve1",
        "name": "app1",
        "disks": [
            {"interface": "scsi0", "datastoreId": "ceph-vm", "size": 8},
            {"interface": "scsi1", "datastoreId": "ceph-vm", "size": 4},
        ],
    }
    vm_new = {**vm_old, "disks": vm_old["disks"][:1]}
    data = {
        "steps": [
            step("delete", POOL, "hci-ceph-pool-vm-pool", old=POOL_OLD),
            step(
                "replace",
                storage,
                "hci-ceph-storage-ceph-vm",
                old={"storage": "ceph-vm", "pool": "vm-pool"},
                new={"storage": "ceph-vm", "pool": "other"},
                replaceReasons=["pool"],
            ),
            step("delete-replaced", storage, "hci-ceph-storage-ceph-vm", old={"storage": "ceph-vm", "pool": "vm-pool"}),
            step("delete", mon, "hci-ceph-mon-pve3", old={"node": "pve3", "mon_id": "pve3"}),
            step(
                "update",
                VM,
                "hci-vm-app1-qemu",
                old=vm_old,
                new=vm_new,
                detailedDiff={"disks[1]": {"kind": "delete", "inputDiff": True}},
            ),
        ]
    }
    risks = data_risks(parse_preview(data))
    said = [f"{r.what} is {r.happens}" for r in risks]
    assert said == [
        "Ceph pool vm-pool is deleted",
        "RBD storage ceph-vm (pool vm-pool) is replaced",
        "Ceph MON mon.pve3 on pve3 is deleted",
        "disk scsi1 of VM app1 (101 on pve1) (ceph-vm, 4 GiB) is deleted",
    ]
    facts = cluster_facts.gather(risks, cluster_facts.ClusterFacts(FakeApi()))
    assert facts[risks[0]] == "holds 812 objects, 1.0 GiB stored (3.0 GiB raw) in 32 PGs"
    assert facts[risks[1]] == "holds 1 image(s), 8.0 GiB: vm-101-disk-0"


def test_retiring_an_osd_is_a_data_risk_and_deleting_a_retired_one_is_not() -> None:
    retired = {**OSD_INPUTS, "retired": True}
    data = {
        "steps": [
            step("update", OSD, "hci-ceph-osd-pve1-sdb", old=OSD_INPUTS, new=retired),
            step("delete", OSD, "hci-ceph-osd-pve1-sdc", old={**retired, "device": "/dev/sdc"}),
            step("update", OSD, "hci-ceph-osd-pve1-sdd", old=OSD_INPUTS, new={**OSD_INPUTS, "wipe": True}),
        ]
    }
    risks = data_risks(parse_preview(data))
    assert [(r.urn.rsplit("::", 1)[-1], r.happens) for r in risks] == [
        ("hci-ceph-osd-pve1-sdb", "drained, then destroyed (its node retires)")
    ]


def test_allow_data_loss_on_is_a_data_risk_by_resource_and_by_stack_key() -> None:
    flagged = {**OSD_INPUTS, "allow_data_loss": True}
    data = {"steps": [step("same", OSD, "hci-ceph-osd-pve1-sdb", old=flagged, new=flagged)]}
    risks = data_risks(parse_preview(data))
    assert [(r.what, r.happens) for r in risks] == [("allowDataLoss for 1 resource(s): hci-ceph-osd-pve1-sdb", "on")]
    text = preview_comment.render("lab1", parse_preview(data))
    assert "allowDataLoss for 1 resource(s): hci-ceph-osd-pve1-sdb is ON" in text  # even on an otherwise no-op
    by_key = data_risks(parse_preview({"steps": []}), {"proxmox-hci:allowDataLoss": "true"})
    assert [r.what for r in by_key] == ["allowDataLoss for the stack"]


def test_an_unreachable_cluster_still_gets_the_warning_with_the_reason() -> None:
    preview = parse_preview(removal_preview())
    facts = cluster_facts.gather(data_risks(preview), cluster_facts.ClusterFacts(FakeApi(fail=True)))
    text = preview_comment.render("lab1", preview, facts)
    warning = next(line for line in text.splitlines() if "osd.3" in line)
    assert "is DELETED**: (could not be read from the cluster: ConnectionError: connection refused)" in warning


def test_access_comes_from_stack_config_before_the_environment() -> None:
    env = {"PROXMOX_VE_ENDPOINT": "https://env:8006", "PROXMOX_VE_API_TOKEN": "root@pam!ci=x", "SSL_CERT_FILE": "/ca"}
    from_env = cluster_facts.resolve_access({}, env)
    assert from_env is not None and from_env.endpoint == "https://env:8006" and from_env.verify == "/ca"
    from_stack = cluster_facts.resolve_access({"proxmoxve:endpoint": "https://stack:8006/"}, env)
    assert from_stack is not None and from_stack.endpoint == "https://stack:8006"
    # preview --json blinds secrets: "[secret]" is no credential, the environment's is used.
    blinded = cluster_facts.resolve_access({"proxmoxve:apiToken": "[secret]"}, env)
    assert blinded is not None and blinded.api_token == "root@pam!ci=x"
    assert cluster_facts.resolve_access({}, {}) is None
    assert "x" not in repr(from_env)


def test_a_huge_plan_is_cut_below_githubs_limit_keeping_the_warning() -> None:
    data = removal_preview()
    data["steps"] += [step("create", POOL, f"pool-{i:05d}", new=POOL_OLD) for i in range(3000)]
    text = preview_comment.render("lab1", parse_preview(data))
    assert len(text) < 65_536 and "DELETES OR REPLACES DATA" in text and "cut to fit" in text


def test_changed_inputs_are_computed_when_the_provider_gives_no_diff_detail() -> None:
    """Python dynamic providers report no detailedDiff; the comment still names what changed."""
    gate = "pulumi-python:dynamic/ceph:HealthGate"
    old = {"triggers": {"osds": ["pve1:/dev/sdb", "pve1:/dev/sdc"]}, "require": "HEALTH_OK", "__provider": "a"}
    new = {"triggers": {"osds": ["pve1:/dev/sdb"]}, "require": "HEALTH_OK", "__provider": "b"}
    text = preview_comment.render(
        "lab1", parse_preview({"steps": [step("update", gate, "hci-ceph-gate-osds", old=old, new=new)]})
    )
    assert "| ~ update | `hci-ceph-gate-osds` | ceph:HealthGate | `triggers` |" in text
    assert '| `hci-ceph-gate-osds` | `triggers` | update | {"osds": ["pve1:/dev/sdb", "pve1:/dev/sdc"]} |' in text
    assert "__provider" not in text


STREAM = Path(__file__).parent / "data" / "probe-preview-stream.jsonl"


def test_the_event_stream_of_a_real_preview_carries_the_policy_findings_into_the_comment() -> None:
    """tests/unit/tools/data: `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi preview --json --policy-pack
    policy` of tests/e2e/policy_probe (two MONs on pve1, an HA VM on local-lvm), debug lines dropped."""
    preview = parse_preview_text(STREAM.read_text())
    assert {s.op for s in preview.steps} == {"create"} and len(preview.changes) == 7
    assert preview.change_summary == {"create": 8}
    assert {(v.policy, v.level) for v in preview.policy_violations} == {
        ("mon-quorum", "mandatory"),
        ("ha-disks-on-shared-storage", "mandatory"),
        ("stack-kind-tag", "advisory"),
    }
    text = preview_comment.render("probe", preview)
    assert "**Policy pack: 3 mandatory violation(s)**" in text
    assert "- ❌ `ha-disks-on-shared-storage` (mandatory) on `probe-vm`: VM probe (vm:201) is HA-managed" in text
    assert "- ⚠️ `stack-kind-tag` (advisory) on `policy-probe-probe`" in text
    assert text.index("Policy pack") < text.index("**Plan:** 8 to create")
    assert "| + create | `probe-vm` | proxmoxve:VmLegacy |" in text


def test_the_digest_form_is_read_too() -> None:
    preview = parse_preview_text(json.dumps(removal_preview()))
    assert [s.op for s in preview.changes] == ["delete", "update"] and preview.config == {"proxmox-hci:pveVersion": "9"}
