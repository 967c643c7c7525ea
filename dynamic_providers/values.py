"""Pure helpers for values as they come off the wire (Pulumi's and PVE's JSON).

PVE emits 0/1 where newer versions emit JSON booleans (pve-manager PVE/Ceph/Services.pm,
PVE/API2/Ceph/Pool.pm and OSD.pm, since 9.1.18), and pool ids as strings before that (Pool.pm,
lspools); Pulumi sends every number as a float and marks unknown preview values with a sentinel.
Everything here accepts all of those forms.
"""

from __future__ import annotations

from typing import Any

# Pulumi's wire sentinel for "not known until apply" (pulumi.runtime.rpc.UNKNOWN). The provider
# edge turns pulumi's Unknown objects into this string, so the pure logic needs no pulumi import.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """True if the value, or anything inside it, is not known yet (preview)."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    if isinstance(value, dict):
        return any(is_unknown(item) for item in value.values())
    return False


def as_bool(value: Any) -> bool:
    """0/1, "0"/"1", true/false (JSON or text) -> bool; None -> False."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def as_int(value: Any) -> int | None:
    """An int that may arrive as a float (Pulumi) or a string (older PVE); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return int(value)
    return int(str(value).strip())


def split_list(value: Any) -> list[str]:
    """A PVE comma (or space/semicolon) list, or a list already, -> list of non-empty strings."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    text = str(value).replace(";", ",").replace(" ", ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """ceph.conf -> {section: {key: value}}; keys normalised so `public network` == `public_network`."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif "=" in line and current is not None:
            key, _, value = line.partition("=")
            current[key.strip().lower().replace(" ", "_")] = value.strip()
    return sections


def mon_address_ip(addr: str | None) -> str | None:
    """A Ceph address as the mon list shows it -> the IP.

    Forms: `10.0.0.1:6789/0`, `[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]`, `[2001:db8::1]:6789/0`.
    """
    if not addr:
        return None
    text = addr.strip().strip("[]").split(",")[0]
    for prefix in ("v2:", "v1:", "any:"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0]
    if text.startswith("["):  # IPv6 with port
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:  # IPv4 with port
        return text.split(":", 1)[0]
    return text  # a bare address
