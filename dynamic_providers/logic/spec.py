"""Declared inputs of a resource, and the generic check and diff over them. Pure.

Each resource lists its inputs once (type, default, what a change means) and adds its own
cross-field rules. Unknown preview values are passed through untouched: they are never
validated, and never reach the API (Pulumi calls neither create nor update in a preview:
pulumi/pulumi sdk/python/lib/pulumi/dynamic/__main__.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from dynamic_providers.values import UNKNOWN, is_unknown

Kind = Literal["str", "int", "float", "bool", "str_list", "any"]
# replace: the object must be recreated; update: changed in place (possibly only recorded);
# refuse: a change is an error (e.g. Ceph's networks: moving them is a manual procedure).
OnChange = Literal["replace", "update", "refuse"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

Failure = tuple[str, str]  # (property, reason)


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    default: Any = None
    on_change: OnChange = "update"
    validate: Callable[[Any], str | None] | None = None  # -> a reason, or None if fine
    normalise: Callable[[Any], Any] | None = None  # applied to valid values, e.g. 10.0.0.5/24 -> 10.0.0.0/24
    as_set: bool = False  # a list whose order means nothing (PVE returns them in hash order)
    refuse_reason: str = ""
    # A refused change is allowed when one of these also changes (the object is replaced anyway).
    refuse_unless_changed: tuple[str, ...] = ()
    # None means "let PVE choose": whatever it chose (stored in state) is then not a change.
    auto: bool = False


@dataclass(frozen=True)
class Spec:
    resource: str  # the class name, for messages
    fields: tuple[Field, ...]
    outputs: tuple[str, ...] = ()
    # Rules across fields; called with the checked inputs (values may still be UNKNOWN).
    rules: Callable[[dict[str, Any]], list[Failure]] | None = None
    # Fills inputs derived from others (e.g. a MON's id from its node); runs after validation.
    complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.fields)


@dataclass
class DiffPlan:
    changes: bool
    replaces: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    stables: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


def check_inputs(spec: Spec, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
    """Validate and fill in defaults. Returns the inputs to store and one failure per bad property."""
    inputs: dict[str, Any] = {}
    failures: list[Failure] = []
    for key in news:
        if key not in spec.names and key not in spec.outputs and not key.startswith("__"):
            failures.append((key, f"{spec.resource} has no input {key!r}"))
    for item in spec.fields:
        value = news.get(item.name)
        if is_unknown(value):
            inputs[item.name] = UNKNOWN
            continue
        if value is None:
            value = item.default
        if value is REQUIRED:
            failures.append((item.name, f"{spec.resource}.{item.name} is required"))
            continue
        if value is not None:
            value, reason = _convert(item, value)
            if reason is None and item.validate is not None:
                reason = item.validate(value)
            if reason is not None:
                failures.append((item.name, f"{spec.resource}.{item.name}: {reason}"))
                continue
            if item.normalise is not None:
                value = item.normalise(value)
        inputs[item.name] = value
        if item.on_change == "refuse" and _refused(spec, item, olds, news, value):
            failures.append(
                (
                    item.name,
                    f"{spec.resource}.{item.name} cannot change from "
                    f"{olds.get(item.name)!r} to {value!r}: {item.refuse_reason}",
                )
            )
    if spec.rules is not None:
        failures.extend(spec.rules(inputs))
    if spec.complete is not None and not failures:
        inputs = spec.complete(inputs)
    return inputs, failures


def _refused(spec: Spec, item: Field, olds: dict[str, Any], news: dict[str, Any], new: Any) -> bool:
    """Is this a change of a refuse-on-change input of an object that is not being replaced?"""
    if not olds:
        return False  # a create
    old = olds.get(item.name)  # absent means None: Pulumi drops None-valued properties
    if is_unknown(old) or same(item, old, new):
        return False
    for other in item.refuse_unless_changed:
        if is_unknown(news.get(other)) or not same(spec.field(other), olds.get(other), news.get(other)):
            return False
    return True


def diff_inputs(
    spec: Spec,
    olds: dict[str, Any],
    news: dict[str, Any],
    delete_before_replace: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
) -> DiffPlan:
    """What changing olds (the stored state) into news (checked inputs) means."""
    plan = DiffPlan(changes=False)
    for item in spec.fields:
        old, new = olds.get(item.name), news.get(item.name)
        changed = is_unknown(new) or not (same(item, old, new) or (item.auto and new is None))
        if not changed:
            plan.stables.append(item.name)
        elif item.on_change == "replace":
            plan.replaces.append(item.name)
        else:
            plan.updates.append(item.name)
    plan.changes = bool(plan.replaces or plan.updates)
    if plan.replaces and delete_before_replace is not None:
        plan.delete_before_replace = delete_before_replace(olds, news)
    return plan


def same(item: Field, old: Any, new: Any) -> bool:
    if item.as_set and isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return sorted(map(str, old)) == sorted(map(str, new))
    if item.kind in ("int", "float") and isinstance(old, int | float) and isinstance(new, int | float):
        return math.isclose(float(old), float(new), rel_tol=1e-9, abs_tol=1e-12)
    return bool(old == new)


def _convert(item: Field, value: Any) -> tuple[Any, str | None]:
    """Coerce wire values (Pulumi sends every number as a float) to the declared kind."""
    kind = item.kind
    if kind == "any":
        return value, None
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            return value, f"expected a non-empty string, got {value!r}"
        return value.strip(), None
    if kind == "bool":
        if not isinstance(value, bool):
            return value, f"expected true or false, got {value!r}"
        return value, None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
            return value, f"expected a whole number, got {value!r}"
        return int(value), None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value, f"expected a number, got {value!r}"
        return float(value), None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        return value, f"expected a list of non-empty strings, got {value!r}"
    return [v.strip() for v in value], None
