"""VNC tickets as pve-access-control makes and checks them (`PVE/AccessControl.pm`).

`assemble_vnc_ticket($user, $path, $port)` signs `PVEVNC:<hex time>` with the secret data
`<user>:<path>:<port>`; `verify_vnc_ticket` accepts it for the same user, path and port while its age
is within (-20, 40) seconds (`$verify_short_lived_ticket`). The user is not in the ticket itself. The
lab signs with an HMAC instead of the node's RSA key: the checks are the same, the bytes are not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

MIN_AGE, MAX_AGE = -20, 40


class VncTickets:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _sign(self, plain: str, user: str, path: str, port: int) -> str:
        digest = hmac.new(self._key, f"{plain}:{user}:{path}:{port}".encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def issue(self, user: str, path: str, port: int) -> str:
        plain = f"PVEVNC:{int(self._clock()):08X}"
        return f"{plain}::{self._sign(plain, user, path, port)}"

    def verify(self, ticket: str, user: str, path: str, port: int) -> bool:
        """PVE::Ticket::verify_rsa_ticket for a VNC ticket: signature for (user, path, port), then age."""
        plain, sep, signature = ticket.partition("::")
        if not sep or not plain.startswith("PVEVNC:"):
            return False
        if not hmac.compare_digest(signature, self._sign(plain, user, path, port)):
            return False
        try:
            issued = int(plain.split(":", 1)[1], 16)
        except ValueError:
            return False
        age = self._clock() - issued
        return MIN_AGE < age < MAX_AGE
