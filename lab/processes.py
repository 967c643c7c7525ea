"""Every process the lab starts, recorded by PID so `lab down` can stop them even after a crash.

The record lives in `<state-dir>/pids.json`. A PID is only ever signalled when the process
still carries the state directory in its command line: a PID the kernel has since handed to
some unrelated process is left alone. Nothing here looks processes up by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PIDS_FILE = "pids.json"


@dataclass(frozen=True)
class TrackedProcess:
    pid: int
    role: str  # e.g. "api", "mon.pve1", "osd.0"
    marker: str  # a string that must appear in /proc/<pid>/cmdline (the state dir)


def cmdline(pid: int) -> str | None:
    """The command line of a live process, arguments joined by spaces; None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # a zombie has an empty command line
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_ours(proc: TrackedProcess) -> bool:
    line = cmdline(proc.pid)
    return line is not None and proc.marker in line


class ProcessTracker:
    """The lab's process table: thread-safe, persisted on every change."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / PIDS_FILE
        self.marker = str(self.state_dir.resolve())
        self._lock = threading.Lock()

    # -- record -------------------------------------------------------------------------------

    def load(self) -> list[TrackedProcess]:
        try:
            rows = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [TrackedProcess(**row) for row in rows]

    def _save(self, procs: Iterable[TrackedProcess]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(p) for p in procs], indent=1))
        os.replace(tmp, self.path)

    def add(self, pid: int, role: str, marker: str | None = None) -> TrackedProcess:
        proc = TrackedProcess(pid=pid, role=role, marker=marker or self.marker)
        with self._lock:
            procs = [p for p in self.load() if p.pid != pid]
            procs.append(proc)
            self._save(procs)
        return proc

    def forget(self, pid: int) -> None:
        with self._lock:
            self._save(p for p in self.load() if p.pid != pid)

    def find(self, role: str) -> TrackedProcess | None:
        for proc in self.load():
            if proc.role == role:
                return proc
        return None

    # -- start and stop -----------------------------------------------------------------------

    def spawn(
        self, role: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start argv in its own session (so a signal to the lab never reaches it by accident) and record it.

        argv must mention the state directory (as a config path, a data dir, ...), which is what
        lets `stop` prove later that a PID is still ours.
        """
        if not any(self.marker in arg for arg in argv):
            raise ValueError(f"{role}: the command line must name the state directory {self.marker}")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cwd,
            )
        self.add(proc.pid, role)
        return proc

    def stop(self, proc: TrackedProcess, timeout: float = 10.0, sig: int = signal.SIGTERM) -> bool:
        """Signal one recorded process and wait for it to go; SIGKILL after timeout. True if it was running."""
        if not is_ours(proc):
            self.forget(proc.pid)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(proc.pid)
            if not is_ours(proc):
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            while is_ours(proc):
                _reap(proc.pid)
                time.sleep(0.05)
        self.forget(proc.pid)
        return True

    def kill(self, proc: TrackedProcess) -> bool:
        """SIGKILL at once: a crash, as when a node loses power."""
        return self.stop(proc, timeout=0.0, sig=signal.SIGKILL)

    def stop_all(self, timeout: float = 10.0, exclude_pid: int | None = None) -> list[TrackedProcess]:
        """Stop every recorded process (all at once, then wait); returns those that were running."""
        procs = [p for p in self.load() if p.pid != exclude_pid]
        live = [p for p in procs if is_ours(p)]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            self.stop(proc, timeout=timeout)
        return live


def _reap(pid: int) -> None:
    """Collect a child that has exited, so it does not linger as a zombie (only works for our children)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
