"""The HA API (pve-ha-manager's API2/HA/*.pm): groups, rules, resources, status.

Config endpoints are synchronous and return null, as in PVE; the manager (lab/ha/manager.py)
acts afterwards. PVE 8 labs have HA groups and no rules; PVE 9 labs have rules and refuse every
group call.
"""

import time
from collections.abc import Callable
from typing import Any, TypeVar

from fakepve import schema as pve_schema

from lab import errors
from lab.errors import PveError
from lab.ha.state import (
    RULE_TYPES,
    HaError,
    HaGroup,
    HaResource,
    HaRule,
    check_guest,
    check_sid_format,
    parse_node_list,
    resolve_sid,
    rule_errors,
    status_entries,
)
from lab.handlers.base import CephHelpers
from lab.pve_formats import split_list

Route = tuple[str, str, Any]
T = TypeVar("T")
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"
MODIFIED = "detected modified configuration - file changed by other user? Try again."
RESOURCE_OPTIONS = ("state", "group", "max_restart", "max_relocate", "failback", "auto-rebalance", "comment")
PVE9_RESOURCE_OPTIONS = ("failback", "auto-rebalance")
GROUP_OPTIONS = ("nodes", "restricted", "nofailback", "comment")
# Options a rule of each type takes, and those it cannot be without (Rules/*.pm options()).
RULE_OPTIONS = {
    "node-affinity": ("resources", "nodes", "strict", "affinity", "disable", "comment"),
    "resource-affinity": ("resources", "affinity", "disable", "comment"),
}
RULE_REQUIRED = {"node-affinity": ("resources", "nodes"), "resource-affinity": ("resources", "affinity")}


class HaApi(CephHelpers):
    """/cluster/ha: config endpoints (synchronous, null), migrate/relocate requests and the status."""

    # -- fakepve's hooks -----------------------------------------------------------------------------

    async def _ha_request(self, vm: Any, user: str, state: str) -> str:
        """start/stop/shutdown of an HA guest: `ha-manager set --state` in a short task; the CRM acts later."""
        sid, verb = f"vm:{vm.vmid}", "start" if state == "started" else "stop"

        async def body() -> None:
            self.ha_manager.request_state(sid, state)

        return await self.task(
            vm.node, "ha" + verb, vm.vmid, user, body, lock=False, log=[f"Requesting HA {verb} for VM {vm.vmid}"]
        )

    def set_node_offline(self, node: str, offline: bool = True) -> None:
        """fakepve's offline node (595 for its requests), plus what the HA stack does about it."""
        was_online = self.guests.is_online(node)
        parent: Any = super()
        parent.set_node_offline(node, offline)
        self.ha_manager.node_changed(node, was_online)

    async def stop(self) -> None:
        """Stop the API; pending CRM jobs go with it."""
        self.ha_manager.cancel_jobs()
        parent: Any = super()
        await parent.stop()

    # -- routes and helpers ------------------------------------------------------------------------

    def _routes_ha(self) -> list[Route]:
        ha = "/cluster/ha"
        return [
            ("GET", ha, self._ha_index),
            ("GET", ha + "/groups", self._group_list),
            ("POST", ha + "/groups", self._group_create),
            ("GET", ha + "/groups/{group}", self._group_read),
            ("PUT", ha + "/groups/{group}", self._group_update),
            ("DELETE", ha + "/groups/{group}", self._group_delete),
            ("GET", ha + "/rules", self._rule_list),
            ("POST", ha + "/rules", self._rule_create),
            ("GET", ha + "/rules/{rule}", self._rule_read),
            ("PUT", ha + "/rules/{rule}", self._rule_update),
            ("DELETE", ha + "/rules/{rule}", self._rule_delete),
            ("GET", ha + "/resources", self._resource_list),
            ("POST", ha + "/resources", self._resource_create),
            ("GET", ha + "/resources/{sid}", self._resource_read),
            ("PUT", ha + "/resources/{sid}", self._resource_update),
            ("DELETE", ha + "/resources/{sid}", self._resource_delete),
            ("POST", ha + "/resources/{sid}/migrate", self._resource_migrate),
            ("POST", ha + "/resources/{sid}/relocate", self._resource_relocate),
            ("GET", ha + "/status/current", self._ha_status),
            ("GET", ha + "/status/manager_status", self._ha_manager_status),
        ]

    @property
    def _pve9(self) -> bool:
        return self.cluster.spec.pve_version >= 9

    @staticmethod
    def _refusal(exc: HaError, prefix: str | None = None) -> PveError:
        if exc.field:
            return errors.param(**{exc.field: exc.message})
        return errors.die(f"{prefix}: {exc.message}" if prefix else exc.message)

    def _locked(self, errmsg: str | None, change: Callable[[], T]) -> T:
        """PVE::HA::Config::lock_ha_domain: no quorum, no lock; errors inside get the caller's prefix."""
        try:
            if not self.quorate:
                raise HaError("cfs-lock 'domain-ha' error: no quorum!")
            return change()
        except HaError as exc:
            raise self._refusal(exc, errmsg) from exc

    def _reject_params(self, v: dict[str, Any], names: tuple[str, ...]) -> None:
        """Parameters that PVE 8's schema does not have (fakepve's schema is PVE 9's)."""
        given = {n: NOT_IN_SCHEMA for n in names if n in v}
        if given and not self._pve9:
            raise errors.param(**given)

    def _sid(self, text: str) -> tuple[str, str, str]:
        try:
            check_sid_format(text)
            return resolve_sid(text, self.guests.guest_types())
        except HaError as exc:
            raise self._refusal(exc) from exc

    async def _ha_index(self, v: dict[str, Any], user: str) -> list[dict[str, str]]:
        ids = ["status", "resources", "groups"] + (["rules"] if self._pve9 else [])
        return [{"id": i} for i in ids]

    # -- groups (PVE 8; PVE 9 has migrated them to rules) ------------------------------------------

    def _groups_gone(self, verb: str) -> None:
        if self._pve9 and not self.ha.groups:  # have_groups_been_migrated
            raise errors.die(f"cannot {verb}: ha groups have been migrated to rules")

    def _group_config(self, name: str) -> dict[str, Any]:
        group = self.ha.groups.get(name)
        if group is None:
            raise errors.die(f"no such ha group '{name}'")
        return {"group": name, "type": "group", **group.options(), "digest": self.ha.groups_digest()}

    def _group_nodes(self, v: dict[str, Any]) -> dict[str, int | None] | None:
        if v.get("nodes") is None:
            return None
        try:
            return parse_node_list(str(v["nodes"]), what="ha group node" if not self._pve9 else "ha node")
        except HaError as exc:
            raise self._refusal(exc) from exc

    async def _group_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._groups_gone("index groups")
        return [self._group_config(name) for name in self.ha.groups]

    async def _group_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._groups_gone("read group")
        return self._group_config(v["group"])

    async def _group_create(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("create group")
        self.need_quorum()
        if v.get("type", "group") != "group":
            raise errors.die("types does not match")
        name, nodes = v["group"], self._group_nodes(v)
        assert nodes is not None  # required by the schema

        def create() -> None:
            if name in self.ha.groups:
                raise HaError(f"ha group ID '{name}' already defined")
            self.ha.groups[name] = HaGroup(
                name, nodes, _flag(v, "restricted"), _flag(v, "nofailback"), v.get("comment")
            )

        self._locked("create ha group failed", create)

    async def _group_update(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("update group")
        name, nodes = v["group"], self._group_nodes(v)

        def update() -> None:
            if v.get("digest") and v["digest"] != self.ha.groups_digest():
                raise HaError(MODIFIED)
            group = self.ha.groups.get(name)
            if group is None:
                raise HaError(f"no such ha group '{name}'")
            if nodes is not None:
                group.nodes = nodes
            for key in ("restricted", "nofailback", "comment"):
                if key in v:
                    setattr(group, key, _flag(v, key) if key != "comment" else v[key])
            for key in split_list(str(v.get("delete") or "")):
                if key not in GROUP_OPTIONS:
                    raise HaError(f"no such option '{key}'")
                if key == "nodes":
                    raise HaError("unable to delete required option 'nodes'")
                setattr(group, key, None)

        self._locked("update ha group failed", update)
        self.ha_manager.reconsider_all()

    async def _group_delete(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("delete group")
        name = v["group"]

        def delete() -> None:
            for sid, resource in sorted(self.ha.resources.items()):
                if resource.group == name:
                    raise HaError(f"ha group is used by service '{sid}'")
            self.ha.groups.pop(name, None)

        self._locked("delete ha group failed", delete)

    # -- rules (PVE 9) -----------------------------------------------------------------------------

    def _rules_exist(self, method: str, v: dict[str, Any]) -> None:
        """PVE 8's API has no /cluster/ha/rules: its router answers 501 (PVE::HTTPServer)."""
        if not self._pve9:
            path = "/cluster/ha/rules" + (f"/{v['rule']}" if "rule" in v and method != "POST" else "")
            raise PveError(501, f"Method '{method} {path}' not implemented")

    def _rule_values(self, method: str, template: str, v: dict[str, Any]) -> dict[str, Any]:
        """Check a rule's parameters against its type's schema (fakepve skips allOf/oneOf schemas)."""
        spec = pve_schema.load().paths[template][method]["parameters"]["allOf"]
        props: dict[str, Any] = {}
        for part in spec:
            props.update(part.get("properties", {}))
            if "oneOf" in part:
                props["type"] = dict(part["type-property-schema"])
                branch = next((b for b in part["oneOf"] if b["instance-type"] == v.get("type")), None)
                props.update(branch["properties"] if branch else {})
        values, errs = pve_schema.validate({"properties": props, "additionalProperties": 0}, v)
        if errs:
            raise PveError(400, "Parameter verification failed.", errs)
        try:
            if "resources" in values:
                for sid in split_list(str(values["resources"])):
                    check_sid_format(sid, "resources", vmid_ok=False)
            if "nodes" in values:
                values["nodes"] = parse_node_list(str(values["nodes"]))
        except HaError as exc:
            raise self._refusal(exc) from exc
        return values

    def _rule_config(self, rule: HaRule, errs: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
        out = {
            "rule": rule.name,
            "type": rule.type,
            **rule.options(),
            "digest": self.ha.rules_digest(),
            "order": rule.order,
        }
        if rule.name in errs:
            out["errors"] = errs[rule.name]
        return out

    def _check_rule_refs(self, values: dict[str, Any]) -> None:
        """$assert_valid_resources_param and $assert_valid_nodes_param."""
        if "resources" in values:
            sids = set(split_list(str(values["resources"])))
            if not sids:
                raise HaError("no resources were specified")
            unmanaged = sorted(s for s in sids if s not in self.ha.resources)
            if unmanaged:
                raise HaError(f"cannot use unmanaged resource(s) {', '.join(unmanaged)}.")
        if values.get("nodes") is not None:
            if not values["nodes"]:
                raise HaError("no nodes were specified")
            missing = sorted(n for n in values["nodes"] if n not in self.nodes)
            if missing:
                raise HaError(f"cannot use non-existent node(s) {', '.join(missing)}.")

    def _assert_feasible(self, name: str) -> None:
        errs = rule_errors(self.ha.rules, len(self.nodes))
        if name in errs:
            raise HaError(f"Rule '{name}' is invalid.")

    async def _rule_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._rules_exist("GET", v)
        errs = rule_errors(self.ha.rules, len(self.nodes))
        return [
            self._rule_config(r, errs)
            for r in sorted(self.ha.rules.values(), key=lambda r: r.order)
            if v.get("type") in (None, r.type) and v.get("resource") in (None, *r.resources)
        ]

    async def _rule_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._rules_exist("GET", v)
        rule = self.ha.rules.get(v["rule"])
        if rule is None:
            raise errors.die(f"no such ha rule '{v['rule']}'")
        return self._rule_config(rule, rule_errors(self.ha.rules, len(self.nodes)))

    async def _rule_create(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("POST", v)
        values = self._rule_values("POST", "/cluster/ha/rules", v)
        self.need_quorum()
        name, kind = values["rule"], values["type"]

        def create() -> None:
            if name in self.ha.rules:
                raise HaError(f"HA rule '{name}' already defined")
            self._check_rule_refs(values)
            order = max((r.order for r in self.ha.rules.values()), default=0) + 1
            self.ha.rules[name] = HaRule(
                name,
                kind,
                set(split_list(str(values["resources"]))),
                order,
                nodes=values.get("nodes"),
                strict=_flag(values, "strict"),
                affinity=values.get("affinity"),
                disable=_flag(values, "disable") or None,
                comment=values.get("comment"),
            )
            try:
                self._assert_feasible(name)
            except HaError:
                del self.ha.rules[name]
                raise

        self._locked("create ha rule failed", create)
        self.ha_manager.reconsider_all()

    async def _rule_update(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("PUT", v)
        name = v["rule"]
        values = self._rule_values("PUT", "/cluster/ha/rules/{rule}", v)

        def update() -> None:
            if values.get("digest") and values["digest"] != self.ha.rules_digest():
                raise HaError(MODIFIED)
            rule = self.ha.rules.get(name)
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
                self.ha.rules[name] = before
                raise

        self._locked("update HA rules failed", update)
        self.ha_manager.reconsider_all()

    async def _rule_delete(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("DELETE", v)
        self._locked("delete ha rule failed", lambda: self.ha.rules.pop(v["rule"], None))

    # -- resources ---------------------------------------------------------------------------------

    def _resource_config(self, resource: HaResource) -> dict[str, Any]:
        options = resource.options()
        if self._pve9:
            options.pop("group", None)  # $exclude_group_property once groups are migrated
        out = {"sid": resource.sid, "type": resource.type, **options, "digest": self.ha.resources_digest()}
        if not self._pve9 and resource.group and resource.group not in self.ha.groups:
            out["errors"] = {"group": f"group '{resource.group}' does not exist"}
        return out

    async def _resource_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.ha_manager.sync()
        return [self._resource_config(r) for r in self.ha.resources.values() if v.get("type") in (None, r.type)]

    async def _resource_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.ha_manager.sync()
        sid = self._sid(v["sid"])[0]
        if sid not in self.ha.resources:
            raise errors.die(f"no such resource '{sid}'")
        return self._resource_config(self.ha.resources[sid])

    def _check_type(self, v: dict[str, Any], kind: str) -> None:
        if v.get("type") and v["type"] != kind:
            raise errors.die("types does not match")

    async def _resource_create(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, PVE9_RESOURCE_OPTIONS)
        self.need_quorum()
        self.ha_manager.sync()
        sid, kind, name = self._sid(v["sid"])
        self._check_type(v, kind)
        if self._pve9 and v.get("group") is not None:
            raise errors.die("invalid parameter 'group': ha groups have been migrated to rules")
        try:
            check_guest(kind, name, self.guests.guest_types())
        except HaError as exc:
            raise self._refusal(exc) from exc

        def create() -> None:
            if sid in self.ha.resources:
                raise HaError(f"resource ID '{sid}' already defined")
            resource = HaResource(sid, kind)
            _apply_options(resource, v)
            self.ha.resources[sid] = resource
            guest = self.ha_manager.guest(sid)
            node = guest.node if guest is not None else self.local_node()
            self.ha.add_service(resource, node, guest is not None and guest.status == "running")

        self._locked("create resource failed", create)
        self.ha_manager.elect_master()
        self.ha_manager.mirror(sid)
        self.ha_manager.converge_later(sid)

    async def _resource_update(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, PVE9_RESOURCE_OPTIONS)
        self.ha_manager.sync()
        sid, kind, _name = self._sid(v["sid"])
        self._check_type(v, kind)
        if v.get("group"):
            if self._pve9:
                raise errors.die("invalid parameter 'group': ha groups have been migrated to rules")
            if v["group"] not in self.ha.groups:
                raise errors.die(f"HA group '{v['group']}' does not exist")
        try:
            self.ha.check_service_state(sid, v.get("state"))
        except HaError as exc:
            raise self._refusal(exc) from exc

        def update() -> None:
            if v.get("digest") and v["digest"] != self.ha.resources_digest():
                raise HaError(MODIFIED)
            resource = self.ha.resources.get(sid)
            if resource is None:
                raise HaError(f"no such resource '{sid}'")
            _apply_options(resource, v)
            allowed = [o for o in RESOURCE_OPTIONS if self._pve9 or o not in PVE9_RESOURCE_OPTIONS]
            for key in split_list(str(v.get("delete") or "")):
                if key not in allowed:
                    raise HaError(f"no such option '{key}'")
                setattr(resource, key.replace("-", "_"), None)

        self._locked("update resources config failed", update)
        self.ha_manager.after_state_change(sid)

    async def _resource_delete(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, ("purge",))
        self.ha_manager.sync()
        sid = self._sid(v["sid"])[0]
        if sid not in self.ha.resources:
            raise errors.die(f"cannot delete service '{sid}', not HA managed!")
        purge = bool(v.get("purge", 1)) and self._pve9
        self._locked("delete resource failed", lambda: self.ha.drop_resource(sid, purge))
        self.ha_manager.mirror(sid)

    async def _resource_migrate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "migrate")

    async def _resource_relocate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "relocate")

    async def _resource_motion(self, v: dict[str, Any], kind: str) -> dict[str, Any] | None:
        sid = self._sid(v["sid"])[0]
        try:
            self.ha_manager.queue_motion(sid, v["node"], kind)
        except HaError as exc:
            raise self._refusal(exc) from exc
        return {"sid": sid, "requested-node": v["node"]} if self._pve9 else None

    # -- status ------------------------------------------------------------------------------------

    async def _ha_status(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.ha_manager.sync()
        vm_nodes = {f"vm:{vm.vmid}": vm.node for vm in self.vms}
        vm_nodes.update((f"ct:{ct.vmid}", ct.node) for ct in getattr(self, "cts", []))
        return status_entries(
            local_node=self.local_node(),
            quorate=self.quorate,
            master=self.ha.master,
            now=time.time(),
            nodes=self.nodes,
            lost=self.ha.lost,
            services=self.ha.services,
            resources=self.ha.resources,
            vm_nodes=vm_nodes,
            pve_version=self.cluster.spec.pve_version,
        )

    async def _ha_manager_status(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.ha_manager.sync()
        now = int(time.time())
        services = {
            sid: {
                k: val
                for k, val in {
                    "node": s.node,
                    "state": s.state,
                    "running": int(s.running) or None,
                    "failed_nodes": s.failed_nodes or None,
                    "target": s.target,
                }.items()
                if val is not None
            }
            for sid, s in self.ha.services.items()
        }
        manager: dict[str, Any] = {}
        if self.ha.master is not None:
            manager = {
                "master_node": self.ha.master,
                "timestamp": now,
                "service_status": services,
                "node_status": self.ha.node_status(self.nodes),
            }
        return {
            "manager_status": manager,
            "quorum": {"node": self.local_node(), "quorate": int(self.quorate)},
            "lrm_status": {
                n: {
                    "mode": "active",
                    "timestamp": int(self.ha.lost.get(n, now)),
                    "state": "active" if any(s.node == n for s in self.ha.services.values()) else "wait_for_agent_lock",
                }
                for n in sorted(self.nodes)
            },
        }


def _flag(values: dict[str, Any], key: str) -> bool | None:
    return None if values.get(key) is None else bool(int(values[key]))


def _apply_options(resource: HaResource, v: dict[str, Any]) -> None:
    for key in RESOURCE_OPTIONS:
        if key in v:
            value = v[key]
            if key in ("failback", "auto-rebalance"):
                value = _flag(v, key)
            setattr(resource, key.replace("-", "_"), value)


assert set(RULE_OPTIONS) == set(RULE_TYPES)
