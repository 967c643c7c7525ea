"""A resource's inputs, declared once as a frozen dataclass, and the generic check and diff. Pure.

Each resource declares its inputs as a `@resource_inputs` class: a field's type says how a wire
value is converted (str, int, float, bool, tuple[str, ...] for lists, Any), its default is the
input's default (no default: required), and `param(...)` says what a change means and how a
value is validated. `Spec` derives from that class what check and diff need, and converts between
it and the plain values Pulumi stores (`load`, `dump`); outputs get a plain frozen dataclass.

check and diff work on plain values, because in a preview any of them may be UNKNOWN: unknown
values pass check untouched, are never validated, and never reach the API (Pulumi calls neither
create nor update in a preview: pulumi/pulumi sdk/python/lib/pulumi/dynamic/__main__.py).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from dynamic_providers.logic.validators import Validator
from dynamic_providers.values import UNKNOWN, is_unknown

Kind = Literal["str", "int", "float", "bool", "str_list", "any"]
# replace: the object must be recreated; update: changed in place (possibly only recorded);
# refuse: a change is an error (e.g. Ceph's networks: moving them is a manual procedure).
OnChange = Literal["replace", "update", "refuse"]
Failure = tuple[str, str]  # (property, reason)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

In = TypeVar("In", bound="DataclassInstance")  # a resource's inputs (a @resource_inputs class)
Out = TypeVar("Out", bound="DataclassInstance")  # a resource's outputs (a frozen dataclass)
T = TypeVar("T")

_RULES = "proxmox_hci.param"  # the dataclass field metadata key


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Rules:
    """What `param()` records about an input besides its type and default."""

    on_change: OnChange = "update"
    validate: Validator | None = None
    normalise: Callable[[Any], Any] | None = None  # applied to valid values, e.g. 10.0.0.5/24 -> 10.0.0.0/24
    as_set: bool = False  # a list whose order means nothing (PVE returns them in hash order)
    refuse_reason: str = ""
    # A refused change is allowed when one of these also changes (the object is replaced anyway).
    refuse_unless_changed: tuple[str, ...] = ()
    # None means "let PVE choose": whatever it chose (stored in state) is then not a change.
    auto: bool = False
    # None means "the value of this other input" (a MON's id is its node's name).
    default_from: str | None = None
    # Where the provider sends its calls, not what the object is (api_nodes): a change of it alone is
    # no change (nothing to preview when a node joins); with other changes it is stored as an update.
    routing: bool = False


def param(
    *,
    default: Any = dataclasses.MISSING,
    on_change: OnChange = "update",
    validate: Validator | None = None,
    normalise: Callable[[Any], Any] | None = None,
    as_set: bool = False,
    refuse_reason: str = "",
    refuse_unless_changed: tuple[str, ...] = (),
    auto: bool = False,
    default_from: str | None = None,
    routing: bool = False,
) -> Any:
    """A field of a @resource_inputs class; without a default the input is required."""
    rules = Rules(
        on_change, validate, normalise, as_set, refuse_reason, refuse_unless_changed, auto, default_from, routing
    )
    return dataclasses.field(default=default, metadata={_RULES: rules})


@typing.dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(param,))
def resource_inputs(cls: type[T]) -> type[T]:
    """Make cls a frozen, keyword-only dataclass: a resource's inputs as its provider works with them."""
    return dataclass(frozen=True, kw_only=True)(cls)


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    default: Any
    rules: Rules

    @property
    def on_change(self) -> OnChange:
        return self.rules.on_change


@dataclass(frozen=True, kw_only=True)
class NoOutputs:
    """The outputs of a resource that has none besides its inputs."""


@dataclass
class DiffPlan:
    changes: bool
    replaces: list[str] = dataclasses.field(default_factory=list)
    updates: list[str] = dataclasses.field(default_factory=list)
    stables: list[str] = dataclasses.field(default_factory=list)
    delete_before_replace: bool = False


class Spec(Generic[In, Out]):
    """Everything check, diff and the provider edge need, derived from the inputs and outputs classes."""

    def __init__(
        self,
        resource: str,
        inputs: type[In],
        outputs: type[Out],
        *,
        rules: Callable[[In], list[Failure]] | None = None,
        delete_before_replace: Callable[[In, In], bool] | None = None,
    ) -> None:
        self.resource = resource  # the resource class's name, for messages
        self.inputs_type = inputs
        self.outputs_type = outputs
        # Rules across fields: called with the checked inputs, whose values may still be UNKNOWN.
        self.rules = rules
        # Must a replacement delete the old object first (only where identities collide)? Called
        # with the stored and the checked inputs; the latter may hold UNKNOWN values.
        self.delete_before_replace = delete_before_replace
        hints = typing.get_type_hints(inputs)
        self.fields = tuple(
            Field(f.name, _kind(hints[f.name]), _default(f), f.metadata.get(_RULES, Rules()))
            for f in dataclasses.fields(inputs)
        )
        self._output_hints = typing.get_type_hints(outputs)
        self.outputs = tuple(f.name for f in dataclasses.fields(outputs))  # their names

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.fields)

    # -- between the dataclasses and the plain values Pulumi stores ------------------------------

    def load(self, values: Mapping[str, Any]) -> In:
        """Stored state, or checked inputs -> the inputs: defaults filled in, wire numbers made ints.

        Keys that are not inputs (outputs, inputs an older version had) are ignored.
        """
        checked, _ = check_inputs(self, {}, {k: v for k, v in values.items() if k in self.names})
        return self.view(checked)

    def view(self, values: Mapping[str, Any]) -> In:
        """Plain values as the inputs class, unconverted: absent ones are None, UNKNOWN stays UNKNOWN."""
        return self.inputs_type(**{item.name: _to_field(item, values.get(item.name)) for item in self.fields})

    def dump(self, inputs: In) -> dict[str, Any]:
        """The inputs as the plain values Pulumi stores (tuples as lists)."""
        return {item.name: _to_plain(getattr(inputs, item.name)) for item in self.fields}

    def load_outputs(self, values: Mapping[str, Any]) -> Out:
        """The outputs a state holds (absent ones None), wire numbers converted back to ints."""
        return self.outputs_type(**{name: _coerce(self._output_hints[name], values.get(name)) for name in self.outputs})

    def dump_outputs(self, outputs: Out) -> dict[str, Any]:
        return {name: _to_plain(getattr(outputs, name)) for name in self.outputs}

    def state(self, inputs: In, outputs: Out) -> dict[str, Any]:
        """What a resource stores: every input (diff and delete need them), then its outputs."""
        return {**self.dump(inputs), **self.dump_outputs(outputs)}

    def refreshed(self, inputs: In, **live: Any) -> dict[str, Any]:
        """The inputs a refresh stores: the stored ones, with what the cluster has in their place.

        Live values are stored as read, None included (a refresh reports what is there, even
        where the program would never send None).
        """
        unknown = sorted(set(live) - set(self.names))
        if unknown:
            raise TypeError(f"{self.resource} has no input {', '.join(unknown)}")
        return {**self.dump(inputs), **{name: _to_plain(value) for name, value in live.items()}}

    def props(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """What a resource registers, from its constructor's arguments (named as the inputs).

        An argument left None is sent as the input's default; each output not also an input is None.
        """
        props = {}
        for item in self.fields:
            value = args[item.name]
            if value is None and item.default is not REQUIRED:
                value = _to_plain(item.default)
            props[item.name] = value
        return {**props, **{name: None for name in self.outputs if name not in props}}


def check_inputs(
    spec: Spec[Any, Any], olds: Mapping[str, Any], news: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Failure]]:
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
            value = _to_plain(item.default)
        if value is REQUIRED:
            failures.append((item.name, f"{spec.resource}.{item.name} is required"))
            continue
        if value is not None:
            value, reason = _convert(item, value)
            if reason is None and item.rules.validate is not None:
                reason = item.rules.validate(value)
            if reason is not None:
                failures.append((item.name, f"{spec.resource}.{item.name}: {reason}"))
                continue
            if item.rules.normalise is not None:
                value = item.rules.normalise(value)
        inputs[item.name] = value
        if item.on_change == "refuse" and _refused(spec, item, olds, news, value):
            failures.append(
                (
                    item.name,
                    f"{spec.resource}.{item.name} cannot change from "
                    f"{olds.get(item.name)!r} to {value!r}: {item.rules.refuse_reason}",
                )
            )
    if spec.rules is not None:
        failures.extend(spec.rules(spec.view(inputs)))
    if not failures:
        for item in spec.fields:
            if item.rules.default_from is not None and not inputs.get(item.name):
                inputs[item.name] = inputs.get(item.rules.default_from)
    return inputs, failures


def _refused(spec: Spec[Any, Any], item: Field, olds: Mapping[str, Any], news: Mapping[str, Any], new: Any) -> bool:
    """Is this a change of a refuse-on-change input of an object that is not being replaced?"""
    if not olds:
        return False  # a create
    old = olds.get(item.name)  # absent means None: Pulumi drops None-valued properties
    if is_unknown(old) or same(item, old, new):
        return False
    for other in item.rules.refuse_unless_changed:
        if is_unknown(news.get(other)) or not same(spec.field(other), olds.get(other), news.get(other)):
            return False
    return True


def diff_inputs(
    spec: Spec[In, Any],
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    delete_before_replace: Callable[[In, In], bool] | None = None,
) -> DiffPlan:
    """What changing olds (the stored state) into news (checked inputs) means."""
    plan = DiffPlan(changes=False)
    rerouted = []
    for item in spec.fields:
        old, new = olds.get(item.name), news.get(item.name)
        changed = is_unknown(new) or not (same(item, old, new) or (item.rules.auto and new is None))
        if not changed:
            plan.stables.append(item.name)
        elif item.rules.routing:
            rerouted.append(item.name)
        elif item.on_change == "replace":
            plan.replaces.append(item.name)
        else:
            plan.updates.append(item.name)
    if plan.replaces or plan.updates:
        plan.updates += rerouted
    else:
        plan.stables += rerouted
    plan.changes = bool(plan.replaces or plan.updates)
    if plan.replaces and delete_before_replace is not None:
        plan.delete_before_replace = delete_before_replace(spec.view(olds), spec.view(news))
    return plan


def same(item: Field, old: Any, new: Any) -> bool:
    if item.rules.as_set and isinstance(old, list | tuple) and isinstance(new, list | tuple):
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


# -- types and defaults of the dataclass fields ---------------------------------------------------

_KINDS: dict[Any, Kind] = {str: "str", int: "int", float: "float", bool: "bool"}


def _kind(hint: Any) -> Kind:
    """The wire kind of a field's type: X or X | None for str, int, float, bool; tuple[str, ...]; Any."""
    if hint is Any:
        return "any"
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if len(args) != 1:
            raise TypeError(f"unsupported input type {hint!r}")
        hint, args = args[0], list(typing.get_args(args[0]))
    if hint in _KINDS:
        return _KINDS[hint]
    if typing.get_origin(hint) is tuple and args == [str, Ellipsis]:
        return "str_list"
    raise TypeError(f"unsupported input type {hint!r}: use str, int, float, bool, tuple[str, ...] or Any")


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    return REQUIRED


def _to_plain(value: Any) -> Any:
    """tuple[str, ...] -> list: Pulumi stores lists."""
    return list(value) if isinstance(value, tuple) else value


def _to_field(item: Field, value: Any) -> Any:
    """A plain value as the inputs class holds it: lists as tuples."""
    if item.kind == "str_list" and isinstance(value, list):
        return tuple(value)
    return value


def _coerce(hint: Any, value: Any) -> Any:
    """An output from the wire: a whole float back to int where the field is an int."""
    if isinstance(value, float) and value.is_integer() and int in (*typing.get_args(hint), hint):
        return int(value)
    return value
