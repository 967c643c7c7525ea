"""Changes to the HA config (groups.cfg, rules.cfg, resources.cfg) and its views, as pve-ha-manager's API
makes them (src/PVE/API2/HA/Groups.pm, Rules.pm, Resources.pm; src/PVE/HA/Config.pm).

Every method takes the request's parameters after the schema's checks and raises HaError in PVE's words;
the HTTP side takes the HA domain lock around a change and adds the caller's prefix to its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from lab.ha.state import HaError, HaGroup, HaResource, HaRule, HaState, rule_errors
from lab.pve_formats import split_list

MODIFIED = "detected modified configuration - file changed by other user? Try again."
RESOURCE_OPTIONS = ("state", "group", "max_restart", "max_relocate", "failback", "auto-rebalance", "comment")
PVE9_RESOURCE_OPTIONS = ("failback", "auto-rebalance")
GROUP_OPTIONS = ("nodes", "restricted", "nofailback", "comment")
# Options a rule of each type takes, and those it cannot be without (src/PVE/HA/Rules/*.pm options()).
RULE_OPTIONS = {
    "node-affinity": ("resources", "nodes", "strict", "affinity", "disable", "comment"),
    "resource-affinity": ("resources", "affinity", "disable", "comment"),
}
RULE_REQUIRED = {"node-affinity": ("resources", "nodes"), "resource-affinity": ("resources", "affinity")}


def flag(values: Mapping[str, Any], key: str) -> bool | None:
    """A boolean parameter: None when not given."""
    return None if values.get(key) is None else bool(int(values[key]))


def apply_resource_options(resource: HaResource, values: Mapping[str, Any]) -> None:
    for key in RESOURCE_OPTIONS:
        if key in values:
            value = values[key]
            if key in ("failback", "auto-rebalance"):
                value = flag(values, key)
            setattr(resource, key.replace("-", "_"), value)


class HaConfig:
    """The HA config of one cluster: its three config files, held in `state`."""

    def __init__(self, state: HaState, nodes: Callable[[], Collection[str]]) -> None:
        self.state = state
        self._nodes = nodes  # the cluster's nodes, online or not

    # -- groups (PVE 8) ------------------------------------------------------------------------------

    def group_view(self, name: str) -> dict[str, Any]:
        group = self.state.groups.get(name)
        if group is None:
            raise HaError(f"no such ha group '{name}'")
        return {"group": name, "type": "group", **group.options(), "digest": self.state.groups_digest()}

    def create_group(self, name: str, nodes: dict[str, int | None], values: Mapping[str, Any]) -> None:
        if name in self.state.groups:
            raise HaError(f"ha group ID '{name}' already defined")
        self.state.groups[name] = HaGroup(
            name, nodes, flag(values, "restricted"), flag(values, "nofailback"), values.get("comment")
        )

    def update_group(self, name: str, nodes: dict[str, int | None] | None, values: Mapping[str, Any]) -> None:
        if values.get("digest") and values["digest"] != self.state.groups_digest():
            raise HaError(MODIFIED)
        group = self.state.groups.get(name)
        if group is None:
            raise HaError(f"no such ha group '{name}'")
        if nodes is not None:
            group.nodes = nodes
        for key in ("restricted", "nofailback", "comment"):
            if key in values:
                setattr(group, key, flag(values, key) if key != "comment" else values[key])
        for key in split_list(str(values.get("delete") or "")):
            if key not in GROUP_OPTIONS:
                raise HaError(f"no such option '{key}'")
            if key == "nodes":
                raise HaError("unable to delete required option 'nodes'")
            setattr(group, key, None)

    def delete_group(self, name: str) -> None:
        for sid, resource in sorted(self.state.resources.items()):
            if resource.group == name:
                raise HaError(f"ha group is used by service '{sid}'")
        self.state.groups.pop(name, None)

    # -- rules (PVE 9) -------------------------------------------------------------------------------

    def rule_errors(self) -> dict[str, dict[str, list[str]]]:
        return rule_errors(self.state.rules, len(self._nodes()))

    def rule_view(self, rule: HaRule, errs: Mapping[str, dict[str, list[str]]]) -> dict[str, Any]:
        out = {
            "rule": rule.name,
            "type": rule.type,
            **rule.options(),
            "digest": self.state.rules_digest(),
            "order": rule.order,
        }
        if rule.name in errs:
            out["errors"] = errs[rule.name]
        return out

    def rule_list(self, kind: str | None, resource: str | None) -> list[dict[str, Any]]:
        errs = self.rule_errors()
        return [
            self.rule_view(r, errs)
            for r in sorted(self.state.rules.values(), key=lambda r: r.order)
            if kind in (None, r.type) and resource in (None, *r.resources)
        ]

    def read_rule(self, name: str) -> dict[str, Any]:
        rule = self.state.rules.get(name)
        if rule is None:
            raise HaError(f"no such ha rule '{name}'")
        return self.rule_view(rule, self.rule_errors())

    def _check_rule_refs(self, values: Mapping[str, Any]) -> None:
        """$assert_valid_resources_param and $assert_valid_nodes_param (src/PVE/API2/HA/Rules.pm)."""
        if "resources" in values:
            sids = set(split_list(str(values["resources"])))
            if not sids:
                raise HaError("no resources were specified")
            unmanaged = sorted(s for s in sids if s not in self.state.resources)
            if unmanaged:
                raise HaError(f"cannot use unmanaged resource(s) {', '.join(unmanaged)}.")
        if values.get("nodes") is not None:
            if not values["nodes"]:
                raise HaError("no nodes were specified")
            nodes = set(self._nodes())
            missing = sorted(n for n in values["nodes"] if n not in nodes)
            if missing:
                raise HaError(f"cannot use non-existent node(s) {', '.join(missing)}.")

    def _assert_feasible(self, name: str) -> None:
        if name in self.rule_errors():
            raise HaError(f"Rule '{name}' is invalid.")

    def create_rule(self, values: Mapping[str, Any]) -> None:
        """`values`: the checked parameters, `nodes` already a parsed node list."""
        name = values["rule"]
        if name in self.state.rules:
            raise HaError(f"HA rule '{name}' already defined")
        self._check_rule_refs(values)
        order = max((r.order for r in self.state.rules.values()), default=0) + 1
        self.state.rules[name] = HaRule(
            name,
            values["type"],
            set(split_list(str(values["resources"]))),
            order,
            nodes=values.get("nodes"),
            strict=flag(values, "strict"),
            affinity=values.get("affinity"),
            disable=flag(values, "disable") or None,
            comment=values.get("comment"),
        )
        try:
            self._assert_feasible(name)
        except HaError:
            del self.state.rules[name]
            raise

    def update_rule(self, name: str, values: Mapping[str, Any]) -> None:
        if values.get("digest") and values["digest"] != self.state.rules_digest():
            raise HaError(MODIFIED)
        rule = self.state.rules.get(name)
        if rule is None:
            raise HaError(f"HA rule '{name}' does not exist")
        self._check_rule_refs(values)
        before = HaRule(**vars(rule) | {"resources": set(rule.resources)})
        for key in RULE_OPTIONS[rule.type]:
            if key in values:
                new = set(split_list(str(values[key]))) if key == "resources" else values[key]
                setattr(rule, key, bool(new) if key in ("strict", "disable") else new)
        for key in split_list(str(values.get("delete") or "")):
            if key in values:
                raise HaError(f"cannot set and delete property '{key}' at the same time!")
            if key not in RULE_OPTIONS[rule.type]:
                raise HaError(f"no such option '{key}'")
            if key in RULE_REQUIRED[rule.type]:
                raise HaError(f"unable to delete required option '{key}'")
            setattr(rule, key, None)
        try:
            self._assert_feasible(name)
        except HaError:
            self.state.rules[name] = before
            raise

    def delete_rule(self, name: str) -> None:
        self.state.rules.pop(name, None)

    # -- resources -----------------------------------------------------------------------------------

    def resource_view(self, resource: HaResource, pve9: bool) -> dict[str, Any]:
        options = resource.options()
        if pve9:
            options.pop("group", None)  # $exclude_group_property once groups are migrated
        out = {"sid": resource.sid, "type": resource.type, **options, "digest": self.state.resources_digest()}
        if not pve9 and resource.group and resource.group not in self.state.groups:
            out["errors"] = {"group": f"group '{resource.group}' does not exist"}
        return out

    def read_resource(self, sid: str, pve9: bool) -> dict[str, Any]:
        if sid not in self.state.resources:
            raise HaError(f"no such resource '{sid}'")
        return self.resource_view(self.state.resources[sid], pve9)

    def create_resource(self, sid: str, kind: str, values: Mapping[str, Any], node: str, running: bool) -> HaResource:
        """A new resources.cfg entry; the CRM picks it up where the guest is (`node`)."""
        if sid in self.state.resources:
            raise HaError(f"resource ID '{sid}' already defined")
        resource = HaResource(sid, kind)
        apply_resource_options(resource, values)
        self.state.resources[sid] = resource
        self.state.add_service(resource, node, running)
        return resource

    def update_resource(self, sid: str, values: Mapping[str, Any], pve9: bool) -> None:
        if values.get("digest") and values["digest"] != self.state.resources_digest():
            raise HaError(MODIFIED)
        resource = self.state.resources.get(sid)
        if resource is None:
            raise HaError(f"no such resource '{sid}'")
        apply_resource_options(resource, values)
        allowed = [o for o in RESOURCE_OPTIONS if pve9 or o not in PVE9_RESOURCE_OPTIONS]
        for key in split_list(str(values.get("delete") or "")):
            if key not in allowed:
                raise HaError(f"no such option '{key}'")
            setattr(resource, key.replace("-", "_"), None)

    def delete_resource(self, sid: str, purge: bool) -> None:
        self.state.drop_resource(sid, purge)
