"""ScannerLoop: any number of serial and network scanners, read on one thread.

A thread per scanner that wakes every 50 ms costs a core at a thousand
scanners, and pyserial's ``select()``-based reads stop working past
descriptor 1023. The loop instead waits for every port at once in a
``selectors.DefaultSelector`` (``epoll`` on Linux, no descriptor ceiling) and
sleeps until a port has bytes, a partial code's idle time is up or a retry is
due. Opening a port may block (a USB device settling, name resolution, RFC
2217 negotiation), so opens run on a few opener threads and hand their port
back; a network connection then finishes on the loop (non-blocking connect).

What each scanner goes through, as :class:`SerialScanner` promises: open,
read until lost, report it, reopen with back-off (0.25 s doubling to 1 s,
back to 0.25 s after a connection that lasted 5 s). Ports without a
descriptor (``loop://``, ``rfc2217://``) are polled every 50 ms.

Failures stay where they happen:

* a scanner whose framing or hand-over raises is taken out of the loop (its
  port closed) and its ``on_crash`` is called on the loop's thread with the
  error; the owner decides whether and when to :meth:`add` a fresh one, e.g.
  through :meth:`call_later`;
* a bug in the loop itself makes :meth:`run` raise after closing every port;
  running it again (the daemon's supervisor does, with back-off) reopens
  every scanner still added. While it is not running no port is open.

``add``, ``remove``, ``call_later`` and ``wake`` may be called from any thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Literal

from hardware.reads import wait_readable
from hardware.serial.members import CrashCallback, Member, MemberTimers
from hardware.serial.ports import CONNECT_TIMEOUT_S, POLL_S, Port
from hardware.serial.reader import SerialScanner
from hardware.serial.wakeup import WakeupPipe

log = logging.getLogger(__name__)

# Opens in flight at once. Most take a millisecond; a few threads keep one
# slow device or RFC 2217 server from holding up the others.
OPEN_WORKERS: Final = 4
# The longest the loop sleeps with nothing due: a safety net only, since
# every change from another thread wakes it at once.
IDLE_WAKE_S: Final = 1.0

# Messages to the loop's thread from others: what to do, and to which member.
_Join = tuple[Literal["join"], Member]
_Leave = tuple[Literal["leave"], Member]
_Opened = tuple[Literal["opened"], Member, int, Port | None, Exception | None]
_Message = _Join | _Leave | _Opened


class ScannerLoop:
    """Reads every added :class:`SerialScanner` on the thread that calls :meth:`run`."""

    def __init__(self, *, open_workers: int = OPEN_WORKERS) -> None:
        self._open_workers = open_workers
        # Guards what other threads touch: members, inbox, calls, running, wake-up.
        self._lock = threading.Lock()
        self._members: dict[SerialScanner, Member] = {}
        self._inbox: list[_Message] = []
        self._calls: list[tuple[float, int, Callable[[], None]]] = []
        self._running = False
        self._wakeup: WakeupPipe | None = None
        self._order = itertools.count()  # breaks ties between timers due at once
        # The loop thread's own, valid while running.
        self._selector: selectors.BaseSelector | None = None
        self._timers = MemberTimers()
        self._leaving: set[Member] = set()
        self._pool: ThreadPoolExecutor | None = None

    # -- any thread ------------------------------------------------------------

    def add(self, scanner: SerialScanner, on_crash: CrashCallback) -> None:
        """Start reading ``scanner`` (opened as soon as the loop gets to it)."""
        member = Member(scanner, on_crash)
        with self._lock:
            if scanner in self._members:
                raise ValueError(f"scanner {scanner.scanner_id} is already in the loop")
            self._members[scanner] = member
        self._post(("join", member))

    def remove(self, scanner: SerialScanner) -> threading.Event:
        """Stop reading ``scanner``; the event is set once its port is closed."""
        left = threading.Event()
        with self._lock:
            member = self._members.pop(scanner, None)
            if member is None or not self._running:
                # Not in the loop (or taken out after a crash), or no port is
                # open because the loop is not running: nothing to wait for.
                left.set()
                return left
            member.left = left
        self._post(("leave", member))
        return left

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the loop's thread after ``delay`` seconds (an error is logged)."""
        with self._lock:
            heapq.heappush(self._calls, (time.monotonic() + delay, next(self._order), action))
        self.wake()

    def wake(self) -> None:
        """Make the loop look at its inbox, its timers and ``stop`` now."""
        with self._lock:
            wakeup = self._wakeup
        if wakeup is not None:
            wakeup.wake()  # a no-op once closed

    def crashed(self, why: str, delay: float) -> None:
        """Tell every scanner the loop died (it is restarted after ``delay``)."""
        with self._lock:
            members = list(self._members.values())
        for member in members:
            member.scanner.report("error", f"serial scanner loop crashed: {why}; "
                                           f"restart in {delay:g} s")  # fmt: skip

    def _post(self, message: _Message) -> None:
        with self._lock:
            if not self._running:
                return  # run() opens every member when it starts
            self._inbox.append(message)
        self.wake()

    # -- the loop's thread -------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set (and :meth:`wake` called); every port is closed on return."""
        wakeup = self._start()
        try:
            selector = self._selector
            assert selector is not None
            while not stop.is_set():
                now = time.monotonic()
                for key, _events in selector.select(self._timeout(now)):
                    if key.data is None:
                        wakeup.drain()
                    else:
                        self._guarded(key.data, self._ready, key.data, key.fd)
                self._read_inbox()
                now = time.monotonic()
                self._run_timers(now)
                self._run_calls(now)
        finally:
            self._finish(wakeup)

    def _start(self) -> WakeupPipe:
        wakeup = WakeupPipe()
        self._selector = selectors.DefaultSelector()
        self._selector.register(wakeup.fileno, selectors.EVENT_READ, None)
        self._timers = MemberTimers()
        self._leaving = set()
        self._pool = ThreadPoolExecutor(self._open_workers, thread_name_prefix="serial-open")
        now = time.monotonic()
        with self._lock:
            self._running = True
            self._wakeup = wakeup
            members = list(self._members.values())
        for member in members:
            member.phase = "closed"
            self._set_due(member, now)
        return wakeup

    def _finish(self, wakeup: WakeupPipe) -> None:
        with self._lock:
            self._running = False
            self._wakeup = None
            inbox, self._inbox = self._inbox, []
            members = list(self._members.values())
        for message in inbox:
            if message[0] == "opened":
                _close_port(message[3])
            elif message[0] == "leave":
                members.append(message[1])
        for member in members:
            try:
                self._close(member)
            except Exception:
                log.exception("scanner %s: closing its port failed", member.scanner.scanner_id)
            member.phase = "closed"
            member.attempt += 1  # an open still in flight closes its own port
            if member.left is not None:
                member.left.set()
        for member in self._leaving:
            if member.left is not None:
                member.left.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._selector is not None:
            self._selector.close()
        wakeup.close()

    def _timeout(self, now: float) -> float:
        due = now + IDLE_WAKE_S
        timer = self._timers.next()
        if timer is not None:
            due = min(due, timer)
        with self._lock:
            if self._inbox:
                return 0.0
            if self._calls:
                due = min(due, self._calls[0][0])
        return max(0.0, due - now)

    def _read_inbox(self) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for message in inbox:
            member = message[1]
            if message[0] == "join":
                self._set_due(member, time.monotonic())
            elif message[0] == "leave":
                self._leave(member)
            else:
                _, _, attempt, port, error = message
                self._guarded(member, self._opened, member, attempt, port, error)

    def _run_timers(self, now: float) -> None:
        for member in self._timers.due(now):
            self._guarded(member, self._timer, member, now)

    def _run_calls(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._calls or self._calls[0][0] > now:
                    return
                _, _, action = heapq.heappop(self._calls)
            try:
                action()
            except Exception:
                log.exception("a task on the serial scanner loop failed")

    # -- one member ---------------------------------------------------------------

    def _guarded(self, member: Member, step: Callable[..., None], *args: object) -> None:
        """Run one step of one scanner; if it raises, only that scanner is taken out."""
        try:
            step(*args)
        except Exception as error:  # noqa: BLE001  # handed to the owner, traceback included
            self._crash(member, error)

    def _ready(self, member: Member, fd: int) -> None:
        if fd != member.fd:
            return  # closed earlier in this round
        if member.phase == "connecting":
            assert member.port is not None
            port, member.port = member.port, None
            self._unregister(member)
            if member.scanner.finish_connect(port):
                self._attach(member, port)
            else:
                self._retry(member)
            return
        reason = member.scanner.take(time.monotonic())
        if reason is not None:
            self._lose(member, reason)
        else:
            self._set_due(member, member.scanner.deadline())

    def _timer(self, member: Member, now: float) -> None:
        match member.phase:
            case "closed":
                self._open(member)
            case "connecting":
                self._close(member)
                why = f"no answer from {member.scanner.url} within {CONNECT_TIMEOUT_S:g} s"
                member.scanner.report("disconnected", why)
                self._retry(member)
            case "open" if member.fd is None:
                reason = member.scanner.take(now)  # a polled port; take() also flushes
                if reason is not None:
                    self._lose(member, reason)
                else:
                    self._set_due(member, now + POLL_S)
            case "open":
                # Bytes waiting now may have arrived before the deadline, while
                # the loop was held up (other scanners' work, the process
                # descheduled): when in doubt they continue the code rather
                # than cut it in two rejected halves. (Read only when readable:
                # a tty read that finds nothing returns 0 bytes, an unplug's sign.)
                fd = member.fd
                if fd is not None and wait_readable(fd, 0.0):
                    reason = member.scanner.take(now, late=True)
                    if reason is not None:
                        self._lose(member, reason)
                        return
                member.scanner.flush(now)
                self._set_due(member, member.scanner.deadline())

    def _open(self, member: Member) -> None:
        assert self._pool is not None
        member.phase = "opening"
        member.attempt += 1
        self._pool.submit(self._open_on_worker, member, member.attempt)

    def _open_on_worker(self, member: Member, attempt: int) -> None:
        """On an opener thread: open, then hand the port to the loop (or close it if it stopped)."""
        port: Port | None = None
        error: Exception | None = None
        try:
            port = member.scanner.open_port()
        except Exception as exc:  # noqa: BLE001  # a bug in opening: handled as one in reading
            error = exc
        with self._lock:
            if self._running:
                self._inbox.append(("opened", member, attempt, port, error))
                port = None
        if port is None:
            self.wake()
        else:
            _close_port(port)

    def _opened(
        self, member: Member, attempt: int, port: Port | None, error: Exception | None
    ) -> None:
        if member.phase != "opening" or attempt != member.attempt:
            _close_port(port)  # stale, or the scanner left while its port was opening
            if member.phase == "gone" and member.left is not None:
                self._leaving.discard(member)
                member.left.set()
            return
        if error is not None:
            raise error
        if port is None:
            self._retry(member)
        elif port.connecting:
            member.phase, member.port = "connecting", port
            self._register(member, port, selectors.EVENT_WRITE)
            self._set_due(member, time.monotonic() + CONNECT_TIMEOUT_S)
        else:
            self._attach(member, port)

    def _attach(self, member: Member, port: Port) -> None:
        member.scanner.attach(port)
        member.phase = "open"
        member.opened_at = time.monotonic()
        if port.fileno() is None:
            self._set_due(member, member.opened_at + POLL_S)
        else:
            self._register(member, port, selectors.EVENT_READ)
            self._set_due(member, None)

    def _lose(self, member: Member, reason: str) -> None:
        self._close(member)
        member.scanner.lost(reason)
        member.lost_at(time.monotonic())
        self._retry(member)

    def _retry(self, member: Member) -> None:
        member.phase = "closed"
        delay = member.next_delay()
        log.debug("scanner %s: retrying %s in %.2f s",
                  member.scanner.scanner_id, member.scanner.url, delay)  # fmt: skip
        self._set_due(member, time.monotonic() + delay)

    def _leave(self, member: Member) -> None:
        if member.phase == "opening":
            member.phase = "gone"
            self._leaving.add(member)  # _opened closes the port and sets member.left
            return
        self._close(member)
        member.phase = "gone"
        if member.left is not None:
            member.left.set()

    def _crash(self, member: Member, error: Exception) -> None:
        with self._lock:
            ours = self._members.get(member.scanner) is member
            if ours:
                del self._members[member.scanner]
        try:
            self._close(member)
        except Exception:
            log.exception("scanner %s: closing its port failed", member.scanner.scanner_id)
        member.phase = "gone"  # an open in flight closes its port when it comes back
        if not ours:
            return  # removed meanwhile: its leave message finishes the job
        try:
            member.on_crash(member.scanner, error)
        except Exception:
            log.exception("scanner %s: the crash callback failed", member.scanner.scanner_id)

    def _close(self, member: Member) -> None:
        """Unregister and close whatever port the member holds."""
        self._unregister(member)
        port, member.port = member.port, None
        _close_port(port)  # a network port still connecting (the scanner never saw it)
        if member.phase == "open":
            member.scanner.detach()

    def _register(self, member: Member, port: Port, events: int) -> None:
        fd = port.fileno()
        assert fd is not None
        assert self._selector is not None
        self._selector.register(fd, events, member)
        member.fd = fd

    def _unregister(self, member: Member) -> None:
        fd, member.fd = member.fd, None
        if fd is not None and self._selector is not None:
            self._selector.unregister(fd)

    def _set_due(self, member: Member, when: float | None) -> None:
        self._timers.set(member, when)


def _close_port(port: Port | None) -> None:
    if port is None:
        return
    try:
        port.close()
    except OSError as exc:
        log.debug("closing %r failed: %s", port, exc)
