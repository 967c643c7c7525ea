"""Every process of one `pulumi` run, however it was started, found by an id in its environment (e2e, benches).

The engine passes its environment on to every plugin it starts (language host, program, provider
hosts), and they keep it whatever process group they move to, so a variable set on `pulumi` alone
marks all of them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

RUN_ID_VARIABLE = "PROXMOX_HCI_RUN_ID"


def new_run_id() -> str:
    return uuid.uuid4().hex


def processes_of(run_id: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment carries the run's id."""
    marker = f"{RUN_ID_VARIABLE}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":  # a zombie has exited; only its parent has not reaped it
            found.append((int(entry.name), cmdline))
    return found
