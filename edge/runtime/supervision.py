"""What happens when one of the daemon's threads dies: restart it, or end the process.

Two policies, one per kind of thread:

* **restart with back-off** (scanner readers, the serial scanners' loop, the
  relay): the failure is logged with its traceback, the thread waits (1 s,
  doubling up to 30 s) and runs its target again. A target that ran for
  :data:`STABLE_S` before failing starts the back-off from the beginning, so a
  reader that crashes once a day is back after a second, while one that
  crashes at once is not restarted in a loop. A serial reader has no thread of
  its own: the shared loop takes a failing one out and :class:`RestartSchedule`
  times its restart by the same rule. Restarting is safe for all: a reader
  holds nothing but its port (closed when it fails) and a partial code, the
  loop closes every port when it dies, and the relay's work is all in the
  outbox, so a new relay sends every unacknowledged row again.
* **end the process** (the writer): the writer owns the single write path;
  a writer that died of an error nobody anticipated may have left its state
  (held scans, debouncers, a half-applied batch) anywhere, and a daemon that
  reads scans nobody commits is worse than no daemon. So the failure is logged
  with its traceback, the daemon stops and exits non-zero, and the service
  manager (``Restart=on-failure``) starts a fresh process, which recovers from
  the database as after any crash.

A target is ``target(stop)``: it runs until ``stop`` is set. Returning while
``stop`` is not set counts as dying too (without a traceback to log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from edge.publish.backoff import Backoff

log = logging.getLogger(__name__)

FIRST_RESTART_S: Final = 1.0
MAX_RESTART_S: Final = 30.0
# A target that ran this long before dying counts as having been well: the
# next restart waits FIRST_RESTART_S again.
STABLE_S: Final = 60.0

Target = Callable[[threading.Event], None]
# Told (why it died, seconds until the restart) while the thread waits to restart.
CrashCallback = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_s: float = FIRST_RESTART_S
    max_s: float = MAX_RESTART_S
    stable_s: float = STABLE_S


def log_death(name: str, error: BaseException) -> str:
    """Log that ``name`` died of ``error``, with its traceback; return why, in one line."""
    log.error("%s died from an unexpected error", name, exc_info=error)
    return f"{type(error).__name__}: {error}"


def _death(name: str, target: Target, stop: threading.Event) -> str | None:
    """Run ``target`` once; why it died (logged with its traceback), or None if it was stopped."""
    try:
        target(stop)
    except Exception as error:  # noqa: BLE001  # logged with its traceback by log_death
        return log_death(name, error)
    if stop.is_set():
        return None
    log.error("%s ended without being stopped", name)
    return "ended without being stopped"


class RestartSchedule:
    """When a dead target runs again: the back-off of one restarting target.

    :func:`restart_with_backoff` keeps one for a target that owns its thread;
    a scanner read on a shared loop keeps one too, and the loop waits.
    """

    def __init__(
        self,
        name: str,
        policy: RestartPolicy = RestartPolicy(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.restarts = 0
        self._policy = policy
        self._clock = clock
        self._backoff = Backoff(policy.first_s, policy.max_s)
        self._started = clock()

    def started(self) -> None:
        """The target (re)started now."""
        self._started = self._clock()

    def died(self) -> float:
        """The target died: how long to wait before restarting it (logged)."""
        if self._clock() - self._started >= self._policy.stable_s:
            self._backoff.reset()
        delay = self._backoff.next()
        log.warning("%s restarts in %g s", self.name, delay)
        return delay

    def restarting(self) -> int:
        """The wait is over: count the restart (logged) and return how many there were."""
        self.restarts += 1
        log.info("%s restarting (restart %d)", self.name, self.restarts)
        return self.restarts


def restart_with_backoff(
    name: str,
    target: Target,
    stop: threading.Event,
    *,
    policy: RestartPolicy = RestartPolicy(),
    on_crash: CrashCallback | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run ``target(stop)`` in this thread until ``stop`` is set, restarting it when it dies.

    Returns how many times it was restarted. ``clock`` measures how long a run
    lasted (against ``policy.stable_s``).
    """
    schedule = RestartSchedule(name, policy, clock)
    while not stop.is_set():
        schedule.started()
        why = _death(name, target, stop)
        if why is None:
            break
        delay = schedule.died()
        if on_crash is not None:
            on_crash(why, delay)
        if stop.wait(delay):
            break
        schedule.restarting()
    return schedule.restarts


class Supervisor:
    """The daemon's long-lived threads, each started under one of the two policies.

    ``on_fatal`` is called (on the dying thread) when a thread that must not
    die has died; :attr:`fatal` then names it, and the daemon stops and exits
    non-zero.
    """

    def __init__(self, on_fatal: Callable[[], None]) -> None:
        self._on_fatal = on_fatal
        self._lock = threading.Lock()
        self._fatal: list[str] = []
        self._restarting: dict[str, str] = {}

    @property
    def fatal(self) -> str | None:
        """Why the process must end (the first fatal death), or None."""
        with self._lock:
            return self._fatal[0] if self._fatal else None

    def restarting(self) -> dict[str, str]:
        """Threads now waiting to restart, with why each died."""
        with self._lock:
            return dict(self._restarting)

    def start_restarting(
        self,
        name: str,
        target: Target,
        stop: threading.Event,
        *,
        policy: RestartPolicy = RestartPolicy(),
        on_crash: CrashCallback | None = None,
    ) -> threading.Thread:
        """A thread that restarts ``target`` with back-off when it dies, telling ``on_crash``."""

        def crashed(why: str, delay: float) -> None:
            with self._lock:
                self._restarting[name] = f"{why}; restart in {delay:g} s"
            if on_crash is not None:
                on_crash(why, delay)

        def wrapped(inner_stop: threading.Event) -> None:
            with self._lock:
                self._restarting.pop(name, None)
            target(inner_stop)

        thread = threading.Thread(
            target=restart_with_backoff,
            args=(name, wrapped, stop),
            kwargs={"policy": policy, "on_crash": crashed},
            name=name,
            daemon=True,
        )
        thread.start()
        return thread

    def start_fatal(self, name: str, target: Target, stop: threading.Event) -> threading.Thread:
        """A thread whose death ends the process (see the module docstring)."""

        def guarded() -> None:
            why = _death(name, target, stop)
            if why is None:
                return
            log.critical(
                "%s is dead (%s): the daemon stops and exits non-zero, so that the "
                "service manager starts it again",
                name,
                why,
            )
            with self._lock:
                self._fatal.append(f"{name} died: {why}")
            self._on_fatal()

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        return thread
