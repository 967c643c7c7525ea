"""The stack config as typed, frozen pydantic models.

Keys are camelCase in YAML (`minSize`) and snake_case in Python (`min_size`). This module checks
each value on its own (types, ranges, formats, unknown keys); rules that relate several keys to
each other live in `checks.py`, so that every broken rule is reported, not just the first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic.alias_generators import to_camel

from dynamic_providers.logic import rules


def _rule(rule: Callable[[Any], str | None]) -> AfterValidator:
    """The rule as a pydantic validator: its reason becomes the problem at this key's path.

    The rules live in dynamic_providers/logic/rules.py, where the providers' check takes them
    too: a value refused here is the value a provider would refuse, in the same words.
    """

    def check(value: Any) -> Any:
        reason = rule(value)
        if reason is not None:
            raise ValueError(reason)
        return value

    return AfterValidator(check)


NodeName = Annotated[str, _rule(rules.node_name)]
StorageId = Annotated[str, _rule(rules.storage_id)]
ConfigId = Annotated[str, _rule(rules.config_id)]
PoolName = Annotated[str, _rule(rules.pool_name)]
DevicePath = Annotated[str, _rule(rules.device_path)]
DeviceClass = Annotated[str, _rule(rules.device_class)]
DnsName = Annotated[str, _rule(rules.dns_name)]
DiskInterface = Annotated[str, _rule(rules.disk_interface)]
BridgeId = Annotated[str, _rule(rules.bridge_id)]
Priority = Annotated[int, Field(ge=0, le=1000)]
ReplicaSize = Annotated[int, _rule(rules.replica_size)]
MinReplicaSize = Annotated[int, _rule(rules.min_replica_size)]
VmId = Annotated[int, _rule(rules.vm_id)]
# Literal types for the choices, so the JSON schema and editors know them; each equals its tuple in
# rules.py (tests/unit/program/test_stack_config_model.py checks that).
CephRelease = Literal["quincy", "reef", "squid", "tentacle"]
Repository = Literal["no-subscription", "enterprise", "test"]
AutoscaleMode = Literal["on", "off", "warn"]
Application = Literal["rbd", "cephfs", "rgw"]
RbdContent = Literal["images", "rootdir"]
HealthRequirement = Literal["HEALTH_OK", "no_degraded_pgs"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
    )


def _network(value: object) -> object:
    """A CIDR network, checked by rules.cidr_network and spelt canonically (before pydantic's str check)."""
    if not isinstance(value, str):
        return value
    reason = rules.cidr_network(value)
    if reason is not None:
        raise ValueError(reason)
    return rules.normalise_network(value)


class OsdConfig(_Model):
    device: DevicePath
    db_device: DevicePath | None = None
    wal_device: DevicePath | None = None
    encrypted: bool = False
    device_class: DeviceClass | None = None
    # Zap a device that holds old data before creating the OSD; off so a typo cannot wipe a disk.
    wipe: bool = False
    # After a failed disk was swapped for a new one in the same slot: set or change this (e.g. to the
    # new disk's serial) and the dead OSD is destroyed once Ceph says it is safe, and a new one made.
    replacement: Annotated[str, _rule(rules.replacement_marker)] | None = None


class NodeConfig(_Model):
    name: NodeName
    # The MON address on the public network; PVE picks the node's address there when unset.
    address: str | None = None
    # The node's address on clusterNetwork, where its OSDs bind their cluster address. Nothing sends
    # it to PVE (each OSD picks the node's address in cluster_network itself, as Ceph does); declared,
    # it is checked at preview against clusterNetwork, so a typo shows before any OSD restarts.
    cluster_address: str | None = None
    osds: list[OsdConfig] = []
    # Retire the node (docs/day2.md "Retiring a node"): its OSDs are drained and destroyed one after
    # another; it must be left out of monitors and managers, so its MON and MGR go after them. Then
    # the manual steps printed are done, and the node is removed from `nodes`.
    retire: bool = False
    # Maintenance: its VMs move off (HA ones through HA, the others by live migration), Ceph must say
    # its OSDs and MON are ok to stop, noout is set; false again: noout cleared, HA moves VMs back.
    maintenance: bool = False

    @field_validator("address", "cluster_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        reason = rules.ip_address(value)
        if reason is not None:
            raise ValueError(reason)
        return str(ipaddress.ip_address(value))


class RbdStorageConfig(_Model):
    name: StorageId
    content: Annotated[list[RbdContent], _rule(rules.rbd_content)] = ["images"]
    krbd: bool = False
    nodes: list[NodeName] | None = None  # None: every node


class PoolConfig(_Model):
    name: PoolName
    size: ReplicaSize = 3
    min_size: MinReplicaSize = 2
    pg_num: Annotated[int, _rule(rules.pg_num)] | None = None
    autoscale_mode: AutoscaleMode = "on"
    application: Application = "rbd"
    crush_rule: str | None = None
    target_size_ratio: Annotated[float, _rule(rules.target_size_ratio)] | None = None
    storage: RbdStorageConfig | None = None  # the PVE RBD storage on this pool, if any

    @field_validator("autoscale_mode", mode="before")
    @classmethod
    def _yaml_bool(cls, value: object) -> object:
        # YAML 1.1 readers turn a bare `on`/`off` into booleans.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


class DiskConfig(_Model):
    interface: DiskInterface
    storage: StorageId  # where the disk is created
    size: Annotated[int, _rule(rules.at_least(1, " GiB"))]  # GiB
    # Where the disk should live: a live move (PVE move_disk) from `storage`, done once.
    move_to: StorageId | None = None

    @property
    def final_storage(self) -> str:
        return self.move_to or self.storage


class VmHaConfig(_Model):
    state: Literal["started", "stopped", "enabled", "disabled", "ignored"] = "started"
    max_restart: Annotated[int, _rule(rules.at_least(0))] = 1
    max_relocate: Annotated[int, _rule(rules.at_least(0))] = 1
    comment: Annotated[str, _rule(rules.ha_comment)] | None = None
    group: ConfigId | None = None  # PVE 8 only
    failback: bool | None = None  # PVE 9 only; unset keeps the cluster default
    # Who decides the node after creation: `follow` (HA; Pulumi ignores node drift) or `pin`
    # (the config; a changed node migrates back). See docs/ha-policy.md.
    placement: Literal["follow", "pin"] = "follow"


class VmConfig(_Model):
    name: DnsName
    vm_id: VmId
    node: NodeName
    cores: Annotated[int, _rule(rules.at_least(1))] = 1
    memory: Annotated[int, _rule(rules.vm_memory)] = 1024  # MiB
    started: bool = True
    on_boot: bool = True
    bridge: BridgeId | None = "vmbr0"  # None: no network device
    description: Annotated[str, _rule(rules.vm_description)] | None = None
    disks: list[DiskConfig] = Field(min_length=1)
    ha: VmHaConfig | None = None
    protect: bool | None = None  # None: the stack-wide `protect`


class HaGroupConfig(_Model):
    name: ConfigId
    nodes: dict[NodeName, Priority | None] = Field(min_length=1)
    restricted: bool = False
    no_failback: bool = False
    comment: str | None = None


class HaRuleConfig(_Model):
    name: ConfigId
    type: Literal["node-affinity", "resource-affinity"] = "node-affinity"
    vms: list[DnsName] = Field(min_length=1)  # by VM name; each must have `ha` set
    nodes: dict[NodeName, Priority | None] | None = None  # node-affinity only
    strict: bool | None = None  # node-affinity only
    affinity: Literal["positive", "negative"] | None = None  # resource-affinity only
    disable: bool = False
    comment: str | None = None


class HaConfig(_Model):
    groups: list[HaGroupConfig] = []  # PVE 8
    rules: list[HaRuleConfig] = []  # PVE 9


class HciConfig(_Model):
    pve_version: Literal[8, 9] = 9
    # The PVE release the nodes run (X.Y.Z, `pveversion`); "" or unset: checked per node at preview.
    pve_release: str | None = None
    ceph_version: CephRelease = "squid"
    # Install a Ceph release PVE marks as a technology preview (pveceph install --allow-experimental).
    ceph_allow_experimental: bool = False
    repository: Repository = "no-subscription"
    apt_repositories: bool = True
    public_network: str
    cluster_network: str | None = None
    monitors: list[NodeName]
    managers: list[NodeName]
    api_nodes: list[NodeName] = []  # empty: every node, monitors first
    protect: bool = True
    allow_data_loss: bool = False
    adopt_existing: bool = False
    health_require: HealthRequirement = "HEALTH_OK"
    health_timeout: Annotated[int, _rule(rules.health_timeout)] = 600
    default_pool_size: ReplicaSize = 3
    default_pool_min_size: MinReplicaSize = 2
    local_storages: list[StorageId] = ["local-lvm", "local"]
    shared_storages: list[StorageId] = []
    nodes: list[NodeConfig] = Field(min_length=1)
    pools: list[PoolConfig] = []
    vms: list[VmConfig] = []
    ha: HaConfig = HaConfig()

    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("public_network", mode="before")
    @classmethod
    def _public(cls, value: object) -> object:
        return _network(value)

    @field_validator("pve_release", mode="before")
    @classmethod
    def _pve_release(cls, value: object) -> object:
        # Pulumi.yaml declares the key with default "" (Pulumi has no null default): "" means unset.
        return None if value in ("", None) else value

    @field_validator("cluster_network", mode="before")
    @classmethod
    def _cluster(cls, value: object) -> object:
        # Pulumi.yaml declares the key with default "" (Pulumi has no null default): "" means none.
        if value in ("", None):
            return None
        return _network(value)

    @property
    def warnings(self) -> list[str]:
        """Things that work but are unwise (an even MON count, a single MGR)."""
        return list(self._warnings)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def maintenance_nodes(self) -> list[str]:
        return [n.name for n in self.nodes if n.maintenance]

    @property
    def osd_hosts(self) -> list[str]:
        return [n.name for n in self.nodes if n.osds]

    @property
    def retiring_nodes(self) -> list[str]:
        return [n.name for n in self.nodes if n.retire]

    @property
    def staying_osd_hosts(self) -> list[str]:
        """The hosts with OSDs once the retiring nodes' OSDs are gone."""
        return [n.name for n in self.nodes if n.osds and not n.retire]

    @property
    def effective_api_nodes(self) -> list[str]:
        if self.api_nodes:
            return list(self.api_nodes)
        return list(dict.fromkeys([*self.monitors, *self.node_names]))

    @property
    def rbd_storages(self) -> dict[str, PoolConfig]:
        """RBD storage name -> the pool it sits on."""
        return {p.storage.name: p for p in self.pools if p.storage}

    def is_shared_storage(self, name: str) -> bool:
        return name in self.rbd_storages or name in self.shared_storages

    def is_known_storage(self, name: str) -> bool:
        return self.is_shared_storage(name) or name in self.local_storages

    def vm(self, name: str) -> VmConfig | None:
        return next((v for v in self.vms if v.name == name), None)
