"""The proxmox-hci policy pack: the pure rules of `rules.py` as CrossGuard policies.

Mandatory rules fail `pulumi preview` and `pulumi up`; advisory ones print a warning. Each level
can be changed per run with `--policy-pack-config` (a JSON file of `{"policy-name": "advisory"}`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import rules

PACK_NAME = "proxmox-hci"


def plain(value: Any) -> Any:
    """pulumi_policy's unknown-checking proxies -> plain values, unknowns as rules.UNKNOWN."""
    if isinstance(value, Mapping):
        out = {}
        for key in list(value.keys()):
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = rules.UNKNOWN
        return out
    if isinstance(value, list | tuple):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def stack_of(tags: Mapping[str, str]) -> rules.Stack:
    # The engine hands a policy pack the stack's config in PULUMI_CONFIG (see the language host's RunPlugin).
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except ValueError:
        config = {}
    return rules.Stack(tags=dict(tags), shared_storages=rules.shared_storages_from_config(config))


def resource_policy(
    name: str, level: EnforcementLevel, rule: Callable[[rules.Resource, rules.Stack], list[rules.Violation]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = rules.Resource(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(args.props),
            protect=bool(args.opts.protect),
        )
        for violation in rule(resource, stack_of(args.stack_tags)):
            report(violation.message, violation.urn or None)

    return ResourceValidationPolicy(
        name=name, description=(rule.__doc__ or name).strip(), validate=validate, enforcement_level=level
    )


def stack_policy(
    name: str, level: EnforcementLevel, rule: Callable[[list[rules.Resource], rules.Stack], list[rules.Violation]]
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            rules.Resource(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                protect=bool(r.opts.protect),
                dependencies=tuple(d.urn for d in r.dependencies),
            )
            for r in args.resources
        ]
        for violation in rule(resources, stack_of(args.stack_tags)):
            report(violation.message, violation.urn or None)

    return StackValidationPolicy(
        name=name, description=" ".join((rule.__doc__ or name).split()), validate=validate, enforcement_level=level
    )


MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def build() -> PolicyPack:
    return PolicyPack(
        name=PACK_NAME,
        description="Guard rails for a Proxmox VE + Ceph cluster managed by proxmox-hci",
        policies=[
            resource_policy("pool-replicas", MANDATORY, rules.pool_replicas),
            resource_policy("data-protected", MANDATORY, rules.data_protected),
            resource_policy("no-data-loss-flag", MANDATORY, rules.no_data_loss),
            stack_policy("mon-quorum", MANDATORY, rules.monitor_quorum),
            stack_policy("ha-disks-on-shared-storage", MANDATORY, rules.ha_disks_on_shared_storage),
            stack_policy("mgr-standby", ADVISORY, rules.manager_standby),
            stack_policy("stack-kind-tag", ADVISORY, rules.stack_kind_tagged),
        ],
    )
