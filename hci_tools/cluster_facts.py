"""What a data-touching step holds, read from the cluster through the PVE API when it answers:
PGs and bytes of an OSD, objects and bytes of a pool, images of an RBD storage, the volume of a
VM disk, the quorum a MON belongs to.

Calls (pve-manager PVE/API2/Ceph/OSD.pm, Pool.pm, MON.pm; PVE/API2/Storage/Content.pm;
qemu-server PVE/API2/Qemu.pm), all reads:
  GET /nodes                                    the first online node answers cluster-wide calls
  GET /nodes/{node}/ceph/osd                    the OSD tree: leaves carry pgs, bytes_used, status, in
  GET /nodes/{node}/ceph/pool                   bytes_used per pool
  GET /nodes/{node}/ceph/pool/{name}/status?verbose=1   statistics.objects (`ceph df detail`)
  GET /nodes/{node}/ceph/status                 quorum_names
  GET /nodes/{node}/storage/{storage}/content   the images on a storage
  GET /nodes/{node}/qemu/{vmid}/config          a VM's disks (volume and size)

Endpoint and credentials come from the stack config (proxmoxve:endpoint, apiToken, username,
password, insecure) or the environment variables the provider reads, as the program's providers
do; the CA from REQUESTS_CA_BUNDLE or SSL_CERT_FILE.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from proxmoxer.core import AuthenticationError, ResourceException

from .preview_plan import DataRisk

SOURCES = {
    "endpoint": ("proxmoxve:endpoint", "PROXMOX_VE_ENDPOINT"),
    "api_token": ("proxmoxve:apiToken", "PROXMOX_VE_API_TOKEN"),
    "username": ("proxmoxve:username", "PROXMOX_VE_USERNAME"),
    "password": ("proxmoxve:password", "PROXMOX_VE_PASSWORD"),
    "insecure": ("proxmoxve:insecure", "PROXMOX_VE_INSECURE"),
}


# What a read can fail with: the API's refusal, the network, an answer of another shape.
READ_ERRORS = (
    ResourceException,
    AuthenticationError,
    requests.RequestException,
    OSError,
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
)


class Api(Protocol):
    def get(self, path: str, **params: Any) -> Any: ...


@dataclass(frozen=True, repr=False)
class Access:
    endpoint: str
    api_token: str | None
    username: str | None
    password: str | None
    verify: bool | str

    def __repr__(self) -> str:
        return f"Access({self.endpoint!r})"


def resolve_access(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Access | None:
    """Stack config first, then the environment, per key; None when no endpoint or credentials."""
    env = os.environ if environ is None else environ
    raw = {}
    for setting, (key, variable) in SOURCES.items():
        value = config.get(key)
        raw[setting] = str(value) if value not in (None, "", "[secret]") else env.get(variable) or None
    if not raw["endpoint"] or not (raw["api_token"] or (raw["username"] and raw["password"])):
        return None
    endpoint = raw["endpoint"].rstrip("/").removesuffix("/api2/json")
    insecure = str(raw["insecure"] or "").lower() in ("1", "true", "yes")
    ca = env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    return Access(endpoint, raw["api_token"], raw["username"], raw["password"], False if insecure else (ca or True))


class ProxmoxerApi:
    """The few reads below over proxmoxer (a pinned dependency), with a short timeout."""

    def __init__(self, access: Access, timeout: float = 15) -> None:
        from urllib.parse import urlsplit

        from proxmoxer import ProxmoxAPI

        parts = urlsplit(access.endpoint)
        host = f"{parts.hostname}:{parts.port or 8006}"
        kwargs: dict[str, Any] = {"verify_ssl": access.verify, "timeout": timeout}
        if access.api_token:
            user, _, rest = access.api_token.partition("!")
            name, _, value = rest.partition("=")
            self._api = ProxmoxAPI(host, user=user, token_name=name, token_value=value, **kwargs)
        else:
            self._api = ProxmoxAPI(host, user=access.username, password=access.password, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        return self._api(path.strip("/")).get(**params)


def human_bytes(value: Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "? bytes"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


class ClusterFacts:
    """Answers, per risk, what the cluster says it holds. Every failure becomes a sentence."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._node: str | None = None

    def node(self) -> str:
        if self._node is None:
            online = [n["node"] for n in self.api.get("nodes") if n.get("status") == "online"]
            if not online:
                raise LookupError("no node is online")
            self._node = sorted(online)[0]
        return self._node

    def osd(self, osd_id: str, _node: str) -> str:
        tree = self.api.get(f"nodes/{self.node()}/ceph/osd")
        for leaf in _leaves(tree.get("root", {})):
            if str(leaf.get("id")) == osd_id:
                state = f"{leaf.get('status', '?')}, {'in' if leaf.get('in') else 'out'}"
                return f"holds {leaf.get('pgs', '?')} PGs and {human_bytes(leaf.get('bytes_used'))} ({state})"
        return "is not in the cluster's OSD tree"

    def pool(self, name: str) -> str:
        listed = {p.get("pool_name"): p for p in self.api.get(f"nodes/{self.node()}/ceph/pool")}
        if name not in listed:
            return "does not exist on the cluster"
        status = self.api.get(f"nodes/{self.node()}/ceph/pool/{name}/status", verbose=1)
        stats = status.get("statistics") or {}
        objects = stats.get("objects", "?")
        return (
            f"holds {objects} objects, {human_bytes(stats.get('stored', listed[name].get('bytes_used')))} stored "
            f"({human_bytes(listed[name].get('bytes_used'))} raw) in {listed[name].get('pg_num', '?')} PGs"
        )

    def storage(self, storage: str) -> str:
        content = self.api.get(f"nodes/{self.node()}/storage/{storage}/content")
        images = [c for c in content if c.get("content") in ("images", "rootdir")]
        if not images:
            return "holds no images"
        total = sum(int(c.get("size") or 0) for c in images)
        names = ", ".join(str(c.get("volid", "?")).split(":", 1)[-1] for c in images[:5])
        more = f" and {len(images) - 5} more" if len(images) > 5 else ""
        return f"holds {len(images)} image(s), {human_bytes(total)}: {names}{more}"

    def mon(self, mon_id: str) -> str:
        status = self.api.get(f"nodes/{self.node()}/ceph/status")
        quorum = status.get("quorum_names") or []
        where = "in" if mon_id in quorum else "not in"
        return f"is {where} the quorum of {len(quorum)} MON(s) ({', '.join(quorum)})"

    def vm_disks(self, vm_id: str, node: str, interface: str | None = None) -> str:
        config = self.api.get(f"nodes/{node}/qemu/{vm_id}/config")
        disks = {k: v for k, v in config.items() if _is_disk(k, v)}
        if interface is not None:
            volume = disks.get(interface)
            return f"is volume {volume.split(',')[0]} ({_size(volume)})" if volume else "is not in the VM's config"
        listed = ", ".join(f"{k} {v.split(',')[0]} ({_size(v)})" for k, v in sorted(disks.items()))
        return f"has {len(disks)} disk(s): {listed}" if disks else "has no disks"

    def about(self, risk: DataRisk) -> str | None:
        kind, *args = risk.subject or ("",)
        handlers: dict[str, Callable[..., str]] = {
            "osd": self.osd,
            "pool": self.pool,
            "storage": self.storage,
            "mon": self.mon,
            "vm": self.vm_disks,
            "vmdisk": self.vm_disks,
        }
        handler = handlers.get(kind)
        if handler is None:
            return None
        try:
            return handler(*args)
        except READ_ERRORS as exc:  # the comment must still be written: say what went wrong instead
            return f"(could not be read from the cluster: {type(exc).__name__}: {str(exc)[:160]})"


def _leaves(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = []
    for child in node.get("children") or []:
        if child.get("type") == "osd":
            out.append(child)
        else:
            out.extend(_leaves(child))
    return out


DISK_PREFIXES = ("scsi", "virtio", "sata", "ide", "efidisk", "tpmstate")


def _is_disk(key: str, value: Any) -> bool:
    return key.startswith(DISK_PREFIXES) and isinstance(value, str) and "media=cdrom" not in value


def _size(volume: str) -> str:
    for part in volume.split(","):
        if part.startswith("size="):
            return part.removeprefix("size=")
    return "size unknown"


def gather(risks: list[DataRisk], facts: ClusterFacts | None) -> dict[DataRisk, str]:
    if facts is None:
        return {}
    out = {}
    for risk in risks:
        said = facts.about(risk)
        if said is not None:
            out[risk] = said
    return out
