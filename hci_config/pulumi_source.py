"""Read this project's keys from the running Pulumi program's config, as a plain dict for load_config.

Pulumi hands a program every value as a string (objects as JSON), and `pulumi.Config` can only
fetch keys by name; reading the whole bag lets load_config report keys nobody declared (typos).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi.runtime.config as runtime_config


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # a plain string such as a CIDR or `squid`


def raw_stack_config(project: str) -> dict[str, Any]:
    """`<project>:key` -> value for every key of this project, without the prefix."""
    # The CLI passes the bag in PULUMI_CONFIG; the automation API and tests set it in-process.
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{project}:"
    return {key[len(prefix) :]: _decode(value) for key, value in merged.items() if key.startswith(prefix)}
