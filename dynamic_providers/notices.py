"""notice(message): one line in `pulumi up`'s output about something the operator should know happened.

Used when a create takes over an object it found (logic/takeover.py) and when a task left running by
an interrupted run is waited for (interrupted.py). The line goes to the provider host's stderr, which
the engine shows as an info message of the stack (pulumi/pulumi sdk/go/common/resource/plugin/
plugin.go: a plugin's stderr lines become Infoerr diagnostics), and to the `dynamic_providers.notices`
logger, which integration tests and scripts read.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

PREFIX = "proxmox-hci: "


def notice(message: str) -> None:
    text = " ".join(message.split())
    log.info("%s", text)
    print(PREFIX + text, file=sys.stderr, flush=True)
