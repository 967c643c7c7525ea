"""When a create finds its object already there: take it over, or refuse naming both sides. Pure.

The rule (docs/architecture.md, "Resuming: what create takes over"): a create takes over an
existing object, `adopt` or not, only when it is exactly what that create would have made; that
is how a run interrupted after PVE made the object (a killed `pulumi up`, a dropped SSH session)
is finished by the next one. Each resource lists how the live object differs from what it would
make, each difference marked:

- *blocking*: the object is not ours and cannot become ours (another host, address, pool, fsid,
  application, an OSD of another cluster): refused, whatever `adopt` says;
- *adoptable*: an object made by hand that an update can bring in line (another size, content,
  crush rule; a pool that already holds data): taken over only with `adopt=true`
  (`adoptExisting` in the stack config), and then changed to match.

No difference: taken over, and the output says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dynamic_providers.errors import AlreadyExists


@dataclass(frozen=True)
class Difference:
    what: str  # the property, as the resource's inputs name it
    found: Any  # what the cluster holds
    wanted: Any  # what create would make
    adoptable: bool = False

    def __str__(self) -> str:
        return f"{self.what} is {_shown(self.found)} there, {_shown(self.wanted)} here"


@dataclass(frozen=True)
class Takeover:
    message: str  # what the output says
    converge: bool  # adoptable differences were taken over: the caller changes the object to match


def differ(what: str, found: Any, wanted: Any, *, adoptable: bool = False) -> list[Difference]:
    """[Difference] if found != wanted, else []."""
    return [] if found == wanted else [Difference(what, found, wanted, adoptable)]


def decide(subject: str, differences: Sequence[Difference], *, adopt: bool, fix: str, facts: str = "") -> Takeover:
    """Take over `subject` (e.g. "mon.pve2 on pve2"), or raise AlreadyExists naming both sides and the fix.

    `fix` says what to do about a blocking difference; `facts` what was checked, for the message.
    """
    blocking = [d for d in differences if not d.adoptable]
    if blocking:
        raise AlreadyExists(
            f"{subject} already exists and is not what this resource would make: "
            f"{'; '.join(map(str, blocking))}. Nothing was changed. {fix}"
        )
    if differences and not adopt:
        raise AlreadyExists(
            f"{subject} already exists and differs from the declaration: {'; '.join(map(str, differences))}. "
            "Nothing was changed. To take it over and change it to match, set adopt=true (adoptExisting: true "
            "in the stack config); or declare what is there"
        )
    if differences:
        return Takeover(
            f"adopted {subject} (adopt=true); changing it to match: {'; '.join(map(str, differences))}", True
        )
    checked = f" ({facts})" if facts else ""
    return Takeover(f"took over {subject}: it is exactly what this create would make{checked}", False)


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "empty"
    return repr(value) if isinstance(value, str) else str(value)
