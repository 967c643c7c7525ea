"""`pulumi preview --json` of a stack -> the Markdown comment a pull request gets for that stack.

    PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi preview --stack lab1 --json --diff \\
        --policy-pack policy > preview.json
    python -m hci_tools.preview_comment --stack lab1 --preview preview.json [--cwd PROJECT] [--no-cluster]

At the top, in words an operator cannot miss, every step that touches data (an OSD, pool, RBD
storage, VM disk or MON deleted or replaced; allowDataLoss on), each with what it holds, read
from the cluster when it answers; then the policy pack's findings; then the counts per operation,
a table of the planned steps and the changed properties. Both forms of `--json` are read (the
PreviewDigest object, or the event stream, which alone carries policy violations). The first
line is a marker the workflow finds the comment by, so each push edits the same comment.

Endpoint and credentials for the cluster read come from the stack's config
(`pulumi config --json --show-secrets`, run in --cwd) or the PROXMOX_VE_* environment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .cluster_facts import ClusterFacts, ProxmoxerApi, gather, resolve_access
from .preview_plan import DataRisk, Preview, Step, data_risks, parse_preview_text

MAX_COMMENT = 60_000  # GitHub refuses comments over 65 536 characters
OP_ORDER = ("delete", "replace", "update", "create", "read", "refresh", "import", "discard", "same")
OP_WORDS = {
    "create": "to create",
    "update": "to update",
    "delete": "to delete",
    "replace": "to replace",
    "same": "unchanged",
    "read": "to read",
    "refresh": "to refresh",
    "import": "to import",
    "discard": "to forget",
}
OP_ICONS = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "read": ">", "import": "=", "discard": "-"}


def marker(stack: str) -> str:
    return f"<!-- proxmox-hci-preview stack={stack} -->"


def _sorted_ops(counts: Mapping[str, int]) -> list[str]:
    return sorted(counts, key=lambda op: (OP_ORDER.index(op) if op in OP_ORDER else len(OP_ORDER), op))


def summary_line(preview: Preview) -> str:
    counts = {op: n for op, n in preview.counts().items() if op not in ("create-replacement", "delete-replaced")}
    parts = [f"{counts[op]} {OP_WORDS.get(op, op)}" for op in _sorted_ops(counts)]
    return ", ".join(parts) if parts else "no resources"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def _lookup(props: Mapping[str, Any], path: str) -> Any:
    """A property path of detailedDiff (disks[1].size, cpu.cores) in a property bag, or None."""
    current: Any = props
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def risk_section(risks: list[DataRisk], facts: Mapping[DataRisk, str], cluster_note: str) -> list[str]:
    if not risks:
        return []
    lines = [
        "> [!CAUTION]",
        f"> ## ⚠️ THIS CHANGE DELETES OR REPLACES DATA ({len(risks)} step(s))",
        "> Read every line below before you merge; the data is not recoverable once the step has run.",
        ">",
    ]
    for risk in risks:
        said = facts.get(risk)
        holds = f": {said}" if said else ""
        lines.append(f"> - **{risk.what} is {risk.happens.upper()}**{holds}")
    if cluster_note:
        lines += [">", f"> {cluster_note}"]
    return [*lines, ""]


def steps_table(changes: list[Step]) -> list[str]:
    lines = ["| op | resource | type | changed properties |", "|---|---|---|---|"]
    for step in sorted(changes, key=lambda s: (OP_ORDER.index(s.op) if s.op in OP_ORDER else 99, s.urn)):
        props = ", ".join(f"`{p}`" for p in step.changed_properties()[:8])
        more = f" (+{len(step.changed_properties()) - 8})" if len(step.changed_properties()) > 8 else ""
        if step.replace_reasons:
            props += f" — replaced because of {', '.join(f'`{r}`' for r in step.replace_reasons)}"
        icon = OP_ICONS.get(step.op, "")
        lines.append(f"| {icon} {step.op} | `{_cell(step.name)}` | {step.short_type} | {_cell(props + more)} |")
    return lines


def property_changes(changes: list[Step]) -> list[str]:
    rows = []
    for step in changes:
        if step.op not in ("update", "replace"):
            continue
        old, new = step.inputs("old"), step.inputs("new")
        for path in step.changed_properties():
            kind = step.detailed_diff.get(path, "update")
            before, after = _lookup(old, path), _lookup(new, path)
            rows.append(
                f"| `{_cell(step.name)}` | `{_cell(path)}` | {kind} | "
                f"{_cell(_value(before)) if before is not None else '—'} | "
                f"{_cell(_value(after)) if after is not None else '—'} |"
            )
    if not rows:
        return []
    return [
        "<details open><summary>Changed properties</summary>",
        "",
        "| resource | property | change | old | new |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "</details>",
    ]


def policy_section(preview: Preview) -> list[str]:
    if not preview.policy_violations:
        return []
    mandatory = [v for v in preview.policy_violations if v.level == "mandatory"]
    head = (
        f"**Policy pack: {len(mandatory)} mandatory violation(s)** — this stack cannot be updated until they are fixed."
        if mandatory
        else "**Policy pack: advisory findings** (the update may go ahead)."
    )
    lines = [head, ""]
    for v in sorted(preview.policy_violations, key=lambda v: (v.level != "mandatory", v.policy, v.urn)):
        icon = "❌" if v.level == "mandatory" else "⚠️"
        finding = v.message.splitlines()[-1] if v.message else ""
        lines.append(f"- {icon} `{v.policy}` ({v.level}) on `{v.resource}`: {finding}")
    return [*lines, ""]


def diagnostics_section(preview: Preview) -> list[str]:
    shown = [d for d in preview.diagnostics if d.get("severity") in ("error", "warning")]
    if not shown:
        return []
    lines = ["<details><summary>Diagnostics</summary>", "", "```"]
    for diag in shown[:40]:
        message = str(diag.get("message", "")).strip()
        severity = str(diag.get("severity"))
        lines.append(message[:600] if message.startswith(f"{severity}:") else f"{severity}: {message[:600]}")
    return [*lines, "```", "", "</details>"]


def render(
    stack: str,
    preview: Preview,
    facts: Mapping[DataRisk, str] | None = None,
    config: Mapping[str, Any] | None = None,
    cluster_note: str = "",
) -> str:
    """The whole comment. Pure: facts are what cluster_facts read (or nothing)."""
    risks = data_risks(preview, {**preview.config, **(config or {})})
    head = [marker(stack), f"### `pulumi preview` of stack `{stack}`", ""]
    if preview.is_noop and not risks:
        same = preview.counts().get("same", 0)
        body = [f"**No changes.** The stack matches its config ({same} resources unchanged).", ""]
        return "\n".join([*head, *body, *policy_section(preview), *diagnostics_section(preview)]).rstrip() + "\n"
    body = [
        *risk_section(risks, facts or {}, cluster_note),
        *policy_section(preview),
        f"**Plan:** {summary_line(preview)}",
        "",
        *steps_table(preview.changes),
        "",
        *property_changes(preview.changes),
        "",
        *diagnostics_section(preview),
    ]
    text = "\n".join([*head, *body]).rstrip() + "\n"
    if len(text) > MAX_COMMENT:
        text = text[: MAX_COMMENT - 200] + "\n\n… (cut to fit GitHub's comment size; run `pulumi preview --diff`)\n"
    return text


# -- the command ----------------------------------------------------------------------------------


def stack_config(stack: str, cwd: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The stack's config with secrets, as the providers see it; {} when pulumi cannot give it."""
    out = subprocess.run(
        ["pulumi", "config", "--json", "--show-secrets", "--stack", stack, "--non-interactive"],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        return {}
    data = json.loads(out.stdout or "{}")
    return {key: entry.get("value") for key, entry in data.items() if isinstance(entry, dict)}


def build_comment(
    stack: str,
    preview: Preview,
    cwd: Path,
    ask_cluster: bool = True,
    env: Mapping[str, str] | None = None,
) -> str:
    """The comment for one stack's preview; env is the environment pulumi and the credentials come from."""
    config = {**preview.config, **(stack_config(stack, cwd, env) if ask_cluster else {})}
    risks = data_risks(preview, config)
    facts: dict[DataRisk, str] = {}
    note = ""
    if risks and ask_cluster:
        access = resolve_access(config, env)
        if access is None:
            note = (
                "(The cluster was not asked what these hold: no endpoint or credentials in the stack or environment.)"
            )
        else:
            facts = gather(risks, ClusterFacts(ProxmoxerApi(access)))
            note = f"What each holds was read from the cluster at {access.endpoint} just now."
    return render(stack, preview, facts, config, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hci_tools.preview_comment", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", default="-", help="the `pulumi preview --json` output (a file, or - for stdin)")
    parser.add_argument("--cwd", default=".", help="the Pulumi project directory (for the stack's config)")
    parser.add_argument(
        "--no-cluster", action="store_true", help="do not ask the cluster what data-touching steps hold"
    )
    parser.add_argument("--output", default="-", help="where to write the Markdown (default stdout)")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.preview == "-" else Path(args.preview).read_text()
    try:
        preview = parse_preview_text(text)
    except (ValueError, AttributeError):
        print(f"preview_comment: {args.preview} is not `pulumi preview --json` output", file=sys.stderr)
        return 2
    if not preview.steps and not preview.policy_violations and not preview.diagnostics:
        print(f"preview_comment: {args.preview} holds no preview (did `pulumi preview` run?)", file=sys.stderr)
        return 2
    comment = build_comment(args.stack, preview, Path(args.cwd), ask_cluster=not args.no_cluster)
    if args.output == "-":
        sys.stdout.write(comment)
    else:
        Path(args.output).write_text(comment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
