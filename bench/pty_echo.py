"""A pty's round trip with nothing on the other end but an answer: the terminal's own floor.

The steady bench times bytes in to the good-read byte out through a pty,
which a raw commit does not cross: the line goes through the kernel's tty
layer twice and wakes a second process. :class:`PtyRoundTrip` measures that
path alone, in the same run: a bare process (this file, run as a script)
holds the pty's other end, reads each CRLF-terminated line and answers it
with ACK at once, and the bench times a label typed to that ACK read back.

    python bench/pty_echo.py /dev/pts/N   # the answering end (started by PtyRoundTrip)
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

ACK = b"\x06"
QUIT = b"QUIT\r\n"
CEILING_S = 5.0  # an echo that never answers, not a speed requirement


def answer_lines(path: str) -> None:
    """Answer every line on the pty's other end (made raw by the bench) with ACK until QUIT."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)  # not setraw here: it would flush what waits
    waiting = select.poll()
    waiting.register(fd, select.POLLIN)
    pending = b""
    while True:
        waiting.poll()
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the bench closed its end
            return
        if not data:
            return
        pending += data
        while b"\r\n" in pending:
            line, pending = pending.split(b"\r\n", 1)
            if line + b"\r\n" == QUIT:
                return
            os.write(fd, ACK)


class PtyRoundTrip:
    """A pty with the bare answering process on its other end."""

    def __init__(self) -> None:
        self.master, self._slave = pty.openpty()
        # Raw on both ends before the child runs: typed bytes are taken as they arrive,
        # and the slave stays open here (its last close would hang the pty up).
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self._child = subprocess.Popen(
            [sys.executable, str(Path(__file__)), os.ttyname(self._slave)]
        )
        self.round_trip(b"WARM-UP\r\n")  # the child is up and answering

    def round_trip(self, line: bytes) -> float:
        """Seconds from writing ``line`` to reading its ACK."""
        began = time.perf_counter()
        os.write(self.master, line)
        got = b""
        while ACK not in got:
            ready, _, _ = select.select([self.master], [], [], CEILING_S)
            if not ready:
                raise RuntimeError("the pty echo did not answer")
            got += os.read(self.master, 100)
        return time.perf_counter() - began

    def close(self) -> None:
        """Tell the answering process to stop, and wait for it."""
        os.write(self.master, QUIT)
        try:
            self._child.wait(timeout=CEILING_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        os.close(self.master)
        os.close(self._slave)


if __name__ == "__main__":
    answer_lines(sys.argv[1])
