"""What an API client of a node sees while `pveceph install` reloads its daemons. Pure.

pveceph ends with `systemctl try-reload-or-restart pvedaemon.service pveproxy.service`: a HUP to each
master. proxmox/pve-common `PVE/Daemon.pm`: both daemons set `leave_children_open_on_reload`, so on
HUP the master leaves its workers running, clears FD_CLOEXEC on the listening sockets and re-execs
itself (`restart_daemon`); the socket never closes, so nothing is refused, but connections made while
the new master loads wait in the listen backlog. The new master starts fresh workers, sleeps 5 s in
its loop, then sends TERM to the old ones; proxmox/pve-http-server `PVE/APIServer/AnyEvent.pm`
`wait_end_loop`: an old worker stops accepting and, with connections still open, forks and lets the
child serve them with keep-alive off (`keep_alive = 0 if ... $self->{end_loop}`), so a kept-alive
connection made before the reload is closed after its next answer. A websocket (the terminal itself)
lives on until it is closed.

How long the new master takes to load is not in the source; EXEC_SECONDS is an estimate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

EXEC_SECONDS = 1.5  # estimate: perl loading PVE::API2 before the new workers accept
OLD_WORKER_SLEEP = 5.0  # the master loop's sleep(5) before terminate_old_workers


@dataclass(frozen=True)
class DaemonReload:
    started: float  # when systemctl sent the HUPs
    exec_seconds: float = EXEC_SECONDS
    old_worker_sleep: float = OLD_WORKER_SLEEP

    @property
    def new_workers_ready(self) -> float:
        return self.started + self.exec_seconds

    def accept_delay(self, now: float) -> float:
        """How long a connection opened at `now` waits in the backlog before a worker takes it."""
        return max(0.0, self.new_workers_ready - now)

    def closes_after_answer(self, connection_opened: float, now: float) -> bool:
        """Does an answer sent at `now`, on a connection opened at `connection_opened`, end it?"""
        on_old_worker = connection_opened < self.new_workers_ready
        old_worker_terminated = now >= self.new_workers_ready + self.old_worker_sleep
        return on_old_worker and old_worker_terminated

    def over(self, now: float) -> bool:
        """Nothing of the reload can be seen any more (old workers' connections aside)."""
        return now >= self.new_workers_ready + self.old_worker_sleep


class ApiDaemons:
    """Every node's pvedaemon and pveproxy, as far as a client of the lab's endpoint can tell them apart:
    when each last reloaded. The endpoint is the answering node's pveproxy; a call naming another node is
    proxied to that node's pveproxy (`proxyto => 'node'`), so it waits while that node's daemons reload."""

    def __init__(self, answering_node: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.answering_node = answering_node
        self.clock = clock
        self.reloads: dict[str, DaemonReload] = {}

    def reload(self, node: str) -> None:
        """`systemctl try-reload-or-restart pvedaemon.service pveproxy.service` on `node`, now."""
        self.reloads[node] = DaemonReload(started=self.clock())

    def accept_delay(self, path_node: str | None, new_connection: bool) -> float:
        """How long a call naming `path_node` waits now before a worker answers it: on a connection the
        endpoint accepts now (an old one is served by an old worker), or proxied to a reloading node."""
        now = self.clock()
        delays = []
        if new_connection and self.answering_node in self.reloads:
            delays.append(self.reloads[self.answering_node].accept_delay(now))
        if path_node and path_node != self.answering_node and path_node in self.reloads:
            delays.append(self.reloads[path_node].accept_delay(now))
        return max(delays, default=0.0)

    def closes_after_answer(self, connection_opened: float) -> bool:
        """An answer on a kept-alive connection to the endpoint ends it (an old worker's last answers)."""
        reload = self.reloads.get(self.answering_node)
        return reload is not None and reload.closes_after_answer(connection_opened, self.clock())
