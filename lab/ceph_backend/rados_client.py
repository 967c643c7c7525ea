"""librados from Debian's python3-rados, as PVE's own PVE::RADOS talks to the MONs.

The API layer reads Ceph state on almost every request; a `ceph` CLI process costs a few hundred
milliseconds to start, a mon_command over an open librados handle a few. The Debian module is
built for CPython 3.11, so it loads into any 3.11 interpreter; it is loaded by file path so the
rest of Debian's dist-packages stays off sys.path.
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import json
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

# A Ceph command's JSON answer, passed on as PVE passes it.
CephJson = dict[str, Any]
DEBIAN_RADOS = Path("/usr/lib/python3/dist-packages/rados.cpython-311-x86_64-linux-gnu.so")
# PVE's RADOS timeout for API calls (workers use 60 s).
DEFAULT_TIMEOUT = 5


class RadosError(Exception):
    """A failed MON command or connection, worded like PVE::RADOS reports it."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_module: ModuleType | None = None


def _rados() -> ModuleType:
    global _module
    if _module is None:
        if not DEBIAN_RADOS.exists():
            raise RadosError(f"rados_connect failed - {DEBIAN_RADOS} missing (apt-get install python3-rados)")
        loader = importlib.machinery.ExtensionFileLoader("rados", str(DEBIAN_RADOS))
        spec = importlib.util.spec_from_file_location("rados", DEBIAN_RADOS, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        _module = module
    return _module


class RadosClient:
    """One lazily opened, thread-safe librados handle; reopened after a failure."""

    def __init__(self, conf_path: Path, timeout: int = DEFAULT_TIMEOUT) -> None:
        self.conf_path = conf_path
        self.timeout = timeout
        self._handle: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        with self._lock:
            if self._handle is not None:
                return self._handle
            rados = _rados()
            handle = rados.Rados(
                conffile=str(self.conf_path),
                conf={
                    "client_mount_timeout": str(self.timeout),
                    "rados_mon_op_timeout": str(self.timeout),
                    "rados_osd_op_timeout": str(self.timeout),
                    "log_to_stderr": "false",
                    "err_to_stderr": "false",
                },
            )
            try:
                handle.connect(timeout=self.timeout)
            except rados.Error as exc:
                handle.shutdown()
                raise RadosError(f"rados_connect failed - {_strerror(exc)}") from exc
            self._handle = handle
            return handle

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.shutdown()
                self._handle = None

    def mon_command(self, prefix: str, plain: bool = False, **args: Any) -> Any:
        """Run a MON command (`prefix` as the CLI spells it) and return its parsed JSON output.

        plain=True asks for Ceph's plain output instead: some commands (safe-to-destroy, ok-to-stop)
        only report "unsafe" through their return code and message in that form, as PVE calls them.
        """
        handle = self._connect()
        cmd = dict(args, prefix=prefix) if plain else dict(args, prefix=prefix, format="json")
        try:
            ret, out, status = handle.mon_command(json.dumps(cmd), b"", timeout=self.timeout)
        except _rados().Error as exc:
            self.close()
            raise RadosError(f"error with '{prefix}': mon_cmd failed - {_strerror(exc)}") from exc
        if ret != 0:
            if ret == -errno.ETIMEDOUT:
                self.close()
            raise RadosError(f"error with '{prefix}': mon_cmd failed - {status}", code=-ret)
        return _parse(out)

    def mgr_command(self, prefix: str, **args: Any) -> Any:
        """Run a MGR command and return its parsed JSON output; failures as for mon_command."""
        handle = self._connect()
        cmd = dict(args, prefix=prefix, format="json")
        try:
            ret, out, status = handle.mgr_command(json.dumps(cmd), b"", timeout=self.timeout)
        except _rados().Error as exc:
            self.close()
            raise RadosError(f"error with '{prefix}': mgr_cmd failed - {_strerror(exc)}") from exc
        if ret != 0:
            raise RadosError(f"error with '{prefix}': mgr_cmd failed - {status}", code=-ret)
        return _parse(out)


def _parse(out: bytes) -> Any:
    """A command's output: its JSON, its text if it is not JSON, None if there is none."""
    if not out:
        return None
    try:
        return json.loads(out)
    except ValueError:
        return out.decode(errors="replace")


def _strerror(exc: Exception) -> str:
    text = str(exc)
    # librados wraps errno texts as "[errno 110] RADOS timed out (error connecting to the cluster)".
    if "timed out" in text.lower():
        return "Connection timed out"
    return text
