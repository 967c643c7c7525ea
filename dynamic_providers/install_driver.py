"""Driving `pveceph install` on a node's terminal to its end, and judging the result as the GUI does.

The loop reads the terminal, passes every finished line to `progress` (an install takes minutes on a
real node), answers the questions `install_dialogue.reply` knows, and stops when pveceph says it is
reloading the daemons (it prints nothing after that and termproxy may keep the socket open), when the
terminal closes, or at the deadline. The result is never the task's status (termproxy's, not
pveceph's): it is `GET /nodes/{node}/ceph/status`, read as the wizard reads it - an answer,
`not initialized` or `rados_connect failed` mean installed, `binary not installed` means not (also
while apt runs: the install flag) - and asked again while the daemons reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from dynamic_providers.engine_watch import EngineGone
from dynamic_providers.logic import install_dialogue as dialogue

READ_SLICE = 1.0  # seconds per read, so the deadline is looked at often
PROBE_ATTEMPTS = 10
PROBE_PAUSE = 1.0

Probe = Literal["installed", "not-installed", "unknown"]


class TerminalLike(Protocol):
    rest: bytes

    def read(self, timeout: float) -> bytes | None: ...

    def send(self, text: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Transcript:
    lines: list[str]
    tail: list[str]
    step: str
    release: str | None  # from `installed Ceph X.Y Name successfully!`
    finished: bool  # pveceph reached the daemons' reload
    closed: bool  # the terminal went away (termproxy exited)
    timed_out: bool
    login_prompt: str | None = None


def drive(
    terminal: TerminalLike,
    answers: dialogue.Answers,
    progress: Callable[[str], None],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    alive: Callable[[str], None] | None = None,
) -> Transcript:
    """`alive(before)` is asked before apt's question is answered yes, the last point where nothing has
    changed yet: if the engine is gone (engine_watch.EngineGone), apt is told no first, so pveceph ends
    cleanly (no install flag or half-unpacked dpkg left behind), and the EngineGone goes on up."""
    text = dialogue.TerminalText()
    deadline = clock() + timeout
    answered_at: int | None = None  # the number of lines when the pending question was answered
    closed = timed_out = False
    login: str | None = None
    chunk: bytes | None = terminal.rest
    while True:
        if chunk:
            for line in text.feed(chunk):
                if line.strip():
                    progress(line.strip())
        if dialogue.finished(text.lines):
            break
        try:
            answer = dialogue.reply(text.pending, answers)
        except dialogue.LoginPrompt as exc:
            login = str(exc)
            break
        if answer is not None and answered_at != len(text.lines):
            answered_at = len(text.lines)
            if alive is not None and dialogue.APT_CONTINUE.search(text.pending):
                try:
                    alive("answering apt's question (the packages change next)")
                except EngineGone:
                    terminal.send("n\r")
                    raise
            terminal.send(answer)
        if chunk is None:
            closed = True
            break
        left = deadline - clock()
        if left <= 0:
            timed_out = True
            break
        chunk = terminal.read(min(READ_SLICE, left))
    return Transcript(
        lines=list(text.lines),
        tail=text.tail(),
        step=dialogue.step_of(text.lines),
        release=dialogue.installed_release(text.lines),
        finished=dialogue.finished(text.lines),
        closed=closed,
        timed_out=timed_out,
        login_prompt=login,
    )


def linger(terminal: TerminalLike, quiet: float, clock: Callable[[], float] = time.monotonic) -> None:
    """After `reloading API ...`, pveceph still runs systemctl; give it `quiet` seconds (or until termproxy
    closes the terminal) before hanging up, so the SIGHUP of the hangup finds it done."""
    deadline = clock() + quiet
    while (left := deadline - clock()) > 0:
        if terminal.read(min(READ_SLICE, left)) is None:
            return


def classify_status(error: str | None) -> Probe:
    """`GET /nodes/{node}/ceph/status`: None for an answer, else PVE's error text (message or reason)."""
    if error is None:
        return "installed"
    lowered = error.lower()
    if "not initialized" in lowered or "rados_connect failed" in lowered:
        return "installed"
    if "not installed" in lowered:
        return "not-installed"
    return "unknown"


def probe_until_settled(
    status_error: Callable[[], str | None],
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = PROBE_ATTEMPTS,
) -> tuple[Probe, str | None]:
    """Ask ceph/status until it says installed or not; connection trouble while pvedaemon and pveproxy
    reload reads as "unknown" and is asked again. Returns the verdict and the last error seen."""
    last: str | None = None
    for attempt in range(attempts):
        last = status_error()
        verdict = classify_status(last)
        if verdict != "unknown":
            return verdict, last
        if attempt + 1 < attempts:
            sleep(PROBE_PAUSE)
    return "unknown", last


def failure_message(node: str, transcript: Transcript, verdict: Probe, manual: str, last_error: str | None) -> str:
    """One message: which node, which step, the terminal's last lines, the command to run by hand."""
    if transcript.login_prompt:
        why = (
            f"the terminal of {node} asks for a login ({transcript.login_prompt!r}): termproxy runs /bin/login for "
            "anyone but root@pam, so the install needs proxmoxve:username root@pam and its password"
        )
    elif transcript.timed_out:
        why = f"pveceph install on {node} did not finish in time, at step: {transcript.step}"
    elif verdict == "not-installed":
        why = f"pveceph install on {node} failed at step: {transcript.step}"
    else:
        why = f"after pveceph install on {node} (step: {transcript.step}) ceph/status answers {last_error!r}"
    tail = "\n".join(f"  | {line}" for line in transcript.tail)
    return f"{why}\nlast lines of the terminal:\n{tail}\nto install by hand, run on {node}: {manual}"
