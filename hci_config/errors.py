"""Config problems: each names the key path (as `pulumi config set --path` spells it) and a fix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = Sequence[str | int]


def key_path(loc: Loc) -> str:
    """('vms', 0, 'disks', 1, 'moveTo') -> 'vms[0].disks[1].moveTo'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """The stack config cannot be used; `problems` lists every problem found, each with its key path."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid stack config for proxmox-hci ({count} problem{'s' if count != 1 else ''}; "
            f"fix with `pulumi config set --path <key> <value>` or edit Pulumi.<stack>.yaml):\n{lines}"
        )
