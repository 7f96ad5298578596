"""Cut the byte stream of a serial or network scanner into complete codes.

The framer is pure: bytes and the time they arrived go in, complete reads come
out. It never reads a clock, so every rule (terminators, the idle flush, the
length cap) is tested with plain numbers.

A read ends in one of three ways:

* its terminator arrives;
* ``idle_ms`` pass without a byte while a code is partly received (the idle
  flush). A scanner configured without a suffix still works, and a fragment
  cut short by a lost terminator is never glued to the next code: it becomes a
  read of its own, which the daemon journals (and most likely rejects), so
  nothing the scanner sent goes unrecorded;
* :meth:`Framer.reset`, called when the port is lost, throws the partial code
  away: after an unplug the scanner sends a whole code again, and half a code
  is not a scan.

Empty frames (a terminator alone, an ``STX ETX`` pair) carry no code and are
never reported. That is also what makes CRLF one terminator in ``"any"`` mode:
CR ends the code and the LF that follows ends an empty frame.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from hardware.reads import RawRead

__all__ = [
    "CR",
    "DEFAULT_IDLE_MS",
    "DEFAULT_MAX_LENGTH",
    "ETX",
    "LF",
    "STX",
    "TERMINATORS",
    "Framer",
    "Terminator",
]

Terminator = Literal["any", "cr", "lf", "crlf", "etx", "stx-etx"]
TERMINATORS: Final[tuple[Terminator, ...]] = get_args(Terminator)

# Default idle flush for serial and network scanners, in milliseconds.
#
# A scanner sends a code as one burst, so a gap this long means the code is
# over. The keyboard-wedge side uses 50 ms, which is right for key events from
# one USB device; a serial line needs more room:
# - at 300 baud one byte takes 33 ms on the wire, so 50 ms would leave no margin;
# - USB-CDC scanners and Ethernet serial servers hand the code over in packets,
#   and a TCP segment can sit behind Nagle and a 40 ms delayed ACK, or behind
#   Wi-Fi retransmissions, so gaps of tens of milliseconds inside one code are
#   normal on `socket://`;
# - the cost of a longer wait is small: a code with a terminator ends at its
#   terminator, whatever the idle time; only a scanner without a suffix waits
#   the extra time, and 200 ms is still shorter than any operator takes to
#   aim at the next label.
# Cutting a code in two costs a rejected scan and a re-scan; waiting 200 ms
# costs nothing most of the time, so the default leans long.
DEFAULT_IDLE_MS: Final = 200
DEFAULT_MAX_LENGTH: Final = 512

CR: Final = 0x0D
LF: Final = 0x0A
STX: Final = 0x02
ETX: Final = 0x03


# The bytes each terminator gives a meaning to; every other byte is part of a code.
_FRAMING_BYTES: Final[dict[Terminator, re.Pattern[bytes]]] = {
    "any": re.compile(rb"[\r\n]"),
    "cr": re.compile(rb"\r"),
    "lf": re.compile(rb"\n"),
    "crlf": re.compile(rb"[\r\n]"),
    "etx": re.compile(rb"\x03"),
    "stx-etx": re.compile(rb"[\x02\x03]"),
}


class Framer:
    """Incremental framing: feed bytes with their arrival time, get complete reads.

    Every time given is ``time.monotonic()`` seconds (or any clock that only
    moves forward); the framer never reads the clock itself.
    """

    __slots__ = (
        "_buf",
        "_idle_s",
        "_in_frame",
        "_last_byte_at",
        "_max_length",
        "_pending_cr",
        "_terminator",
        "_truncated",
    )

    def __init__(
        self,
        terminator: Terminator = "any",
        *,
        idle_ms: float = DEFAULT_IDLE_MS,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        if terminator not in TERMINATORS:
            raise ValueError(
                f"terminator must be one of {', '.join(TERMINATORS)}, not {terminator!r}"
            )
        if not idle_ms > 0:
            raise ValueError(f"idle_ms must be greater than 0, not {idle_ms!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, not {max_length!r}")
        self._terminator: Terminator = terminator
        self._idle_s = idle_ms / 1000.0
        self._max_length = max_length
        self._buf = bytearray()
        # The code grew past max_length: keep the first max_length bytes and
        # drop the rest up to its terminator.
        self._truncated = False
        # "stx-etx": inside STX ... ETX; bytes outside a frame are line noise.
        self._in_frame = terminator != "stx-etx"
        # "crlf": the last byte was a CR; it ends the code if an LF follows,
        # and is part of the code otherwise.
        self._pending_cr = False
        # Arrival time of the newest byte of the partial code; None when
        # nothing is pending.
        self._last_byte_at: float | None = None

    @property
    def terminator(self) -> Terminator:
        return self._terminator

    @property
    def idle_ms(self) -> float:
        return self._idle_s * 1000.0

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def pending(self) -> bool:
        """True while part of a code has been received and not yet reported."""
        return self._last_byte_at is not None

    def deadline(self) -> float | None:
        """When :meth:`poll` will flush the partial code, or None when nothing is pending."""
        if self._last_byte_at is None:
            return None
        return self._last_byte_at + self._idle_s

    def feed(self, data: bytes, now: float, *, late: bool = False) -> list[RawRead]:
        """Take bytes that arrived at ``now``; return the reads they complete, oldest first.

        A partial code that had already been idle for ``idle_ms`` is flushed
        first, so bytes on either side of an idle gap are never joined even if
        :meth:`poll` was not called during the gap. ``late``: the bytes were
        found only when the partial code's deadline had passed, and may have
        arrived before it (the reader was held up); they continue the code.
        """
        reads: list[RawRead] = []
        flushed = None if late else self.poll(now)
        if flushed is not None:
            reads.append(flushed)
        if not data:
            return reads  # no byte arrived: the idle timer keeps running
        # The bytes between two framing bytes are taken as one run: a code is
        # one slice, not a step of the byte machine per byte (a 33-byte code
        # 5.4 -> 2.2 µs, warm). Each framing byte goes through the byte
        # machine, so the result is the same.
        framing = _FRAMING_BYTES[self._terminator]
        at, end = 0, len(data)
        while at < end:
            found = framing.search(data, at)
            stop = end if found is None else found.start()
            if stop > at:
                self._take_run(data, at, stop)
            if found is None:
                break
            read = self._take(data[stop], now)
            if read is not None:
                reads.append(read)
            at = stop + 1
        self._last_byte_at = now if self._has_partial() else None
        return reads

    def poll(self, now: float) -> RawRead | None:
        """Flush the partial code if no byte arrived for ``idle_ms``.

        The read carries the arrival time of its last byte: that is when the
        scanner finished sending it.
        """
        last = self._last_byte_at
        # Compared against the same sum deadline() returns, so poll(deadline())
        # always flushes, whatever the float rounding.
        if last is None or now < last + self._idle_s:
            return None
        if self._pending_cr:
            # "crlf" and no LF came: the CR was part of the code.
            self._append(CR)
        read = self._finish(last)
        if self._terminator == "stx-etx":
            self._in_frame = False
        return read

    def reset(self) -> None:
        """Discard the partial code (the port was lost: half a code is not a scan)."""
        self._clear()
        self._in_frame = self._terminator != "stx-etx"

    # -- internals ---------------------------------------------------------

    def _has_partial(self) -> bool:
        # An open STX frame counts even before its first byte, so that a lone
        # STX followed by silence closes and cannot swallow a later burst.
        open_frame = self._terminator == "stx-etx" and self._in_frame
        return bool(self._buf) or self._truncated or self._pending_cr or open_frame

    def _take(self, byte: int, now: float) -> RawRead | None:
        match self._terminator:
            case "any":
                if byte in (CR, LF):
                    return self._finish(now)
            case "cr":
                if byte == CR:
                    return self._finish(now)
            case "lf":
                if byte == LF:
                    return self._finish(now)
            case "etx":
                if byte == ETX:
                    return self._finish(now)
            case "crlf":
                if self._pending_cr:
                    self._pending_cr = False
                    if byte == LF:
                        return self._finish(now)
                    self._append(CR)
                if byte == CR:
                    self._pending_cr = True
                    return None
            case "stx-etx":
                if byte == STX:
                    # A new frame starts. A frame still open lost its ETX: it
                    # becomes a read of its own rather than vanishing.
                    read = self._finish(now) if self._in_frame else None
                    self._in_frame = True
                    return read
                if not self._in_frame:
                    return None  # noise between frames
                if byte == ETX:
                    self._in_frame = False
                    return self._finish(now)
        self._append(byte)
        return None

    def _take_run(self, data: bytes, start: int, stop: int) -> None:
        """``data[start:stop]``, none of them a framing byte: what :meth:`_take` does to each."""
        if self._pending_cr:  # "crlf": the CR was followed by a byte that is not LF
            self._pending_cr = False
            self._append(CR)
        if not self._in_frame:
            return  # "stx-etx": noise between frames
        room = self._max_length - len(self._buf)
        if stop - start > room:
            self._buf += data[start : start + max(room, 0)]
            self._truncated = True
        else:
            self._buf += data[start:stop]

    def _append(self, byte: int) -> None:
        if len(self._buf) < self._max_length:
            self._buf.append(byte)
        else:
            self._truncated = True

    def _finish(self, at: float) -> RawRead | None:
        data, truncated = bytes(self._buf), self._truncated
        self._clear()
        if not data:
            return None
        return RawRead(data=data, monotonic=at, truncated=truncated)

    def _clear(self) -> None:
        self._buf.clear()
        self._truncated = False
        self._pending_cr = False
        self._last_byte_at = None
