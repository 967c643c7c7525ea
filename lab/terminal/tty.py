"""The pseudo terminal between termproxy and the command it runs, as Linux's default line discipline
behaves on the pty termproxy opens (`termproxy/src/pty.rs`, size 80x20 from `run_pty`).

Input is canonical: bytes are echoed, a line reaches the program at Enter (CR is turned into NL,
ICRNL), DEL erases, Ctrl-C interrupts (ISIG) and Ctrl-D at the start of a line is end of file.
Output turns NL into CR NL (ONLCR). `flush_input` is tcflush(TCIFLUSH), which apt calls before it
asks (apt-private/private-output.cc YnPrompt): whatever was typed before a question is lost.
A hangup (the client went away, termproxy exited) ends every wait with `Hangup`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Hangup(Exception):
    """The terminal is gone: SIGHUP for the program."""


class Interrupted(Exception):
    """Ctrl-C: SIGINT for the program."""


class Tty:
    def __init__(self, on_output: Callable[[bytes], None], time_scale: float = 1.0) -> None:
        self._on_output = on_output
        self.time_scale = time_scale
        self.cols, self.rows = 80, 20
        self._line = bytearray()
        self._lines: list[bytes | None] = []  # None: end of file (Ctrl-D)
        self._interrupted = False
        self._hung_up = False
        self._wakeup = asyncio.Event()  # input arrived, or a signal
        self._signal = asyncio.Event()  # hangup or Ctrl-C only: what ends a pause

    # -- the program's side ------------------------------------------------------------------------

    def write(self, text: str) -> None:
        if self._hung_up:
            return
        self._on_output(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())

    async def readline(self) -> str | None:
        """The next line without its newline; None at end of file (Perl's <STDIN> is undef)."""
        while True:
            self._check()
            if self._lines:
                line = self._lines.pop(0)
                return None if line is None else line.decode(errors="replace")
            self._wakeup.clear()
            await self._wakeup.wait()

    def flush_input(self) -> None:
        self._line.clear()
        self._lines.clear()

    async def pause(self, seconds: float, at_least: float = 0.0) -> None:
        """Work that takes time (apt downloading): `seconds` scaled, but `at_least` real seconds;
        a hangup or Ctrl-C ends it early."""
        self._check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), max(seconds * self.time_scale, at_least))
        self._check()

    def _check(self) -> None:
        if self._hung_up:
            raise Hangup()
        if self._interrupted:
            self._interrupted = False
            self._signal.clear()
            raise Interrupted()

    # -- termproxy's side --------------------------------------------------------------------------

    def input(self, data: bytes) -> None:
        """Bytes the client typed (the payloads of `0:LEN:DATA` frames)."""
        for byte in data:
            char = bytes([byte])
            if char in (b"\r", b"\n"):
                self._lines.append(bytes(self._line))
                self._line.clear()
                self.write("\n")
            elif char in (b"\x7f", b"\x08"):
                if self._line:
                    self._line.pop()
                    self._on_output(b"\x08 \x08")
            elif char == b"\x03":
                self._line.clear()
                self._on_output(b"^C")
                self._interrupted = True
                self._signal.set()
            elif char == b"\x04":
                if not self._line:
                    self._lines.append(None)
                else:
                    self._lines.append(bytes(self._line))
                    self._line.clear()
            else:
                self._line += char
                self._on_output(char)
        self._wakeup.set()

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows

    def hangup(self) -> None:
        self._hung_up = True
        self._signal.set()
        self._wakeup.set()

    @property
    def hung_up(self) -> bool:
        return self._hung_up
