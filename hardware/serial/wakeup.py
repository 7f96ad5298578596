"""WakeupPipe: how other threads interrupt the scanner loop's wait in ``epoll``."""

from __future__ import annotations

import contextlib
import os
import threading


class WakeupPipe:
    """A non-blocking pipe: any thread may :meth:`wake`; the loop waits on :attr:`fileno`.

    Closing is guarded by a lock, so a late :meth:`wake` never writes into a
    descriptor number that was closed and handed to something else.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def fileno(self) -> int:
        """The end the loop registers for reading."""
        return self._read

    def wake(self) -> None:
        with self._lock:
            if self._closed:
                return
            # A full pipe holds wake-ups enough already.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write, b"\0")

    def drain(self) -> None:
        """Take every pending wake-up (the loop is awake now)."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._write)
            os.close(self._read)
