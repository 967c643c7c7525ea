"""Cluster membership on the wire: /nodes (with each node's certificate fingerprint), /cluster/status (with
each node's address), /cluster/config/nodes and /cluster/config/join (pve-manager PVE/API2/Nodes.pm index,
pve-manager PVE/API2/Cluster.pm status, pve-cluster src/PVE/API2/ClusterConfig.pm nodes and join_info).

fakepve answers these with placeholder addresses (192.0.2.x) and one made-up fingerprint; here they come
from the lab's spec (lab/models/cluster_info.py) and the certificate the API serves.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from fakepve.server import ok

from lab import errors
from lab.handlers.base import LabArea, Route
from lab.models.cluster_info import UnknownNode, join_info, members, node_entries


class ClusterInfoApi(LabArea):
    cluster_name: str

    def _routes_cluster_info(self) -> list[Route]:
        return [
            ("GET", "/cluster/config/nodes", self._cluster_config_nodes),
            ("GET", "/cluster/config/join", self._cluster_join_info),
        ]

    def _node_fingerprint(self, node: str) -> str:
        """get_node_fingerprint: every lab node's pve-ssl.pem is the certificate the API serves."""
        return self.cluster.ssl_fingerprint

    async def _cluster_config_nodes(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        return node_entries(members(self.cluster.spec))

    async def _cluster_join_info(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        node = v.get("node") or self.local_node()
        try:
            return join_info(self.cluster_name, members(self.cluster.spec), node, self._node_fingerprint(node))
        except UnknownNode as exc:
            raise errors.die(str(exc)) from exc

    # -- fakepve's hand-written routes --------------------------------------------------------------

    async def _nodes(self, request: web.Request) -> web.Response:
        """GET /nodes: each node's status, usage and `ssl_fingerprint`."""
        fakepve: Any = self
        data = []
        for name, state in sorted(self.nodes.items()):
            online = state.get("online", True)
            item = {"node": name, "id": "node/" + name, "status": "online" if online else "offline", "type": "node"}
            item.update(level="", ssl_fingerprint=self._node_fingerprint(name), **fakepve._node_stats(online))
            data.append(item)
        response: web.Response = ok(data)
        return response

    async def _cluster_status(self, request: web.Request) -> web.Response:
        """GET /cluster/status: the cluster, then each member with its address (get_members `ip`), `local`
        for the node answering."""
        local = self.local_node()
        nodes = members(self.cluster.spec)
        online = [n for n in nodes if self.nodes.get(n.name, {}).get("online", True)]
        data: list[dict[str, Any]] = [
            {
                "type": "cluster",
                "id": "cluster",
                "name": self.cluster_name,
                "nodes": len(nodes),
                "quorate": 1 if self.quorate else 0,
                "version": 1,
                "online": len(online),
            }
        ]
        for member in nodes:
            data.append(
                {
                    "type": "node",
                    "id": "node/" + member.name,
                    "name": member.name,
                    "nodeid": member.nodeid,
                    "ip": member.address,
                    "level": "",
                    "online": 1 if member in online else 0,
                    "local": 1 if member.name == local else 0,
                }
            )
        response: web.Response = ok(data)
        return response
