"""What `pveceph install`, run in a lab terminal, does to a node: the `InstallTarget` of lab/terminal/programs.py
over the lab's state (installed packages and the install flag in ClusterState, the APT sources in NodeApt,
the daemons' reload in ApiDaemons).

The Ceph binaries are the host's (Debian's): what an install gives a node is the right to use them
there, so the host must have them (scripts/setup.sh installs them); a host without them is said so on
the terminal, as pveceph's own die would be.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from lab.models.apt import NodeApt
from lab.models.cluster import ClusterState
from lab.models.daemon_reload import ApiDaemons
from lab.terminal.programs import Die

HOST_BINARIES = ("ceph", "ceph-mon", "ceph-mgr", "ceph-osd")


@dataclass
class NodeInstallTarget:
    node: str
    cluster: ClusterState
    apt: NodeApt
    daemons: ApiDaemons
    has_subscription: bool = False  # lab nodes have no subscription key

    def installed_release(self) -> str | None:
        return self.cluster.installed.get(self.node)

    def write_ceph_source(self, codename: str, repository: str) -> None:
        self.apt.write_ceph_source(codename, repository)

    def dpkg_interrupted(self) -> bool:
        return self.node in self.cluster.dpkg_interrupted

    def begin_install(self) -> None:
        self.cluster.install_flag.add(self.node)

    def finish_install(self, codename: str) -> None:
        missing = [b for b in HOST_BINARIES if shutil.which(b) is None]
        if missing:
            raise Die(f"lab: the host lacks {', '.join(missing)} (scripts/setup.sh installs them)\n")
        self.cluster.install(self.node, codename)
        self.cluster.install_flag.discard(self.node)
        self.cluster.dpkg_interrupted.discard(self.node)

    def abort_install(self) -> None:
        self.cluster.install_flag.discard(self.node)

    def interrupt_install(self, dpkg_broken: bool) -> None:
        # The flag stays (pveceph died before removing it); a kill during unpacking breaks dpkg too.
        if dpkg_broken:
            self.cluster.dpkg_interrupted.add(self.node)

    def reload_daemons(self) -> None:
        self.daemons.reload(self.node)
