"""The open-file limit, checked once at start against what the configured daemon needs;
and the malloc arenas, limited once before the threads start (:func:`limit_malloc_arenas`).

A daemon short of descriptors does not fail at start: it logs "ready" while
some readers fail to open their ports with EMFILE, retried for ever, and the
relay cannot open its socket. So ``edge run`` first raises its soft limit to
the hard one (any process may) and then refuses to start, in one line naming
the limit and the need, when even that cannot hold every scanner, the broker
connection and the database at once.

The need is an estimate on the safe side, counted per part (measured with
``ls /proc/PID/fd`` of a running daemon; see the README's design notes):

* a serial device: its file (pyserial's two pipes for cancelling reads and
  writes are given back once the port is configured); a network scanner
  (``socket://``, ``rfc2217://``): its socket; ``loop://``: nothing, counted
  as one anyway;
* the serial loop, once: its epoll and wake-up pipe, and pyserial's pipes of
  the opens in flight at once (two pipes each, one open per
  :data:`hardware.serial.loop.OPEN_WORKERS` thread);
* a keyboard-wedge scanner: its input device and its udev monitor socket,
  and a file of sysfs open while it lists devices;
* the broker: paho's socket and its wake-up socket pair, twice, because a
  connection being closed and the next one briefly overlap;
* the database: each pooled connection holds the file and its WAL, the
  process shares one ``-shm``; a rollback journal and temporary files may open
  during migrations and large sorts;
* stdin, stdout, stderr, the systemd notification socket, and a margin for
  what libraries open for a moment (imports, ``/proc`` and ``/sys`` reads).
"""

from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass
from typing import Final

from edge.config import Config
from hardware.serial.loop import OPEN_WORKERS

SERIAL_DEVICE_FDS: Final = 1
SERIAL_LOOP_FDS: Final = 1 + 2 + OPEN_WORKERS * 2 * 2
NETWORK_SCANNER_FDS: Final = 1
URL_HANDLER_FDS: Final = 1
EVDEV_FDS: Final = 3
BROKER_FDS: Final = 2 * 3
# The writer, the relay, its answer recorder and the command line's reads
# each may hold a pooled connection (file + WAL), plus the shared -shm, a
# rollback journal and two temporary files.
DATABASE_FDS: Final = 4 * 2 + 1 + 1 + 2
PROCESS_FDS: Final = 3 + 1  # stdio and the notification socket
MARGIN_FDS: Final = 16

NETWORK_SCHEMES: Final = ("socket", "rfc2217")
# Soft limit asked for when the hard limit is unlimited (Linux's default nr_open).
RAISE_UNLIMITED_TO: Final = 1_048_576


@dataclass(frozen=True, slots=True)
class DescriptorNeed:
    """How many descriptors the configured daemon may hold at once, and for what."""

    serial_scanners: int
    wedge_scanners: int
    scanner_fds: int
    broker: bool

    @property
    def total(self) -> int:
        broker = BROKER_FDS if self.broker else 0
        return self.scanner_fds + broker + DATABASE_FDS + PROCESS_FDS + MARGIN_FDS

    def describe(self) -> str:
        """What needs them, in words: "20 serial scanners, the broker and the database"."""
        parts = [
            _count(self.serial_scanners, "serial scanner"),
            _count(self.wedge_scanners, "keyboard-wedge scanner"),
        ]
        parts = [part for part in parts if part]
        if self.broker:
            parts.append("the broker")
        parts.append("the database")
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _count(number: int, noun: str) -> str:
    if number == 0:
        return ""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def descriptor_need(config: Config, *, broker: bool = True) -> DescriptorNeed:
    """The descriptors ``edge run`` with this config needs (``broker``: a relay runs)."""
    serial = wedge = fds = 0
    for scanner in config.scanners:
        if scanner.kind == "serial":
            serial += 1
            url = scanner.url or ""
            scheme = url.split("://", 1)[0].lower() if "://" in url else ""
            if scheme in NETWORK_SCHEMES:
                fds += NETWORK_SCANNER_FDS
            elif scheme:
                fds += URL_HANDLER_FDS
            else:
                fds += SERIAL_DEVICE_FDS
        else:
            wedge += 1
            fds += EVDEV_FDS
    if serial:
        fds += SERIAL_LOOP_FDS
    return DescriptorNeed(serial, wedge, fds, broker)


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force.

    An unlimited hard limit is not a value the soft one can take on Linux
    (``nr_open`` caps it), so the soft limit then stays where it is unless it
    is lower than :data:`RAISE_UNLIMITED_TO`.

    A soft limit above 1024 is usually kept for programs that call select(),
    which cannot watch a descriptor numbered 1024 or more. No reader here
    does: the serial loop waits in epoll and reads each descriptor itself,
    the keyboard-wedge readers wait in poll, so a thousand scanners work.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, RAISE_UNLIMITED_TO)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft  # not allowed here (a sandbox): the check below decides
        return target
    return soft


def open_file_problem(config: Config, *, broker: bool = True) -> str | None:
    """Raise the limit; one line saying why the daemon cannot start, or None when it can."""
    limit = raise_open_file_limit()
    need = descriptor_need(config, broker=broker)
    if limit == resource.RLIM_INFINITY or limit >= need.total:
        return None
    return (
        f"open-file limit {limit} is too low for {need.describe()}: needs about "
        f"{need.total}; raise LimitNOFILE= in the unit or ulimit -n"
    )


# glibc's mallopt parameter for the number of malloc arenas (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX: Final = -8
MALLOC_ARENAS: Final = 1


def limit_malloc_arenas() -> bool:
    """Let the daemon's threads share the one main malloc arena; whether the C library agreed.

    glibc gives each thread that allocates at once an arena of its own, up to
    eight per core, and gives little of it back: with the writer, relay,
    readers and their SQLite page caches the other arenas held 8 MB of the
    80 MB budget after 4,000 scans, and with two arenas the second still held
    6 MB; with one, the main heap grew 0.5 MB instead (bench/memory.py). The
    threads allocate under Python's lock almost always, so they hardly ever
    wait for malloc's. Called before the
    threads start; ``MALLOC_ARENA_MAX`` in the environment, when set, says the same and
    is left to rule. Elsewhere than glibc, nothing happens.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
