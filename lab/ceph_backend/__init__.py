"""Real Ceph daemons for a lab: one `CephBackend` per lab, blocking methods for the API layer's workers.

Modules: `conf` (ceph.conf, pure), `commands` (ceph/rbd CLI runner), `daemons` (processes),
`disks` (sparse disk files), `layout` (paths), `tuning` (small-machine settings), `backend` (facade).
"""

from .backend import CephBackend
from .errors import CephBackendError, CephCommandError

__all__ = ["CephBackend", "CephBackendError", "CephCommandError"]
