"""KeyboardWedgeDecoder: key events from a keyboard-wedge scanner to complete reads.

A wedge scanner types each code as key presses and releases, usually ending it with Enter.
The decoder is a pure state machine: it does no I/O and never reads a clock. Time arrives with
every event (the kernel's timestamp, on the monotonic clock; see ``hardware.evdev.reader``),
and the reader calls :meth:`KeyboardWedgeDecoder.poll` with the current monotonic time when
nothing has arrived, so a code without a suffix is finished after the idle gap.

What the decoder reads, beyond characters from the keymap:

- Shift, CapsLock, Ctrl, Alt, AltGr and NumLock, tracked on press and release (left and right
  keys separately, so releasing one Shift while the other is held keeps Shift on);
- Ctrl+letter as ASCII 1-26 and Ctrl+``@ [ \\ ] ^ _`` as 0 and 27-31, so Ctrl+] is GS
  (ASCII 29), the FNC1 separator in GS1 element strings; Enter is CR and Tab is HT when they
  are not the suffix, as Ctrl+M and Ctrl+I are;
- Alt held while keypad digits are typed, giving that character when Alt is released (the
  "Alt mode" or "Alt+keypad" output of many scanners): with a leading zero the number is a
  Windows-1252 code, without it a value below 128 is ASCII (control codes included, which is
  why scanners use it), 128-255 is code page 437, and above 255 the Unicode code point;
- on layouts with AltGr, Ctrl+Alt as AltGr, as Windows reads it (a scanner set to German may
  send ``@`` as Ctrl+Alt+Q);
- dead keys of layouts that have them (a scanner set to German sends ``^`` as dead-^ then
  space).

Auto-repeat events (value 2) are ignored: a scanner never holds a key, and a repeated key
would duplicate a character. After SYN_DROPPED (the kernel's buffer overflowed and events were
lost) the partial code cannot be trusted: it is thrown away, held modifiers are released,
locks return to their initial state, and events are ignored up to the next SYN_REPORT, as the
evdev protocol asks.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Protocol

from evdev import ecodes as e

from hardware.evdev.keymap import DeadKey, Keymap, Modifiers, us_keymap
from hardware.options import SUFFIXES, Suffix
from hardware.reads import RawRead

__all__ = ["InputEventLike", "KeyboardWedgeDecoder"]


_KEY_UP, _KEY_DOWN, _KEY_REPEAT = 0, 1, 2

_SHIFT_KEYS = frozenset({e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT})
_CTRL_KEYS = frozenset({e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL})
_ENTER_KEYS = frozenset({e.KEY_ENTER, e.KEY_KPENTER})
_KEYPAD_DIGITS = {
    e.KEY_KP0: "0", e.KEY_KP1: "1", e.KEY_KP2: "2", e.KEY_KP3: "3", e.KEY_KP4: "4",
    e.KEY_KP5: "5", e.KEY_KP6: "6", e.KEY_KP7: "7", e.KEY_KP8: "8", e.KEY_KP9: "9",
}  # fmt: skip
# Characters Ctrl turns into C0 control codes (their code minus 64), as terminals do.
_CONTROL_BASE = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
# An Alt+keypad number has at most this many digits; more is not a character code.
_MAX_ALT_DIGITS = 7


class InputEventLike(Protocol):
    """What the decoder needs from an event: ``evdev.InputEvent`` has exactly this shape."""

    @property
    def type(self) -> int: ...

    @property
    def code(self) -> int: ...

    @property
    def value(self) -> int: ...

    def timestamp(self) -> float:
        """Seconds on the monotonic clock (the reader sets the device's clock to it)."""
        ...


@dataclass(slots=True)
class _Modifiers:
    """Which modifier keys are down and which locks are on."""

    shift: set[int]
    ctrl: set[int]
    alt: set[int]
    altgr: bool
    capslock: bool
    numlock: bool


class KeyboardWedgeDecoder:
    """Turns one input device's key events into :class:`RawRead`s (one decoder per device).

    ``feed`` every event in order; call ``poll(now)`` when no event arrived by ``deadline()``;
    call ``reset()`` when the device goes away. Each returns a finished read or None. A read's
    ``data`` is the decoded text as UTF-8 and its ``monotonic`` the time of the key that
    finished it: the suffix key, or for an idle flush the last key of the code.
    """

    def __init__(
        self,
        keymap: Keymap | None = None,
        *,
        suffix: Suffix = "enter",
        idle_ms: float = 50,
        max_length: int = 512,
        numlock: bool = True,
    ) -> None:
        """``numlock`` is the NumLock state assumed at start and after SYN_DROPPED or reset.

        It defaults to on: a scanner that types keypad keys means digits, and the host's
        NumLock state never reaches a device the daemon holds exclusively. A NumLock press
        from the scanner toggles it as on a keyboard.
        """
        if suffix not in SUFFIXES:
            raise ValueError(f"suffix must be one of {', '.join(SUFFIXES)}, not {suffix!r}")
        if not idle_ms > 0:
            raise ValueError(f"idle_ms must be positive, not {idle_ms!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, not {max_length!r}")
        self._keymap: Keymap = keymap if keymap is not None else us_keymap()
        self._suffix_keys: frozenset[int] = {
            "enter": _ENTER_KEYS,
            "tab": frozenset({e.KEY_TAB}),
            "none": frozenset[int](),
        }[suffix]
        self._idle = idle_ms / 1000.0
        self._max_length = max_length
        self._initial_numlock = numlock
        self._mods = self._fresh_modifiers()
        self._dropping = False  # after SYN_DROPPED, until the next SYN_REPORT
        # The code in progress.
        self._chars: list[str] = []
        self._length = 0  # UTF-8 bytes in _chars
        self._truncated = False
        self._alt_digits = ""
        self._dead: DeadKey | None = None
        self._last_key = 0.0  # timestamp of the last key event of the code in progress

    # --- public interface ---------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        """True while a code has started and is not finished."""
        return bool(self._chars or self._truncated or self._alt_digits or self._dead)

    def deadline(self) -> float | None:
        """When the code in progress ends by the idle gap if no key comes; None if none is."""
        return self._last_key + self._idle if self.in_progress else None

    def feed(self, event: InputEventLike) -> RawRead | None:
        """Take one event; return the read it finished, if any (at most one per event)."""
        etype, code, value = event.type, event.code, event.value
        if etype == e.EV_SYN:
            if code == e.SYN_DROPPED:
                self._discard()
                self._mods = self._fresh_modifiers()
                self._dropping = True
            elif code == e.SYN_REPORT:
                self._dropping = False
            return None
        if self._dropping or etype != e.EV_KEY or value == _KEY_REPEAT:
            return None
        if value not in (_KEY_UP, _KEY_DOWN):
            return None
        now = event.timestamp()
        # A gap since the last key means the code before it was complete: finish it before
        # this key can start the next one, so two codes are never glued together.
        finished = self.poll(now)
        self._last_key = now
        if value == _KEY_DOWN:
            done = self._press(code, now)
            return finished or done
        self._release(code)
        return finished

    def poll(self, now: float) -> RawRead | None:
        """Finish the code in progress if no key came for the idle gap before ``now``."""
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            self._alt_digits = ""  # an Alt sequence cut by the gap is incomplete: drop it
            return self._finish(self._last_key)
        return None

    def reset(self) -> None:
        """Forget everything: the device went away, and a partial code must not survive."""
        self._discard()
        self._mods = self._fresh_modifiers()
        self._dropping = False

    # --- keys ---------------------------------------------------------------------------

    def _press(self, code: int, now: float) -> RawRead | None:
        mods = self._mods
        if self._track_modifier(code, down=True):
            return None
        if code == e.KEY_CAPSLOCK:
            mods.capslock = not mods.capslock
            return None
        if code == e.KEY_NUMLOCK:
            mods.numlock = not mods.numlock
            return None
        if code in self._suffix_keys:
            self._alt_digits = ""
            return self._finish(now)
        if mods.alt:
            digit = _KEYPAD_DIGITS.get(code)
            if digit is not None and not mods.ctrl:
                # Alt+keypad digits build a character code, typed when Alt is released.
                if len(self._alt_digits) < _MAX_ALT_DIGITS:
                    self._alt_digits += digit
            elif mods.ctrl and self._keymap.has_altgr:
                # Windows reads Ctrl+Alt as AltGr, and scanners set to such a layout may send
                # a third-level character (the @ of a German layout) that way.
                self._type_key(code, self._layout_modifiers(altgr=True))
            # Alt with any other key types nothing.
            return None
        if code in _ENTER_KEYS:
            self._type("\r")
        elif code == e.KEY_TAB:
            self._type("\t")
        elif mods.ctrl:
            self._type_control(code)
        else:
            self._type_key(code, self._layout_modifiers())
        return None

    def _release(self, code: int) -> None:
        alt_was_down = bool(self._mods.alt)
        self._track_modifier(code, down=False)
        if alt_was_down and not self._mods.alt and self._alt_digits:
            digits, self._alt_digits = self._alt_digits, ""
            char = _alt_code_character(digits)
            if char is not None:
                self._type(char)

    def _track_modifier(self, code: int, *, down: bool) -> bool:
        """Update the held modifiers for ``code``; True when it is a modifier key."""
        mods = self._mods
        if code in _SHIFT_KEYS:
            held = mods.shift
        elif code in _CTRL_KEYS:
            held = mods.ctrl
        elif code == e.KEY_LEFTALT or (code == e.KEY_RIGHTALT and not self._keymap.has_altgr):
            held = mods.alt
        elif code == e.KEY_RIGHTALT:
            mods.altgr = down
            return True
        else:
            return False
        if down:
            held.add(code)
        else:
            held.discard(code)
        return True

    def _layout_modifiers(self, *, altgr: bool = False) -> Modifiers:
        mods = self._mods
        return Modifiers(
            shift=bool(mods.shift),
            capslock=mods.capslock,
            numlock=mods.numlock,
            altgr=mods.altgr or altgr,
        )

    # --- text ---------------------------------------------------------------------------

    def _type_key(self, code: int, mods: Modifiers) -> None:
        output = self._keymap.lookup(code, mods)
        if isinstance(output, DeadKey):
            self._type_dead(output)
        elif output is not None:
            self._type(output)

    def _type_control(self, code: int) -> None:
        output = self._keymap.lookup(code, self._layout_modifiers())
        if isinstance(output, str) and output.upper() in _CONTROL_BASE:
            self._type(chr(ord(output.upper()) - 64))
        # Ctrl with any other key (a digit, a dead key) has no character: nothing is typed.

    def _type_dead(self, dead: DeadKey) -> None:
        if self._dead is not None:
            # Two dead keys in a row: the first stands for itself, the second waits.
            self._append(self._dead.spacing)
        self._dead = dead

    def _type(self, char: str) -> None:
        if self._dead is not None:
            dead, self._dead = self._dead, None
            if char == " ":
                char = dead.spacing
            else:
                composed = unicodedata.normalize("NFC", char + dead.combining)
                if len(composed) == 1:
                    char = composed
                else:
                    self._append(dead.spacing)
        self._append(char)

    def _append(self, char: str) -> None:
        if self._truncated:
            return  # past the cap: the rest of this code is discarded until its end
        size = len(char.encode("utf-8"))
        if self._length + size > self._max_length:
            self._truncated = True
            return
        self._chars.append(char)
        self._length += size

    # --- codes --------------------------------------------------------------------------

    def _finish(self, at: float) -> RawRead | None:
        if self._dead is not None:
            dead, self._dead = self._dead, None
            self._append(dead.spacing)
        if not self._chars and not self._truncated:
            return None  # a lone suffix (or a suffix after an idle flush) is no code
        read = RawRead(
            data="".join(self._chars).encode("utf-8"),
            monotonic=at,
            truncated=self._truncated,
        )
        self._discard()
        return read

    def _discard(self) -> None:
        self._chars.clear()
        self._length = 0
        self._truncated = False
        self._alt_digits = ""
        self._dead = None

    def _fresh_modifiers(self) -> _Modifiers:
        return _Modifiers(
            shift=set(),
            ctrl=set(),
            alt=set(),
            altgr=False,
            capslock=False,
            numlock=self._initial_numlock,
        )


def _alt_code_character(digits: str) -> str | None:
    """The character an Alt+keypad number types, as Windows reads it (scanners target it)."""
    number = int(digits)
    if digits.startswith("0") and number <= 0xFF:
        # A leading zero selects the ANSI code page, Windows-1252; five of its codes are unused.
        try:
            return bytes([number]).decode("cp1252")
        except UnicodeDecodeError:
            return None
    if number < 0x80:
        return chr(number)
    if number <= 0xFF:
        return bytes([number]).decode("cp437")
    if number <= 0x10FFFF and not 0xD800 <= number <= 0xDFFF:
        return chr(number)
    return None
