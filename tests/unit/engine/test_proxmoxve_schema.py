"""Our pulumi-resource-proxmoxve (engine/proxmoxve-bridge) speaks the PyPI SDK's language.

The SDK sends resource tokens and camelCase property names; the plugin only understands
those in its embedded Pulumi package schema. This checks, against the schema that
scripts/install-engine.sh generated and installed beside the plugin
(<bin>/../share/pulumi-resource-proxmoxve/schema.json), that every token and every
property name (inputs, nested input types, outputs, nested output types) of the SDK
classes this program uses exists, and that the schema requires nothing the SDK cannot send.

Builds nothing itself: it runs scripts/install-engine.sh (cached; minutes only on a cold
machine) unless PROXMOX_HCI_ENGINE_BIN names the bin directory. Set PROXMOX_HCI_NO_ENGINE=1
on a machine that has no engine at all to skip it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pulumi_proxmoxve as px
import pytest

REPO = Path(__file__).resolve().parents[3]
BRIDGE_DIR = REPO / "engine" / "proxmoxve-bridge"

# The SDK classes the program uses (components/), plus the data sources we rely on.
RESOURCES = {
    "VmLegacy": px.VmLegacy,
    "Haresource": px.Haresource,
    "Hagroup": px.Hagroup,
    "Harule": px.Harule,
    "apt.Repository": px.apt.Repository,
    "apt.standard.Repository": px.apt.standard.Repository,
}
FUNCTIONS = {"get_version": px.get_version, "get_nodes_legacy": px.get_nodes_legacy}
# Read by dynamic_providers/pve/credentials.py as proxmoxve:<key>.
CONFIG_KEYS = ("endpoint", "apiToken", "username", "password", "insecure")


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    if os.environ.get("PROXMOX_HCI_NO_ENGINE") == "1":
        pytest.skip("PROXMOX_HCI_NO_ENGINE=1: no Pulumi engine on this machine")
    given = os.environ.get("PROXMOX_HCI_ENGINE_BIN")
    if given:
        return Path(given)
    out = subprocess.run([str(REPO / "scripts" / "install-engine.sh")], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        pytest.fail(f"scripts/install-engine.sh failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def schema(bin_dir: Path) -> dict[str, Any]:
    path = bin_dir.parent / "share" / "pulumi-resource-proxmoxve" / "schema.json"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: scripts/install-engine.sh did not build pulumi-resource-proxmoxve "
            "(see its warnings; PROXMOX_HCI_REQUIRE_PROXMOXVE=1 makes it fail loudly)"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# -- SDK introspection ---------------------------------------------------------------------------


def pulumi_names(cls: type) -> set[str]:
    """The wire names of a pulumi input/output type or resource class (@pulumi.getter(name=...))."""
    names = set()
    for klass in cls.__mro__:
        for attr in vars(klass).values():
            name = getattr(attr.fget, "_pulumi_name", None) if isinstance(attr, property) else None
            if name:
                names.add(name)
    return names


def sdk_token(func: Any, pattern: str) -> str:
    match = re.search(pattern, inspect.getsource(func))
    assert match, f"no token found in {func.__qualname__}"
    return match.group(1)


def resource_token(cls: type) -> str:
    return sdk_token(cls._internal_init, r"super\(\w+, __self__\)\.__init__\(\s*'([^']+)'")  # type: ignore[attr-defined]


def args_class(cls: type) -> type:
    module = importlib.import_module(cls.__module__)
    found: type = getattr(module, cls.__name__ + "Args")
    return found


def sdk_module(token: str) -> Any:
    """pulumi_proxmoxve[.<module>] for a token 'proxmoxve:<module>/<...>:<Name>'."""
    module = token.split(":")[1].rsplit("/", 1)[0]
    return px if module == "index" else importlib.import_module("pulumi_proxmoxve." + module.replace("/", "."))


def type_refs(prop: dict[str, Any]) -> list[str]:
    refs = []
    for spec in (prop, prop.get("items", {}), prop.get("additionalProperties", {})):
        ref = spec.get("$ref", "")
        if ref.startswith("#/types/"):
            refs.append(ref.removeprefix("#/types/"))
    return refs


def check_properties(
    what: str,
    sdk_names: set[str],
    schema_props: dict[str, Any],
    required: list[str],
    schema: dict[str, Any],
    kind: str,
    problems: list[str],
    seen: set[tuple[str, str]],
) -> None:
    """Every SDK name is in the schema, the schema requires nothing the SDK lacks; recurse into types."""
    for name in sorted(sdk_names - set(schema_props)):
        problems.append(f"{what}: SDK property {name!r} is not in the plugin's schema")
    for name in sorted(set(required) - sdk_names):
        problems.append(f"{what}: the schema requires {name!r}, which the SDK does not have")
    for name in sorted(sdk_names & set(schema_props)):
        for token in type_refs(schema_props[name]):
            if (kind, token) in seen:
                continue
            seen.add((kind, token))
            spec = schema["types"].get(token)
            if spec is None:
                problems.append(f"{what}.{name}: type {token} is not in the schema")
                continue
            type_name = token.rsplit(":", 1)[1]
            module = sdk_module(token)
            cls = (
                getattr(module, type_name + "Args", None)
                if kind == "input"
                else getattr(getattr(module, "outputs", module), type_name, None)
            )
            if cls is None:
                continue  # the SDK omits types it does not need on this side (e.g. output-only)
            check_properties(
                f"{what}.{name} ({token})",
                pulumi_names(cls),
                spec.get("properties", {}),
                spec.get("required", []) if kind == "input" else [],
                schema,
                kind,
                problems,
                seen,
            )


# -- tests ---------------------------------------------------------------------------------------


def test_schema_is_the_pinned_release(bin_dir: Path, schema: dict[str, Any]) -> None:
    want = (BRIDGE_DIR / "VERSION").read_text().strip()
    assert schema["name"] == "proxmoxve"
    assert schema["version"] == want
    plugin = bin_dir.parent / "plugins" / "pulumi-resource-proxmoxve"  # off PATH: see install-engine.sh
    out = subprocess.run([str(plugin), "-version"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "v" + want


@pytest.mark.parametrize("label", sorted(RESOURCES))
def test_resource_matches_sdk(label: str, schema: dict[str, Any]) -> None:
    cls = RESOURCES[label]
    token = resource_token(cls)
    assert token in schema["resources"], f"{label}: token {token} is not in the plugin's schema"
    spec = schema["resources"][token]
    problems: list[str] = []
    check_properties(
        f"{label} inputs",
        pulumi_names(args_class(cls)),
        spec.get("inputProperties", {}),
        spec.get("requiredInputs", []),
        schema,
        "input",
        problems,
        set(),
    )
    check_properties(
        f"{label} outputs", pulumi_names(cls), spec.get("properties", {}), [], schema, "output", problems, set()
    )
    assert not problems, "\n".join(problems)


def test_provider_matches_sdk(schema: dict[str, Any]) -> None:
    problems: list[str] = []
    spec = schema["provider"]
    check_properties(
        "Provider inputs",
        pulumi_names(px.ProviderArgs),
        spec.get("inputProperties", {}),
        spec.get("requiredInputs", []),
        schema,
        "input",
        problems,
        set(),
    )
    assert not problems, "\n".join(problems)
    missing = [key for key in CONFIG_KEYS if key not in schema["config"]["variables"]]
    assert not missing, f"config keys missing from the schema: {missing}"


@pytest.mark.parametrize("label", sorted(FUNCTIONS))
def test_function_matches_sdk(label: str, schema: dict[str, Any]) -> None:
    func = FUNCTIONS[label]
    token = sdk_token(func, r"invoke\('([^']+)'")
    assert token in schema["functions"], f"{label}: token {token} is not in the plugin's schema"
    spec = schema["functions"][token]
    sdk_inputs = set(re.findall(r"__args__\['(\w+)'\]", inspect.getsource(func)))
    result_cls = inspect.signature(func).return_annotation
    result_cls = getattr(px, result_cls) if isinstance(result_cls, str) else result_cls
    problems: list[str] = []
    inputs = spec.get("inputs", {}).get("properties", {})
    check_properties(
        f"{label} inputs",
        sdk_inputs,
        inputs,
        spec.get("inputs", {}).get("required", []),
        schema,
        "input",
        problems,
        set(),
    )
    check_properties(
        f"{label} outputs",
        pulumi_names(result_cls),
        spec.get("outputs", {}).get("properties", {}),
        [],
        schema,
        "output",
        problems,
        set(),
    )
    assert not problems, "\n".join(problems)
