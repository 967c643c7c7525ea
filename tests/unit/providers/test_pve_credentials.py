"""Credentials: stack config first, bpg's environment variables as the fallback, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynamic_providers.errors import ConfigError
from dynamic_providers.pve.credentials import Credentials, normalise_endpoint, parse_token

TOKEN = "root@pam!pulumi=11111111-2222-3333-4444-555555555555"


def config_of(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return values.get


def test_config_wins_over_environment() -> None:
    creds = Credentials.resolve(
        config_of({"proxmoxve:endpoint": "https://cfg:8006/", "proxmoxve:apiToken": TOKEN}),
        {"PROXMOX_VE_ENDPOINT": "https://env:8006", "PROXMOX_VE_API_TOKEN": "x@pam!y=z"},
    )
    assert creds.endpoint == "https://cfg:8006"
    assert creds.api_token is not None and creds.api_token.name == "pulumi"


def test_environment_fills_each_missing_key() -> None:
    creds = Credentials.resolve(
        config_of({"proxmoxve:endpoint": "https://cfg:8006"}),
        {
            "PROXMOX_VE_API_TOKEN": TOKEN,
            "PROXMOX_VE_USERNAME": "root@pam",
            "PROXMOX_VE_PASSWORD": "pw",
            "PROXMOX_VE_INSECURE": "true",
        },
    )
    assert creds.endpoint == "https://cfg:8006"
    assert creds.has_root_password
    assert creds.insecure and creds.verify is False


def test_no_configure_call_reads_the_environment_only() -> None:
    creds = Credentials.resolve(None, {"PROXMOX_VE_ENDPOINT": "https://env", "PROXMOX_VE_API_TOKEN": TOKEN})
    assert creds.endpoint == "https://env:8006"  # bpg's default port


def test_missing_endpoint_names_both_places() -> None:
    with pytest.raises(ConfigError, match=r"proxmoxve:endpoint.*PROXMOX_VE_ENDPOINT"):
        Credentials.resolve(None, {"PROXMOX_VE_API_TOKEN": TOKEN})


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(ConfigError, match="proxmoxve:apiToken"):
        Credentials.resolve(None, {"PROXMOX_VE_ENDPOINT": "https://h:8006"})


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://h:8006",  # TLS is not optional
        "h:8006",  # no scheme
    ],
)
def test_endpoint_must_be_https(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="https"):
        normalise_endpoint(endpoint)


def test_endpoint_accepts_api_path_suffix() -> None:
    assert normalise_endpoint("https://h:8006/api2/json/") == "https://h:8006"


def test_malformed_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        parse_token("root@pam:supersecretvalue")
    assert "supersecretvalue" not in str(info.value)


def test_repr_hides_every_secret() -> None:
    creds = Credentials.resolve(
        None,
        {
            "PROXMOX_VE_ENDPOINT": "https://h",
            "PROXMOX_VE_API_TOKEN": TOKEN,
            "PROXMOX_VE_USERNAME": "root@pam",
            "PROXMOX_VE_PASSWORD": "hunter2",
        },
    )
    text = repr(creds) + str(creds)
    assert "hunter2" not in text and "11111111" not in text
    assert "root@pam!pulumi" in text


def test_ca_bundle_from_environment(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"PROXMOX_VE_ENDPOINT": "https://h", "PROXMOX_VE_API_TOKEN": TOKEN, "SSL_CERT_FILE": str(ca)}
    assert Credentials.resolve(None, env).verify == str(ca)
    env["REQUESTS_CA_BUNDLE"] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="REQUESTS_CA_BUNDLE"):
        Credentials.resolve(None, env)


def test_tls_is_verified_by_default() -> None:
    creds = Credentials.resolve(None, {"PROXMOX_VE_ENDPOINT": "https://h", "PROXMOX_VE_API_TOKEN": TOKEN})
    assert creds.verify is True
