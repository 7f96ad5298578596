"""Virtual serial scanners for tests: the master side of a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from dataclasses import dataclass, field

CEILING_S = 20.0


@dataclass
class Pty:
    master: int
    slave: int
    path: str
    heard: bytearray = field(default_factory=bytearray)

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        return cls(master, slave, os.ttyname(slave))

    def type(self, code: str) -> None:
        os.write(self.master, code.encode() + b"\r")

    def listen(self, count: int, ceiling: float = CEILING_S) -> bytes:
        """Wait until ``count`` feedback bytes in all have been heard."""
        deadline = time.monotonic() + ceiling
        while len(self.heard) < count and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.heard += os.read(self.master, 256)
                except OSError:
                    break
        return bytes(self.heard)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listen(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1, as a fixed-mount network scanner offers.

    ``port`` 0 picks a free one; the same port again brings a scanner back
    where the daemon expects it.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    listener.settimeout(CEILING_S)
    return listener
