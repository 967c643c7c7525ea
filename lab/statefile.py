"""The files a lab keeps in its state directory, and the typed view of lab.json that clients read."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LAB_JSON = "lab.json"
SETTINGS_JSON = "settings.json"  # what `up` was asked for; read by the server process
SECRETS_JSON = "secrets.json"  # root password and API token (mode 0600)
TOKEN_ID = "root@pam!lab"


@dataclass(frozen=True)
class LabSettings:
    subnet: str
    nodes: int
    disks: str | None
    pve_version: int | None
    ceph_installed: bool
    ha_fence_delay: float = 3.0
    pve_release: str | None = None  # X.Y.Z; None: the newest of pve_version's major
    tfa: bool = False  # root@pam has TOTP: a password login gets PVE's partial ticket (NeedTFA)
    # Ceph's default (src/common/options/global.yaml.in): a down OSD is marked out after 10 minutes.
    mon_osd_down_out_interval: float = 600.0
    # Changes to the running lab since `up`, in order, so a restarted server rebuilds the same spec:
    # [name, disks entry or ""] per `add-node`, [node, devpath, size or ""] per `replace-disk`.
    added_nodes: tuple[tuple[str, str], ...] = ()
    replaced_disks: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class LabSecrets:
    root_password: str
    token_secret: str

    @property
    def api_token(self) -> str:
        return f"{TOKEN_ID}={self.token_secret}"


@dataclass(frozen=True)
class LabInfo:
    """lab.json: everything a client needs to talk to a running lab."""

    endpoint: str
    ca_cert: str
    root_password: str
    api_token: str
    nodes: list[str]
    public_network: str
    ceph_conf: str
    pid: int
    pve_version: int
    state_dir: str
    # The nodes' second network (lab/spec.py); a lab.json written before it existed has none.
    cluster_network: str = ""
    pve_release: str = ""  # X.Y.Z, what `GET /version` answers

    @classmethod
    def load(cls, state_dir: Path) -> LabInfo:
        path = Path(state_dir) / LAB_JSON
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no lab at {state_dir} ({path} is missing): start one with `python -m lab up --state-dir {state_dir}`"
            ) from None
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def write_json(path: Path, data: Any, private: bool = False) -> None:
    """Write atomically; private files are owner-only from the first byte."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(data) if hasattr(data, "__dataclass_fields__") else data, out, indent=2)
    os.replace(tmp, path)


def read_settings(state_dir: Path) -> LabSettings:
    data = json.loads((state_dir / SETTINGS_JSON).read_text())
    data["added_nodes"] = tuple(tuple(row) for row in data.get("added_nodes", ()))
    data["replaced_disks"] = tuple(tuple(row) for row in data.get("replaced_disks", ()))
    return LabSettings(**data)


def read_secrets(state_dir: Path) -> LabSecrets:
    return LabSecrets(**json.loads((state_dir / SECRETS_JSON).read_text()))
