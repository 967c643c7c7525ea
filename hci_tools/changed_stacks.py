"""Which stacks a change touches: those whose Pulumi.<stack>.yaml changed, or every stack when the
program itself changed (the program, its pins, Pulumi.yaml's defaults or the policy pack).

    python -m hci_tools.changed_stacks --base origin/main --head HEAD            # JSON list, for a matrix
    python -m hci_tools.changed_stacks --base A --head B --tag proxmox-hci:up-on-merge=true

With --tag, only stacks that carry that stack tag in the current backend are kept (how a stack
opts in to `pulumi up` on merge).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.yaml$")
# What every stack runs: a change here changes every stack's preview.
PROGRAM_PATHS = (
    "Pulumi.yaml",
    "__main__.py",
    "requirements.lock",
    "components/",
    "dynamic_providers/",
    "hci_config/",
    "policy/",
)


def stack_of(path: str) -> str | None:
    match = STACK_FILE.match(path)
    return match["stack"] if match else None


def is_program(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PROGRAM_PATHS)


def stacks_in(root: Path) -> list[str]:
    return sorted(s for p in root.glob("Pulumi.*.yaml") if (s := stack_of(p.name)))


def affected_stacks(changed: Iterable[str], stacks: Iterable[str]) -> list[str]:
    """The stacks (of those that exist at head) whose preview the change can alter."""
    existing = sorted(set(stacks))
    changed = list(changed)
    if any(is_program(path) for path in changed):
        return existing
    touched = {s for path in changed if (s := stack_of(path))}
    return [s for s in existing if s in touched]


def changed_files(base: str, head: str, cwd: Path) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...{head}"], cwd=cwd, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"changed_stacks: git diff {base}...{head} failed: {out.stderr.strip()}")
    return [line for line in out.stdout.splitlines() if line]


def tagged_stacks(tag: str, cwd: Path, env: Mapping[str, str] | None = None) -> set[str]:
    """Stacks of the current backend carrying tag KEY=VALUE (`pulumi stack ls --tag`)."""
    out = subprocess.run(
        ["pulumi", "stack", "ls", "--json", "--tag", tag, "--non-interactive"],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if out.returncode != 0:
        raise SystemExit(f"changed_stacks: pulumi stack ls --tag {tag} failed: {out.stderr.strip()}")
    # DIY backends name stacks organization/project/stack or just stack; keep the last part.
    return {str(entry["name"]).rsplit("/", 1)[-1] for entry in json.loads(out.stdout or "[]")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hci_tools.changed_stacks", description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the commit the change starts from (e.g. origin/main)")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--cwd", default=".", help="the repository (the Pulumi project) root")
    parser.add_argument("--tag", help="keep only stacks with this stack tag, KEY=VALUE")
    args = parser.parse_args(argv)
    root = Path(args.cwd)
    stacks = affected_stacks(changed_files(args.base, args.head, root), stacks_in(root))
    if args.tag:
        if "=" not in args.tag:
            print("changed_stacks: --tag must be KEY=VALUE, e.g. proxmox-hci:up-on-merge=true", file=sys.stderr)
            return 2
        opted = tagged_stacks(args.tag, root)
        stacks = [s for s in stacks if s in opted]
    print(json.dumps(stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
