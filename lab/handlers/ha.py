"""The HA API (pve-ha-manager src/PVE/API2/HA/*.pm): groups, rules, resources, status.

Config endpoints are synchronous and return null, as in PVE: the change goes to the HA config
(lab/ha/config.py) under the HA domain lock, and the manager (lab/ha/manager.py) acts afterwards.
PVE 8 labs have HA groups and no rules; PVE 9 labs have rules and refuse every group call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from fakepve import schema as pve_schema

from lab import errors
from lab.errors import PveError
from lab.ha.config import PVE9_RESOURCE_OPTIONS, RULE_OPTIONS
from lab.ha.state import (
    RULE_TYPES,
    HaError,
    check_guest,
    check_sid_format,
    manager_status,
    parse_node_list,
    resolve_sid,
    status_entries,
)
from lab.handlers.base import LabArea, Route
from lab.pve_formats import split_list

T = TypeVar("T")
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"


class HaApi(LabArea):
    """/cluster/ha: config endpoints (synchronous, null), migrate/relocate requests and the status."""

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

    def _read(self, view: Callable[[], T]) -> T:
        """A read of the HA config: its refusals are plain errors."""
        try:
            return view()
        except HaError as exc:
            raise self._refusal(exc) from exc

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

    def _group_nodes(self, v: dict[str, Any]) -> dict[str, int | None] | None:
        if v.get("nodes") is None:
            return None
        try:
            return parse_node_list(str(v["nodes"]), what="ha group node" if not self._pve9 else "ha node")
        except HaError as exc:
            raise self._refusal(exc) from exc

    async def _group_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._groups_gone("index groups")
        return self._read(lambda: [self.ha_config.group_view(name) for name in self.ha.groups])

    async def _group_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._groups_gone("read group")
        return self._read(lambda: self.ha_config.group_view(v["group"]))

    async def _group_create(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("create group")
        self.need_quorum()
        if v.get("type", "group") != "group":
            raise errors.die("types does not match")
        nodes = self._group_nodes(v)
        assert nodes is not None  # required by the schema
        self._locked("create ha group failed", lambda: self.ha_config.create_group(v["group"], nodes, v))

    async def _group_update(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("update group")
        nodes = self._group_nodes(v)
        self._locked("update ha group failed", lambda: self.ha_config.update_group(v["group"], nodes, v))
        self.ha_manager.reconsider_all()

    async def _group_delete(self, v: dict[str, Any], user: str) -> None:
        self._groups_gone("delete group")
        self._locked("delete ha group failed", lambda: self.ha_config.delete_group(v["group"]))

    # -- rules (PVE 9) -----------------------------------------------------------------------------

    def _rules_exist(self, method: str, v: dict[str, Any]) -> None:
        """PVE 8's API has no /cluster/ha/rules: its router answers 501 (pve-http-server's PVE::APIServer)."""
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
        return dict(values)

    async def _rule_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self._rules_exist("GET", v)
        return self.ha_config.rule_list(v.get("type"), v.get("resource"))

    async def _rule_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self._rules_exist("GET", v)
        return self._read(lambda: self.ha_config.read_rule(v["rule"]))

    async def _rule_create(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("POST", v)
        values = self._rule_values("POST", "/cluster/ha/rules", v)
        self.need_quorum()
        self._locked("create ha rule failed", lambda: self.ha_config.create_rule(values))
        self.ha_manager.reconsider_all()

    async def _rule_update(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("PUT", v)
        values = self._rule_values("PUT", "/cluster/ha/rules/{rule}", v)
        self._locked("update HA rules failed", lambda: self.ha_config.update_rule(v["rule"], values))
        self.ha_manager.reconsider_all()

    async def _rule_delete(self, v: dict[str, Any], user: str) -> None:
        self._rules_exist("DELETE", v)
        self._locked("delete ha rule failed", lambda: self.ha_config.delete_rule(v["rule"]))

    # -- resources ---------------------------------------------------------------------------------

    async def _resource_list(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        self.ha_manager.sync()
        return [
            self.ha_config.resource_view(r, self._pve9)
            for r in self.ha.resources.values()
            if v.get("type") in (None, r.type)
        ]

    async def _resource_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        self.ha_manager.sync()
        sid = self._sid(v["sid"])[0]
        return self._read(lambda: self.ha_config.read_resource(sid, self._pve9))

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
        guest = self.ha_manager.guest(sid)
        node = guest.node if guest is not None else self.local_node()
        running = guest is not None and guest.status == "running"
        self._locked("create resource failed", lambda: self.ha_config.create_resource(sid, kind, v, node, running))
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
        self._read(lambda: self.ha.check_service_state(sid, v.get("state")))
        self._locked("update resources config failed", lambda: self.ha_config.update_resource(sid, v, self._pve9))
        self.ha_manager.after_state_change(sid)

    async def _resource_delete(self, v: dict[str, Any], user: str) -> None:
        self._reject_params(v, ("purge",))
        self.ha_manager.sync()
        sid = self._sid(v["sid"])[0]
        if sid not in self.ha.resources:
            raise errors.die(f"cannot delete service '{sid}', not HA managed!")
        purge = bool(v.get("purge", 1)) and self._pve9
        self._locked("delete resource failed", lambda: self.ha_config.delete_resource(sid, purge))
        self.ha_manager.mirror(sid)

    async def _resource_migrate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "migrate")

    async def _resource_relocate(self, v: dict[str, Any], user: str) -> dict[str, Any] | None:
        return await self._resource_motion(v, "relocate")

    async def _resource_motion(self, v: dict[str, Any], kind: str) -> dict[str, Any] | None:
        sid = self._sid(v["sid"])[0]
        self._read(lambda: self.ha_manager.queue_motion(sid, v["node"], kind))
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
        return manager_status(
            local_node=self.local_node(), quorate=self.quorate, now=time.time(), nodes=self.nodes, state=self.ha
        )


assert set(RULE_OPTIONS) == set(RULE_TYPES)
