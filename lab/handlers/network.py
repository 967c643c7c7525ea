"""A node's network interfaces (pve-manager PVE/API2/Network.pm index and read): what lets a client see
each node's address on the public and on the cluster network (lab/models/network.py)."""

from __future__ import annotations

from typing import Any

from lab import errors
from lab.handlers.base import LabArea, Route
from lab.models.network import interface_types, node_interfaces


class NetworkApi(LabArea):
    def _routes_network(self) -> list[Route]:
        return [
            ("GET", "/nodes/{node}/network", self._network_index),
            ("GET", "/nodes/{node}/network/{iface}", self._network_read),
        ]

    def _interfaces(self, node: str) -> list[dict[str, Any]]:
        return node_interfaces(self.cluster.spec, self.cluster.spec.node(node))

    async def _network_index(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        types = interface_types(v.get("type"))
        return [row for row in self._interfaces(v["node"]) if types is None or row["type"] in types]

    async def _network_read(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        for row in self._interfaces(v["node"]):
            if row["iface"] == v["iface"]:
                return row
        raise errors.param(iface="interface does not exist")
