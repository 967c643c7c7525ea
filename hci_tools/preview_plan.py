"""`pulumi preview --json` of a proxmox-hci stack, read into typed steps, and the steps that touch data.

Pure: no I/O. `preview_comment` renders it; `cluster_facts` adds what the data-touching steps hold.

The JSON is the engine's PreviewDigest (pulumi/pulumi pkg/display/json.go): `steps[]` of
{op, urn, oldState, newState, diffReasons, replaceReasons, detailedDiff}, `changeSummary`
(op -> count) and `diagnostics`. State objects are apitype.ResourceV3 (type, inputs, outputs,
protect, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OSD = "pulumi-python:dynamic/ceph:Osd"
POOL = "pulumi-python:dynamic/ceph:Pool"
MON = "pulumi-python:dynamic/ceph:Monitor"
RBD_STORAGE = "pulumi-python:dynamic/storage:Rbd"
VM = "proxmoxve:index/vmLegacy:VmLegacy"

# Ops that remove the old object (or its data) and the word an operator reads for them.
REMOVING_OPS = {"delete": "deleted", "replace": "replaced", "delete-replaced": "replaced", "discard": "deleted"}
# Ops only the engine's bookkeeping needs: a replace shows as one "replace" row.
HIDDEN_OPS = {"create-replacement", "delete-replaced", "discard-replaced", "read-replacement", "import-replacement"}
# The inputs, per type, that let a provider destroy data (all set from the stack's allowDataLoss).
DATA_LOSS_FLAGS = {
    OSD: "allow_data_loss",
    POOL: "allow_data_loss",
    RBD_STORAGE: "allow_delete_with_volumes",
    MON: "allow_shrink",
    "pulumi-python:dynamic/ceph:Manager": "allow_last_removal",
}
# Engine-internal inputs never worth showing in a diff.
INTERNAL_PROPS = {"__provider"}


@dataclass(frozen=True)
class Step:
    op: str
    urn: str
    old: Mapping[str, Any] = field(default_factory=dict)  # ResourceV3 or {}
    new: Mapping[str, Any] = field(default_factory=dict)
    detailed_diff: Mapping[str, str] = field(default_factory=dict)  # property path -> kind
    diff_reasons: tuple[str, ...] = ()
    replace_reasons: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return str((self.new or self.old).get("type") or urn_type(self.urn))

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def short_type(self) -> str:
        """pulumi-python:dynamic/ceph:Osd -> ceph:Osd; proxmoxve:index/vmLegacy:VmLegacy -> proxmoxve:VmLegacy."""
        package, _, rest = self.type.partition(":")
        module, _, kind = rest.rpartition(":")
        module = module.removeprefix("dynamic/").removeprefix("index/")
        if package == "pulumi-python":
            return f"{module.split('/')[0]}:{kind}" if module and module != "dynamic" else kind
        return f"{package}:{kind}"

    def inputs(self, which: str = "old") -> Mapping[str, Any]:
        state = self.old if which == "old" else self.new
        return state.get("inputs") or {}

    def outputs(self, which: str = "old") -> Mapping[str, Any]:
        state = self.old if which == "old" else self.new
        return state.get("outputs") or {}

    def changed_properties(self) -> list[str]:
        """What the engine says changed; for providers that report no diff detail (Python dynamic
        providers), the top-level inputs whose old and new values differ."""
        keys = list(self.detailed_diff) or list(self.diff_reasons)
        if not keys and self.op in ("update", "replace"):
            old, new = self.inputs("old"), self.inputs("new")
            keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        return [k for k in keys if k.split(".")[0].split("[")[0] not in INTERNAL_PROPS]


@dataclass(frozen=True)
class PolicyViolation:
    policy: str
    level: str  # mandatory, advisory, ...
    urn: str
    message: str  # the policy's description, then the violation itself

    @property
    def resource(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else "the stack"


@dataclass(frozen=True)
class Preview:
    steps: tuple[Step, ...]
    change_summary: Mapping[str, int]
    diagnostics: tuple[Mapping[str, Any], ...] = ()
    policy_violations: tuple[PolicyViolation, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.op not in ("same", *HIDDEN_OPS) and not is_stack(s)]

    @property
    def is_noop(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        if self.change_summary:
            return {op: n for op, n in self.change_summary.items() if n}
        out: dict[str, int] = {}
        for step in self.steps:
            if step.op not in HIDDEN_OPS:
                out[step.op] = out.get(step.op, 0) + 1
        return out


def urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 2 else ""


def is_stack(step: Step) -> bool:
    return step.type == "pulumi:pulumi:Stack"


def parse_preview_text(text: str) -> Preview:
    """Either form `pulumi preview --json` prints: the PreviewDigest object, or (with
    PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true, the only form that carries policy violations) one
    engine event per line (apitype.EngineEvent, sdk/go/common/apitype/events.go)."""
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, Mapping) and ("steps" in data or "changeSummary" in data or not data):
        return parse_preview(data)
    if isinstance(data, Mapping):
        return parse_events([data])
    events = []
    for line in stripped.splitlines():
        if line.strip():
            events.append(json.loads(line))
    return parse_events(events)


def parse_events(events: list[Mapping[str, Any]]) -> Preview:
    steps: dict[tuple[str, str], Step] = {}
    summary: dict[str, int] = {}
    diagnostics: list[Mapping[str, Any]] = []
    violations: list[PolicyViolation] = []
    config: dict[str, Any] = {}
    for event in events:
        if "resourcePreEvent" in event:
            meta = event["resourcePreEvent"].get("metadata") or {}
            step = Step(
                op=str(meta.get("op", "")),
                urn=str(meta.get("urn", "")),
                old=meta.get("old") or {},
                new=meta.get("new") or {},
                detailed_diff={
                    k: str(v.get("diffKind", v.get("kind", ""))) for k, v in (meta.get("detailedDiff") or {}).items()
                },
                diff_reasons=tuple(meta.get("diffs") or ()),
                replace_reasons=tuple(meta.get("keys") or ())
                if meta.get("op") in ("replace", "create-replacement")
                else (),
            )
            steps.setdefault((step.op, step.urn), step)
        elif "summaryEvent" in event:
            summary = dict(event["summaryEvent"].get("resourceChanges") or {})
        elif "diagnosticEvent" in event:
            diag = event["diagnosticEvent"]
            if diag.get("severity") in ("error", "warning"):
                message = f"{diag.get('prefix', '')}{diag.get('message', '')}"
                diagnostics.append({"severity": diag.get("severity"), "message": message, "urn": diag.get("urn", "")})
        elif "policyEvent" in event:
            pe = event["policyEvent"]
            violations.append(
                PolicyViolation(
                    policy=str(pe.get("policyName", "")),
                    level=str(pe.get("enforcementLevel", "")),
                    urn=str(pe.get("resourceUrn", "")),
                    message=str(pe.get("message", "")).strip(),
                )
            )
        elif "preludeEvent" in event:
            config = dict(event["preludeEvent"].get("config") or {})
    return Preview(
        steps=tuple(steps.values()),
        change_summary=summary,
        diagnostics=tuple(diagnostics),
        policy_violations=tuple(violations),
        config=config,
    )


def parse_preview(data: Mapping[str, Any]) -> Preview:
    steps = []
    for raw in data.get("steps") or []:
        steps.append(
            Step(
                op=str(raw.get("op", "")),
                urn=str(raw.get("urn", "")),
                old=raw.get("oldState") or {},
                new=raw.get("newState") or {},
                detailed_diff={k: str(v.get("kind", "")) for k, v in (raw.get("detailedDiff") or {}).items()},
                diff_reasons=tuple(raw.get("diffReasons") or ()),
                replace_reasons=tuple(raw.get("replaceReasons") or ()),
            )
        )
    return Preview(
        steps=tuple(steps),
        change_summary=dict(data.get("changeSummary") or {}),
        diagnostics=tuple(data.get("diagnostics") or ()),
        config=dict(data.get("config") or {}),
    )


# -- what touches data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataRisk:
    """One planned step that can lose data, in words, with what to ask the cluster about it."""

    what: str  # "OSD osd.3 on pve1 (/dev/sdc)"
    happens: str  # "deleted", "replaced", "disk removed", "allowDataLoss on"
    urn: str
    subject: tuple[str, ...] = ()  # for cluster_facts: ("osd", "3", "pve1"), ("pool", "vm-pool"), ...


def _osd_risk(step: Step, happens: str) -> DataRisk:
    old, outs = step.inputs(), step.outputs()
    osd_id, node, device = outs.get("osd_id"), old.get("node", "?"), old.get("device", "?")
    label = f"osd.{osd_id}" if osd_id is not None else "an OSD"
    subject = ("osd", str(osd_id), str(node)) if osd_id is not None else ()
    return DataRisk(f"OSD {label} on {node} ({device})", happens, step.urn, subject)


def _retiring(step: Step) -> bool:
    """An OSD update that retires it (nodes[].retire): the provider drains and destroys it in place."""
    return step.inputs("new").get("retired") is True and step.inputs().get("retired") is not True


def _pool_risk(step: Step, happens: str) -> DataRisk:
    name = step.inputs().get("pool_name", step.name)
    return DataRisk(f"Ceph pool {name}", happens, step.urn, ("pool", str(name)))


def _storage_risk(step: Step, happens: str) -> DataRisk:
    old = step.inputs()
    storage = old.get("storage", step.name)
    return DataRisk(
        f"RBD storage {storage} (pool {old.get('pool', '?')})", happens, step.urn, ("storage", str(storage))
    )


def _mon_risk(step: Step, happens: str) -> DataRisk:
    old, outs = step.inputs(), step.outputs()
    mon_id = outs.get("mon_id") or old.get("mon_id") or old.get("node", "?")
    return DataRisk(f"Ceph MON mon.{mon_id} on {old.get('node', '?')}", happens, step.urn, ("mon", str(mon_id)))


def _vm_label(step: Step) -> tuple[str, str, str]:
    old = {**step.outputs(), **step.inputs()}
    vm_id, node = str(old.get("vmId", "?")), str(old.get("nodeName", "?"))
    return f"VM {old.get('name', step.name)} ({vm_id} on {node})", vm_id, node


def _vm_risks(step: Step, happens: str | None) -> list[DataRisk]:
    label, vm_id, node = _vm_label(step)
    if happens is not None:
        return [DataRisk(f"{label} with all its disks", happens, step.urn, ("vm", vm_id, node))]
    # An update: a disk gone from the list is a disk deleted.
    old_disks = {d.get("interface"): d for d in step.inputs().get("disks") or [] if isinstance(d, Mapping)}
    new_disks = {d.get("interface") for d in step.inputs("new").get("disks") or [] if isinstance(d, Mapping)}
    out = []
    for interface, disk in old_disks.items():
        if interface not in new_disks:
            where = f"{disk.get('datastoreId', '?')}, {disk.get('size', '?')} GiB"
            out.append(
                DataRisk(
                    f"disk {interface} of {label} ({where})",
                    "deleted",
                    step.urn,
                    ("vmdisk", vm_id, node, str(interface)),
                )
            )
    return out


def data_risks(preview: Preview, config: Mapping[str, Any] | None = None) -> list[DataRisk]:
    """Every step that deletes or replaces an OSD, pool, RBD storage, MON or VM disk, and every
    resource that will run with allowDataLoss on (or the stack key itself)."""
    risks: list[DataRisk] = []
    for step in preview.steps:
        happens = REMOVING_OPS.get(step.op)
        if step.op == "delete-replaced" and any(s.urn == step.urn and s.op == "replace" for s in preview.steps):
            continue  # the replace row says it already
        if step.type == OSD and happens:
            if step.inputs().get("retired") is not True:  # a retired OSD's delete does nothing
                risks.append(_osd_risk(step, happens))
        elif step.type == OSD and step.op == "update" and _retiring(step):
            risks.append(_osd_risk(step, "drained, then destroyed (its node retires)"))
        elif step.type == POOL and happens:
            risks.append(_pool_risk(step, happens))
        elif step.type == RBD_STORAGE and happens:
            risks.append(_storage_risk(step, happens))
        elif step.type == MON and happens:
            risks.append(_mon_risk(step, happens))
        elif step.type == VM and (happens or step.op == "update"):
            risks.extend(_vm_risks(step, happens))
    flagged = []
    for step in preview.steps:
        flag = DATA_LOSS_FLAGS.get(step.type)
        if flag and step.op not in ("delete", "delete-replaced") and step.inputs("new").get(flag) is True:
            flagged.append(step.name)
    stack_flag = str((config or {}).get("proxmox-hci:allowDataLoss", "")).lower() == "true"
    if flagged or stack_flag:
        who = (
            f"{len(flagged)} resource(s): {', '.join(flagged[:6])}{', ...' if len(flagged) > 6 else ''}"
            if flagged
            else "the stack"
        )
        risks.append(DataRisk(f"allowDataLoss for {who}", "on", ""))
    return risks
