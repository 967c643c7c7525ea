"""Real Ceph daemons for a lab: one `CephBackend` per lab, blocking methods for the API layer's workers.

Modules: `conf` (ceph.conf, pure), `commands` (ceph/rbd CLI runner), `daemons` (processes),
`disks` (sparse disk files), `layout` (paths), `tuning` (small-machine settings), `backend` (facade);
`rados_client` is the API layer's librados handle for fast reads.
"""

from .backend import CephBackend
from .errors import CephBackendError, CephCommandError

__all__ = ["CephBackend", "CephBackendError", "CephCommandError"]
