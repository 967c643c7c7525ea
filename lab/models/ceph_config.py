"""GET /nodes/{node}/ceph/cfg/value: configured values from the MON config DB and ceph.conf. Pure.

pve-manager PVE/API2/Ceph/Cfg.pm `value` (since 8.1.0, 1572e973): the requested `section:key`
pairs, split as PVE::Tools::split_list does; section and key names with underscores turned to
hyphens, in the request and in the answer; MON config DB entries first, then ceph.conf, which
wins where both set a key. Before 9.1.18 (0ef0aaba) the DB branch checked only the section (its
key test compared a name with itself), so a requested section brought all of its DB keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ConfigValues = dict[str, dict[str, str]]


def normalise(name: str) -> str:
    """Ceph treats '-' and '_' alike in option names; PVE answers with '-'."""
    return name.replace("_", "-")


def requested_keys(config_keys: str) -> dict[str, set[str]]:
    """`mgr:mgr_stats_period;global:fsid` -> {section: {key}} (the schema's pattern checked the shape)."""
    wanted: dict[str, set[str]] = {}
    for pair in re.split(r"[;,\s]+", config_keys.strip()):
        if not pair:
            continue
        section, _, key = pair.partition(":")
        wanted.setdefault(normalise(section), set()).add(normalise(key))
    return wanted


def config_values(
    config_keys: str,
    db_entries: Iterable[Mapping[str, Any]],
    conf_sections: Mapping[str, Mapping[str, str]],
    *,
    db_filtered_by_key: bool,
) -> ConfigValues:
    """The endpoint's answer for `ceph config dump` rows and ceph.conf's parsed sections."""
    wanted = requested_keys(config_keys)
    found: ConfigValues = {}
    for entry in db_entries:
        section, name = normalise(str(entry.get("section", ""))), normalise(str(entry.get("name", "")))
        if section in wanted and (name in wanted[section] or not db_filtered_by_key):
            found.setdefault(section, {})[name] = str(entry.get("value", ""))
    for raw_section, keys in conf_sections.items():
        section = normalise(raw_section)
        for raw_key, value in keys.items():
            key = normalise(raw_key)
            if key in wanted.get(section, ()):
                found.setdefault(section, {})[key] = value
    return found
