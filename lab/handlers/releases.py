"""What a node says about its PVE release: `GET /nodes/{node}/version` (pve-manager PVE/API2/Nodes.pm, every
user, `proxyto => 'node'`) and, from 9.2.7 (6b90b52d), `GET /nodes/{node}/ceph/releases` (PVE/API2/Ceph.pm
over PVE/Ceph/Releases.pm). Before 9.2.7 that path does not exist: PVE answers 501 `Method ... not
implemented`, as for any path it does not have."""

from __future__ import annotations

from typing import Any

from lab import errors
from lab.handlers.base import LabArea, Route
from lab.releases import CEPH_VERSION, KNOWN_CEPH_RELEASES


class ReleasesApi(LabArea):
    def _routes_releases(self) -> list[Route]:
        return [
            ("GET", "/nodes/{node}/version", self._node_version),
            ("GET", "/nodes/{node}/ceph/releases", self._ceph_releases),
        ]

    async def _node_version(self, v: dict[str, Any], user: str) -> dict[str, Any]:
        release = self.cluster.spec.release
        return {"version": release.text, "release": release.minor_text, "repoid": "lab"}

    async def _ceph_releases(self, v: dict[str, Any], user: str) -> list[dict[str, Any]]:
        release = self.cluster.spec.release
        if not release.has_ceph_releases_endpoint:
            raise errors.PveError(501, f"Method 'GET /nodes/{v['node']}/ceph/releases' not implemented")
        offers = {o.codename: o for o in release.ceph_offers}
        return [
            {
                "release": codename,
                "version": CEPH_VERSION[codename],
                "available": 1 if codename in offers else 0,
                "is-default": 1 if codename == release.default_ceph else 0,
                "unsupported": 1 if codename in offers and offers[codename].experimental else 0,
            }
            for codename in sorted(KNOWN_CEPH_RELEASES)
        ]
