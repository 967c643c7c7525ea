"""Where the providers get the PVE endpoint and credentials: the stack config the
pulumi-proxmoxve provider reads, falling back per key to the environment variables bpg reads.

Credentials live only in memory of the provider process; `Credentials` never shows a secret in
its repr, and nothing here is ever an input, an output or pickled (see base.PveProvider).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dynamic_providers.errors import ConfigError
from dynamic_providers.values import as_bool

ROOT_USER = "root@pam"

# (stack config key, environment variable), per setting.
SOURCES: dict[str, tuple[str, str]] = {
    "endpoint": ("proxmoxve:endpoint", "PROXMOX_VE_ENDPOINT"),
    "api_token": ("proxmoxve:apiToken", "PROXMOX_VE_API_TOKEN"),
    "username": ("proxmoxve:username", "PROXMOX_VE_USERNAME"),
    "password": ("proxmoxve:password", "PROXMOX_VE_PASSWORD"),
    "insecure": ("proxmoxve:insecure", "PROXMOX_VE_INSECURE"),
}
# Both Go (so the bpg provider) and requests honour one of these; proxmoxer gets it explicitly.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
TOKEN_FORMAT = re.compile(r"^(?P<user>[^!=\s]+@[^!=\s]+)!(?P<name>[A-Za-z][A-Za-z0-9._-]*)=(?P<value>\S+)$")


@dataclass(frozen=True, repr=False)
class ApiToken:
    user: str  # e.g. root@pam
    name: str  # the token's name
    value: str = ""  # the secret

    def __repr__(self) -> str:
        return f"ApiToken({self.user}!{self.name}=***)"


@dataclass(frozen=True, repr=False)
class Credentials:
    endpoint: str  # https://host:port, no trailing slash, no /api2/json
    api_token: ApiToken | None = None
    username: str | None = None
    password: str | None = None
    insecure: bool = False
    ca_bundle: str | None = None  # a PEM file to verify the server with

    @classmethod
    def resolve(cls, config: Callable[[str], Any] | None, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read every setting from config if set there, else from the environment."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for setting, (key, variable) in SOURCES.items():
            value = config(key) if config is not None else None
            raw[setting] = value if value not in (None, "") else env.get(variable) or None
        return cls(
            endpoint=normalise_endpoint(raw["endpoint"]),
            api_token=parse_token(raw["api_token"]) if raw["api_token"] else None,
            username=str(raw["username"]) if raw["username"] else None,
            password=str(raw["password"]) if raw["password"] else None,
            insecure=as_bool(raw["insecure"]),
            ca_bundle=_ca_bundle(env),
        )._validated()

    def _validated(self) -> Credentials:
        if self.api_token is None and not (self.username and self.password):
            raise ConfigError(
                "no PVE credentials: set proxmoxve:apiToken (user@realm!name=secret) or proxmoxve:username and "
                "proxmoxve:password in the stack config (pulumi config set --secret ...), or PROXMOX_VE_API_TOKEN / "
                "PROXMOX_VE_USERNAME and PROXMOX_VE_PASSWORD in the environment"
            )
        if self.password and not self.username:
            raise ConfigError("proxmoxve:password is set but proxmoxve:username is not (e.g. root@pam)")
        return self

    @property
    def has_root_password(self) -> bool:
        return self.username == ROOT_USER and bool(self.password)

    @property
    def verify(self) -> bool | str:
        """What requests' `verify` gets: a CA file, True (system CAs) or False (insecure)."""
        if self.insecure:
            return False
        return self.ca_bundle or True

    @property
    def host_port(self) -> str:
        return urlsplit(self.endpoint).netloc

    @property
    def path_prefix(self) -> str | None:
        path = urlsplit(self.endpoint).path.strip("/")
        return path or None

    def __repr__(self) -> str:
        secret = "***" if self.password else None
        return (
            f"Credentials(endpoint={self.endpoint!r}, api_token={self.api_token!r}, username={self.username!r}, "
            f"password={secret}, insecure={self.insecure}, ca_bundle={self.ca_bundle!r})"
        )


def normalise_endpoint(value: Any) -> str:
    if not value:
        raise ConfigError(
            "no PVE endpoint: set proxmoxve:endpoint (e.g. https://pve1.example.com:8006/) in the "
            "stack config, or PROXMOX_VE_ENDPOINT in the environment"
        )
    text = str(value).strip().rstrip("/").removesuffix("/api2/json").rstrip("/")
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"proxmoxve:endpoint {value!r} is not an https:// URL (e.g. https://pve1:8006/)")
    if parts.port is None:
        text = f"https://{parts.netloc}:8006{parts.path}"
    return text


def parse_token(value: Any) -> ApiToken:
    match = TOKEN_FORMAT.match(str(value).strip())
    if not match:
        raise ConfigError(
            "proxmoxve:apiToken / PROXMOX_VE_API_TOKEN is not of the form user@realm!tokenname=secret "
            "(e.g. root@pam!pulumi=1234abcd-...)"
        )
    return ApiToken(user=match["user"], name=match["name"], value=match["value"])


def _ca_bundle(env: Mapping[str, str]) -> str | None:
    for variable in CA_VARIABLES:
        path = env.get(variable)
        if path:
            if not os.path.isfile(path):
                raise ConfigError(f"{variable}={path} does not name a readable CA certificate file")
            return path
    return None
