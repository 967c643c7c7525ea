"""The stack config as typed, frozen pydantic models.

Keys are camelCase in YAML (`minSize`) and snake_case in Python (`min_size`). This module checks
each value on its own (types, ranges, formats, unknown keys); rules that relate several keys to
each other live in `checks.py`, so that every broken rule is reported, not just the first.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

# PVE's own formats: node names are host names, storage ids `pve-storage-id`, HA ids `pve-configid`.
NodeName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")]
StorageId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$")]
ConfigId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_-]+$")]
PoolName = Annotated[str, StringConstraints(pattern=r"^[^:/\s]+$")]
DevicePath = Annotated[str, StringConstraints(pattern=r"^/dev/\S+$")]
DnsName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$")]
DiskInterface = Annotated[str, StringConstraints(pattern=r"^(scsi|virtio|sata|ide)\d{1,2}$")]
Priority = Annotated[int, Field(ge=0, le=1000)]
ReplicaCount = Annotated[int, Field(ge=1, le=7)]  # PVE's bounds for size and min_size


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
    )


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR form such as 10.10.10.0/24 ({exc})") from exc


class OsdConfig(_Model):
    device: DevicePath
    db_device: DevicePath | None = None
    wal_device: DevicePath | None = None
    encrypted: bool = False
    device_class: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]+$")] | None = None
    # Zap a device that holds old data before creating the OSD; off so a typo cannot wipe a disk.
    wipe: bool = False


class NodeConfig(_Model):
    name: NodeName
    # The MON address on the public network; PVE picks the node's address there when unset.
    address: str | None = None
    # The node's address on clusterNetwork, where its OSDs bind their cluster address. Nothing sends
    # it to PVE (each OSD picks the node's address in cluster_network itself, as Ceph does); declared,
    # it is checked at preview against clusterNetwork, so a typo shows before any OSD restarts.
    cluster_address: str | None = None
    osds: list[OsdConfig] = []

    @field_validator("address", "cluster_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address") from exc


class RbdStorageConfig(_Model):
    name: StorageId
    content: list[Literal["images", "rootdir"]] = Field(default=["images"], min_length=1)
    krbd: bool = False
    nodes: list[NodeName] | None = None  # None: every node


class PoolConfig(_Model):
    name: PoolName
    size: ReplicaCount = 3
    min_size: ReplicaCount = 2
    pg_num: Annotated[int, Field(ge=1, le=32768)] | None = None
    autoscale_mode: Literal["on", "off", "warn"] = "on"
    application: Literal["rbd", "cephfs", "rgw"] = "rbd"
    crush_rule: str | None = None
    target_size_ratio: Annotated[float, Field(ge=0)] | None = None
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
    size: Annotated[int, Field(ge=1)]  # GiB
    # Where the disk should live: a live move (PVE move_disk) from `storage`, done once.
    move_to: StorageId | None = None

    @property
    def final_storage(self) -> str:
        return self.move_to or self.storage


class VmHaConfig(_Model):
    state: Literal["started", "stopped", "enabled", "disabled", "ignored"] = "started"
    max_restart: Annotated[int, Field(ge=0)] = 1
    max_relocate: Annotated[int, Field(ge=0)] = 1
    comment: Annotated[str, StringConstraints(max_length=4096)] | None = None
    group: ConfigId | None = None  # PVE 8 only
    failback: bool | None = None  # PVE 9 only; unset keeps the cluster default
    # Who decides the node after creation: `follow` (HA; Pulumi ignores node drift) or `pin`
    # (the config; a changed node migrates back). See docs/ha-policy.md.
    placement: Literal["follow", "pin"] = "follow"


class VmConfig(_Model):
    name: DnsName
    vm_id: Annotated[int, Field(ge=100, le=999_999_999)]
    node: NodeName
    cores: Annotated[int, Field(ge=1)] = 1
    memory: Annotated[int, Field(ge=16)] = 1024  # MiB
    started: bool = True
    on_boot: bool = True
    bridge: str | None = "vmbr0"  # None: no network device
    description: str | None = None
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
    ceph_version: Literal["quincy", "reef", "squid", "tentacle"] = "squid"
    repository: Literal["no-subscription", "enterprise", "test"] = "no-subscription"
    apt_repositories: bool = True
    public_network: str
    cluster_network: str | None = None
    monitors: list[NodeName]
    managers: list[NodeName]
    api_nodes: list[NodeName] = []  # empty: every node, monitors first
    protect: bool = True
    allow_data_loss: bool = False
    adopt_existing: bool = False
    health_require: Literal["HEALTH_OK", "no_degraded_pgs"] = "HEALTH_OK"
    health_timeout: Annotated[int, Field(ge=1)] = 600
    default_pool_size: ReplicaCount = 3
    default_pool_min_size: ReplicaCount = 2
    local_storages: list[StorageId] = ["local-lvm", "local"]
    shared_storages: list[StorageId] = []
    nodes: list[NodeConfig] = Field(min_length=1)
    pools: list[PoolConfig] = []
    vms: list[VmConfig] = []
    ha: HaConfig = HaConfig()

    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("public_network")
    @classmethod
    def _public(cls, value: str) -> str:
        return _cidr(value)

    @field_validator("cluster_network", mode="before")
    @classmethod
    def _cluster(cls, value: object) -> object:
        # Pulumi.yaml declares the key with default "" (Pulumi has no null default): "" means none.
        if value in ("", None):
            return None
        return _cidr(str(value))

    @property
    def warnings(self) -> list[str]:
        """Things that work but are unwise (an even MON count, a single MGR)."""
        return list(self._warnings)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def osd_hosts(self) -> list[str]:
        return [n.name for n in self.nodes if n.osds]

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
