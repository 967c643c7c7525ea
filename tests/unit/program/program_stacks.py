"""The stack configs the program tests start from: the dev stack as committed, and its PVE 8 twin."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "proxmox-hci"
LAB_NETWORK = "127.77.3.0/24"
ENV = {"PROXMOX_HCI_PUBLIC_NETWORK": LAB_NETWORK}


def stack_file(name: str) -> dict[str, Any]:
    """Pulumi.<name>.yaml's project keys, without the `proxmox-hci:` prefix."""
    config = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}


def dev_raw() -> dict[str, Any]:
    return stack_file("dev")


def pve8_raw() -> dict[str, Any]:
    """The dev stack as a PVE 8 cluster would spell it: an HA group instead of the node-affinity rule."""
    raw = copy.deepcopy(dev_raw())
    raw["pveVersion"] = 8
    rule = raw["ha"]["rules"][0]
    raw["ha"] = {"groups": [{"name": rule["name"], "nodes": rule["nodes"], "comment": rule["comment"]}]}
    for vm in raw["vms"]:
        if vm["name"] in rule["vms"]:
            vm["ha"]["group"] = rule["name"]
    return raw
