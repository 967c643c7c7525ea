"""Node: one PVE node's APT repositories and its Ceph packages."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

from dynamic_providers.ceph_install import CephInstall

# The Ceph handles pulumi-proxmoxve's apt.standard.Repository accepts (`ceph-squid-*` only). `pveceph install`
# writes the Ceph APT source itself (pve-manager PVE/CLI/pveceph.pm install), so for other releases the
# resource is simply not declared: it must never block a release it does not list.
BPG_CEPH_HANDLE_RELEASES = ("squid",)


@dataclass(frozen=True)
class NodeArgs:
    node: str
    ceph_version: str
    repository: str  # no-subscription | enterprise | test, for PVE and Ceph alike
    apt_repositories: bool = True
    adopt: bool = False  # take over Ceph packages already on the node
    pve_release: str | None = None  # the release the stack says the node runs (X.Y.Z)
    allow_experimental: bool = False  # install a release PVE marks as a technology preview


class Node(pulumi.ComponentResource):
    ceph_install: CephInstall
    repositories: list[pulumi.Resource]

    def __init__(self, name: str, args: NodeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("proxmox-hci:pve:Node", name, None, opts)
        self.repositories = []
        if args.apt_repositories:
            pve_handle = args.repository
            ceph_handle = f"ceph-{args.ceph_version}-{args.repository}"
            self.repositories = self._repository(f"{name}-apt-pve", args.node, pve_handle)
            if args.ceph_version in BPG_CEPH_HANDLE_RELEASES:
                self.repositories += self._repository(f"{name}-apt-ceph", args.node, ceph_handle)
        # `pveceph install` reads the repositories, so it waits for them.
        self.ceph_install = CephInstall(
            f"{name}-ceph-install",
            node=args.node,
            version=args.ceph_version,
            repository=args.repository,
            adopt=args.adopt,
            pve_release=args.pve_release,
            allow_experimental=args.allow_experimental or None,  # unset, not false: no diff for older stacks
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.repositories),
        )
        self.register_outputs({"installedVersion": self.ceph_install.installed_version})

    def _repository(self, name: str, node: str, handle: str) -> list[pulumi.Resource]:
        """The standard repository (added to the sources) and its entry switched on."""
        standard = proxmoxve.apt.standard.Repository(
            name, handle=handle, node=node, opts=pulumi.ResourceOptions(parent=self)
        )
        enabled = proxmoxve.apt.Repository(
            f"{name}-enabled",
            enabled=True,
            file_path=standard.file_path,
            index=standard.index,
            node=node,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return [standard, enabled]
