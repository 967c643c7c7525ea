"""Real Ceph daemons for a lab, and the Ceph commands the lab's PVE side sends them.

The cluster: `conf` (ceph.conf, pure), `commands` (ceph/rbd CLI runner), `daemons` (processes),
`disks` (sparse disk files), `layout` (paths), `tuning` (small-machine settings), `backend` (the
facade: one `CephBackend` per lab, blocking methods for the API layer's workers).

The commands, one method per Ceph command, as PVE sends them: `rados_client` (librados, as PVE::RADOS),
`monitors` (status, MON/MGR maps, quorum, CRUSH rules, safety checks), `osds`, `pools` (MON commands over
librados) and `rbd` (the `rbd` CLI, as pve-storage's RBD plugin runs it).
"""

from .backend import CephBackend
from .errors import CephBackendError, CephCommandError

__all__ = ["CephBackend", "CephBackendError", "CephCommandError"]
