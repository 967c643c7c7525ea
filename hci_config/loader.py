"""load_config: raw stack config (a plain dict) -> a validated HciConfig, or a ConfigError listing every problem.

Plain Python, no Pulumi: the program calls it before declaring any resource, and tests call it directly.
"""

from __future__ import annotations

import copy
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from . import checks
from .errors import ConfigError, Problem, key_path
from .model import HciConfig

# A network key may name an environment variable instead of holding the CIDR, so that one committed
# stack file fits every lab (each lab picks its own 127.X.Y.0/24 and exports it).
ENV_PREFIX = "env:"
ENV_KEYS = ("publicNetwork", "clusterNetwork")


def _resolve_env(raw: Mapping[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    resolved = dict(raw)
    problems = []
    for key in ENV_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            var = value[len(ENV_PREFIX) :]
            if var in env and env[var].strip():
                resolved[key] = env[var].strip()
            else:
                problems.append(
                    Problem(
                        key,
                        f"refers to environment variable {var}, which is not set; for the lab run "
                        f'`eval "$(python -m lab env --state-dir .lab)"`, or set the CIDR itself: '
                        f"`pulumi config set {key} 10.10.10.0/24`",
                    )
                )
                resolved.pop(key)
    return resolved, problems


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated, Optional and list[...] down to the type a key path walks into."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: Any = HciConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return []
        model = _unwrap(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or n for n, f in model.model_fields.items())
    return []


def _problem(error: ErrorDetails) -> Problem:
    loc = tuple(error["loc"])
    path = key_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; the keys here are: {', '.join(allowed)}" if allowed else ""
        return Problem(path, f"unknown key{hint}")
    if kind == "missing":
        return Problem(path, "is required but not set")
    message = error["msg"].removeprefix("Value error, ")
    if kind.startswith("string_pattern") or kind.endswith("_parsing") or kind.endswith("_type"):
        message = f"{message} (got {error['input']!r})"
    return Problem(path, message)


def _without(raw: Any, locs: list[tuple[int | str, ...]]) -> Any:
    """A deep copy of `raw` without the keys at `locs`."""
    out = copy.deepcopy(raw)
    for loc in locs:
        node = out
        for part in loc[:-1]:
            node = node[part]
        del node[loc[-1]]
    return out


def load_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> HciConfig:
    """Validate stack config keys (without the `proxmox-hci:` prefix) into an HciConfig.

    Raises ConfigError naming every problem with its key path. Warnings (valid but unwise
    settings) are on the result's `warnings`.
    """
    resolved, problems = _resolve_env(raw, os.environ if env is None else env)
    try:
        cfg = HciConfig.model_validate(resolved)
    except ValidationError as exc:
        errors = exc.errors()
        reported = {p.path for p in problems}  # an unset env variable already explains a missing key
        problems += [p for p in map(_problem, errors) if p.path not in reported]
        unknown = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
        if len(unknown) == len(errors) and not reported:
            # Only typos in key names: the rest is sound, so check it as well and report everything at once.
            problems += checks.problems(HciConfig.model_validate(_without(resolved, unknown)))
        raise ConfigError(problems) from None
    problems += checks.problems(cfg)
    if problems:
        raise ConfigError(problems)
    cfg._warnings.extend(checks.warnings(cfg))
    return cfg
