"""/nodes/{node}/apt/repositories: a stateful model of each node's APT sources (what bpg's apt resources use)."""

from __future__ import annotations

from typing import Any

from fakepve.routing import check_digest

from lab import errors
from lab.handlers.base import CephHelpers
from lab.state.apt import AptError, NodeApt

Route = tuple[str, str, Any]


class AptApi(CephHelpers):
    apt: dict[str, NodeApt]

    def init_apt(self) -> None:
        self.apt = {node.name: NodeApt(self.cluster.spec.pve_version) for node in self.cluster.spec.nodes}

    def _routes_apt(self) -> list[Route]:
        path = "/nodes/{node}/apt/repositories"
        return [("GET", path, self._apt_get), ("PUT", path, self._apt_add), ("POST", path, self._apt_change)]

    async def _apt_get(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        return self.apt[v["node"]].as_api()

    async def _apt_add(self, v: dict[str, Any], user: str) -> None:
        node = self.apt[v["node"]]
        check_digest(node.digest(), v.get("digest"))
        try:
            node.add_standard(v["handle"])
        except AptError as exc:
            raise errors.param(handle=str(exc)) from exc

    async def _apt_change(self, v: dict[str, Any], user: str) -> None:
        node = self.apt[v["node"]]
        check_digest(node.digest(), v.get("digest"))
        try:
            node.set_enabled(v["path"], int(v["index"]), bool(v.get("enabled", True)))
        except AptError as exc:
            raise errors.die(str(exc)) from exc
