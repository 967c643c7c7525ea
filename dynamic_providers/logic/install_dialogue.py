"""Reading `pveceph install` on a node's terminal: lines, the step it is at, what to answer. Pure.

What the terminal shows comes from proxmox/pve-manager `PVE/CLI/pveceph.pm` install and apt-get
(apt-private/private-install.cc): pveceph's own `(y/N)`/`(Y/n)` questions, apt's
`Do you want to continue? [Y/n]` (asked when more than the named packages change; apt discards
input typed before it asks, so the answer is sent only once the question is on screen), the
`installed Ceph 18.2 Reef successfully!` line and the daemons' reload after it. Anyone but root@pam
gets `/bin/login` instead of the command (`get_shell_command` in `PVE/API2/Nodes.pm`).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
APT_CONTINUE = re.compile(r"Do you want to continue\? \[Y/n\] ?$")
SWITCH_TO_TEST = re.compile(r"Do you want to switch to the test repository \(Y/n\)\? ?$")
TECH_PREVIEW = re.compile(r"is currently considered a technology preview for Proxmox VE - continue \(y/N\)\? ?$")
CONFIRM_RELEASE = re.compile(r"This will install Ceph .* - continue \(y/N\)\? ?$")
LOGIN = re.compile(r"\blogin: ?$")
INSTALLED = re.compile(r"installed Ceph (\d+\.\d+) (\w+) successfully!")
RELOADING = "reloading API to load new Ceph RADOS library..."
STEPS = (
    ("update available package list", "refreshing the package lists (apt-get update)"),
    ("start installation", "installing the packages (apt-get install)"),
    ("Do you want to continue?", "answering apt's confirmation"),
    ("Unpacking ", "unpacking the packages"),
    ("Setting up ", "configuring the packages"),
    ("installed Ceph", "reloading the API daemons"),
)
KEEP_LINES = 200


class LoginPrompt(Exception):
    """The terminal runs /bin/login: the session is not root@pam's."""


class TerminalText:
    """The terminal's output as text: escape sequences dropped, lines split at CR/LF, the
    unfinished last line (where a question waits) kept apart."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pending = ""
        self._carry = ""  # an escape sequence cut by the chunk boundary
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> list[str]:
        """Add output; returns the lines it completed."""
        text = self._carry + self._decoder.decode(data)
        escape = text.rfind("\x1b")
        if escape >= 0 and not ANSI.match(text, escape) and len(text) - escape < 32:
            self._carry, text = text[escape:], text[:escape]
        else:
            self._carry = ""
        parts = re.split(r"\r\n|\n|\r(?!$)", self.pending + ANSI.sub("", text))
        self.pending = parts.pop()
        self.lines.extend(parts)
        del self.lines[:-KEEP_LINES]
        return parts

    def tail(self, count: int = 15) -> list[str]:
        out = [line for line in self.lines if line.strip()][-count:]
        if self.pending.strip():
            out.append(self.pending)
        return out


@dataclass(frozen=True)
class Answers:
    """How this stack answers the installer's questions."""

    allow_experimental: bool = False


def reply(question: str, answers: Answers) -> str | None:
    """What to type for the question on the unfinished last line, or None if it is not one.

    Raises LoginPrompt when the terminal asks for a login instead of running pveceph.
    """
    line = question.rstrip("\r")
    if APT_CONTINUE.search(line):
        return "y\r"
    if TECH_PREVIEW.search(line):
        return "y\r" if answers.allow_experimental else "n\r"
    if SWITCH_TO_TEST.search(line):
        return "n\r"  # keep the repository the stack declares; preview checks refuse the bad pairs
    if CONFIRM_RELEASE.search(line):
        return "n\r"  # only asked without --version, which the program always passes
    if LOGIN.search(line):
        raise LoginPrompt(line.strip())
    return None


def step_of(lines: list[str]) -> str:
    """The last step the installer reached, in words for an error message."""
    step = "starting pveceph install"
    for line in lines:
        for marker, name in STEPS:
            if marker in line:
                step = name
    return step


def installed_release(lines: list[str]) -> str | None:
    """`installed Ceph 18.2 Reef successfully!` -> `reef`."""
    for line in reversed(lines):
        match = INSTALLED.search(line)
        if match:
            return match.group(2).lower()
    return None


def finished(lines: list[str]) -> bool:
    """pveceph is done (it reloads the daemons last and prints nothing more)."""
    return any(RELOADING in line for line in lines)
