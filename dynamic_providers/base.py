"""What every provider shares: credentials from configure(), the client, check and diff over the spec,
and the conversion between Pulumi's wire values and the typed inputs and outputs the logic works on.

Providers are pickled (by reference: they live in importable modules) into the state of every
resource. `__getstate__` keeps configure()'s credentials out of that pickle, so nothing secret
is ever captured and the pickle need not be a secret (`serialize_as_secret_always = False`);
tests/unit/providers/test_provider_base.py checks both.
"""

from __future__ import annotations

import os
from typing import Any, Generic

from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, DiffResult, ReadResult, ResourceProvider
from pulumi.output import Unknown

from dynamic_providers.logic.spec import In, Out, Spec, check_inputs, diff_inputs
from dynamic_providers.pve.client import PveClient
from dynamic_providers.pve.credentials import SOURCES, Credentials
from dynamic_providers.pve.retry import RetryPolicy
from dynamic_providers.values import UNKNOWN

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # pulumi.runtime.rpc._special_secret_sig
SIG_KEY = "4dabf18193072939515e22adb298388d"  # pulumi.runtime.rpc._special_sig_key


class PveProvider(ResourceProvider, Generic[In, Out]):
    serialize_as_secret_always = False  # see the module docstring
    spec: Spec[In, Out]  # set by each provider class, never per instance (nothing is pickled)

    def __init__(self) -> None:
        super().__init__()
        self._config: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {}  # never pickle configuration: it holds the password and token

    def configure(self, req: ConfigureRequest) -> None:
        # Pulumi hands dynamic providers the whole stack config, namespaces kept (pulumi#17673);
        # only the five proxmoxve keys are kept, and they are read when a client is first needed.
        self._config = {key: req.config.get(key) for key, _ in SOURCES.values()}

    def client(self, policy: RetryPolicy | None = None) -> PveClient:
        config = getattr(self, "_config", None)
        return PveClient(Credentials.resolve(config.get if config else None, os.environ), policy=policy)

    # -- check and diff: pure, so they are safe in preview with unknown values --------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = check_inputs(self.spec, from_wire(_olds), from_wire(news))
        return CheckResult(inputs, [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        spec = self.spec
        plan = diff_inputs(spec, from_wire(_olds), from_wire(_news), spec.delete_before_replace)
        return DiffResult(
            changes=plan.changes,
            replaces=plan.replaces,
            stables=plan.stables,
            delete_before_replace=plan.delete_before_replace,
        )

    # -- helpers for create/read/update/delete ---------------------------------------------------

    def load(self, props: dict[str, Any]) -> In:
        """The resource's inputs from a property bag (state or news), defaults filled in."""
        return self.spec.load(from_wire(props))

    def load_outputs(self, props: dict[str, Any]) -> Out:
        """The outputs a state holds (None where it has none)."""
        return self.spec.load_outputs(from_wire(props))

    def state(self, inputs: In, outputs: Out) -> dict[str, Any]:
        """What a resource stores: every input (diff and delete need them), plus its outputs."""
        return self.spec.state(inputs, outputs)

    def found(self, id_: str, inputs: dict[str, Any], outputs: Out) -> ReadResult:
        """Refresh's answer for an object that exists: its inputs as refreshed (see Spec.refreshed), its outputs."""
        return ReadResult(id_, {**inputs, **self.spec.dump_outputs(outputs)}, inputs)

    @staticmethod
    def gone() -> ReadResult:
        """Refresh's answer for an object that no longer exists: Pulumi drops it from the state."""
        return ReadResult("", {})


def from_wire(value: Any) -> Any:
    """Pulumi's wire values -> plain ones: Unknown -> UNKNOWN, secrets unwrapped, `__provider` dropped."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return from_wire(value.get("value"))
        return {k: from_wire(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    return value
