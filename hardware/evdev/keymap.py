"""Key codes to characters, for keyboard-wedge scanners.

A wedge scanner does not send characters: it presses keys, chosen for the keyboard layout the
scanner was configured for ("country" or "keyboard language" in its manual). The same code
``Z`` arrives as ``KEY_Z`` from a scanner set to US and as ``KEY_Y`` from one set to German, so
the daemon must read the keys with the layout the scanner assumed.

The US layout is built in. Every other layout comes from libxkbcommon (the keymap database
every Linux desktop uses) through the optional ``xkbcommon`` bindings (``pip install .[xkb]``,
which needs the Debian package ``libxkbcommon-dev`` to build). There are no hand-written
tables for other layouts: they would drift from the real ones in exactly the rare characters
a barcode carries.

A keymap answers one question: which character does key ``code`` give with these modifiers
and locks? Control combinations, Alt+keypad codes, Enter and Tab are the decoder's business
(``hardware.evdev.wedge``), because they mean the same on every layout.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from evdev import ecodes as e

__all__ = [
    "DeadKey",
    "Keymap",
    "KeymapError",
    "Modifiers",
    "TableKeymap",
    "load_keymap",
    "us_keymap",
    "xkb_available",
]

log = logging.getLogger(__name__)


class KeymapError(ValueError):
    """A layout cannot be loaded: unknown, or it needs xkbcommon and that is not installed."""


@dataclass(frozen=True, slots=True)
class Modifiers:
    """The modifier and lock state a key is read with (Ctrl and Alt are not a layout matter)."""

    shift: bool = False
    capslock: bool = False
    numlock: bool = False
    altgr: bool = False


@dataclass(frozen=True, slots=True)
class DeadKey:
    """A dead (accent) key: it types nothing by itself and changes the next character.

    Scanners set to a layout with dead keys send such a character as the dead key followed by
    a space (``^`` on German or French layouts), which gives ``spacing``; followed by a letter
    it composes (``^`` then ``e`` gives ``ê``).
    """

    spacing: str
    combining: str


KeyOutput = str | DeadKey


class Keymap(Protocol):
    """Which character a key gives on one keyboard layout."""

    @property
    def layout(self) -> str:
        """The layout's name as configured (``us``, ``de``, ``fr(azerty)``...)."""
        ...

    @property
    def has_altgr(self) -> bool:
        """True when Right Alt is AltGr (a third level) rather than a second Alt key."""
        ...

    def lookup(self, code: int, mods: Modifiers) -> KeyOutput | None:
        """The printable character or dead key for ``code``; None when it types nothing."""
        ...


@dataclass(frozen=True, slots=True)
class TableKeymap:
    """A keymap held as a complete table: every (key, modifier state) that types something.

    Both the built-in US layout and layouts read from libxkbcommon end up in this form, so a
    lookup is a dictionary access and the decoder never calls into C while reading a scan.
    """

    layout: str
    has_altgr: bool
    table: Mapping[tuple[int, Modifiers], KeyOutput]

    def lookup(self, code: int, mods: Modifiers) -> KeyOutput | None:
        if mods.altgr and not self.has_altgr:
            # The layout has no third level: Right Alt is plain Alt and changes nothing here.
            mods = Modifiers(mods.shift, mods.capslock, mods.numlock, altgr=False)
        return self.table.get((code, mods))


def _all_modifiers() -> Iterator[Modifiers]:
    for shift, caps, num, altgr in itertools.product((False, True), repeat=4):
        yield Modifiers(shift=shift, capslock=caps, numlock=num, altgr=altgr)


# --- US layout (built in) -------------------------------------------------------------------

_US_LETTERS = "qwertyuiopasdfghjklzxcvbnm"
_US_LETTER_KEYS = (
    e.KEY_Q, e.KEY_W, e.KEY_E, e.KEY_R, e.KEY_T, e.KEY_Y, e.KEY_U, e.KEY_I, e.KEY_O, e.KEY_P,
    e.KEY_A, e.KEY_S, e.KEY_D, e.KEY_F, e.KEY_G, e.KEY_H, e.KEY_J, e.KEY_K, e.KEY_L,
    e.KEY_Z, e.KEY_X, e.KEY_C, e.KEY_V, e.KEY_B, e.KEY_N, e.KEY_M,
)  # fmt: skip

# (key, unshifted, shifted): keys CapsLock does not affect.
_US_SYMBOL_KEYS = (
    (e.KEY_1, "1", "!"), (e.KEY_2, "2", "@"), (e.KEY_3, "3", "#"), (e.KEY_4, "4", "$"),
    (e.KEY_5, "5", "%"), (e.KEY_6, "6", "^"), (e.KEY_7, "7", "&"), (e.KEY_8, "8", "*"),
    (e.KEY_9, "9", "("), (e.KEY_0, "0", ")"), (e.KEY_MINUS, "-", "_"), (e.KEY_EQUAL, "=", "+"),
    (e.KEY_LEFTBRACE, "[", "{"), (e.KEY_RIGHTBRACE, "]", "}"), (e.KEY_BACKSLASH, "\\", "|"),
    (e.KEY_SEMICOLON, ";", ":"), (e.KEY_APOSTROPHE, "'", '"'), (e.KEY_GRAVE, "`", "~"),
    (e.KEY_COMMA, ",", "<"), (e.KEY_DOT, ".", ">"), (e.KEY_SLASH, "/", "?"),
    # The extra key of 105-key keyboards (left of Z), as libxkbcommon's default pc105 model
    # maps it; a scanner set to US never sends it, but a keyboard on the same port might.
    (e.KEY_102ND, "<", ">"),
    (e.KEY_SPACE, " ", " "),
    # Keypad operators type the same whatever NumLock says.
    (e.KEY_KPSLASH, "/", "/"), (e.KEY_KPASTERISK, "*", "*"), (e.KEY_KPMINUS, "-", "-"),
    (e.KEY_KPPLUS, "+", "+"), (e.KEY_KPEQUAL, "=", "="), (e.KEY_KPPLUSMINUS, "±", "±"),
    (e.KEY_KPCOMMA, ".", "."), (e.KEY_KPLEFTPAREN, "(", "("), (e.KEY_KPRIGHTPAREN, ")", ")"),
    # Currency keys of some keyboards.
    (e.KEY_DOLLAR, "$", "$"), (e.KEY_EURO, "\u20ac", "\u20ac"),
)  # fmt: skip

# Keypad keys that are digits with NumLock on and cursor keys (typing nothing) with it off.
_US_NUMPAD_KEYS = (
    (e.KEY_KP0, "0"), (e.KEY_KP1, "1"), (e.KEY_KP2, "2"), (e.KEY_KP3, "3"), (e.KEY_KP4, "4"),
    (e.KEY_KP5, "5"), (e.KEY_KP6, "6"), (e.KEY_KP7, "7"), (e.KEY_KP8, "8"), (e.KEY_KP9, "9"),
    (e.KEY_KPDOT, "."),
)  # fmt: skip


@functools.cache
def us_keymap() -> TableKeymap:
    """The US English layout, as libxkbcommon's ``us`` layout reads it (tests compare both)."""
    table: dict[tuple[int, Modifiers], KeyOutput] = {}
    for mods in _all_modifiers():
        if mods.altgr:
            continue  # no third level: lookup reads Right Alt as plain Alt
        for code, letter in zip(_US_LETTER_KEYS, _US_LETTERS, strict=True):
            # CapsLock upper-cases letters; Shift with CapsLock gives lower case again.
            table[code, mods] = letter.upper() if mods.shift != mods.capslock else letter
        for code, plain, shifted in _US_SYMBOL_KEYS:
            table[code, mods] = shifted if mods.shift else plain
        for code, char in _US_NUMPAD_KEYS:
            # Shift cancels NumLock while held, as on every PC keyboard layout.
            if mods.numlock and not mods.shift:
                table[code, mods] = char
    return TableKeymap(layout="us", has_altgr=False, table=table)


# --- Other layouts (libxkbcommon) -----------------------------------------------------------

# Dead keys by keysym name: the character the accent gives before a space (what a Windows PC
# types, which is what a scanner set to that layout expects) and its Unicode combining mark.
_DEAD_KEYS: Mapping[str, DeadKey] = {
    "dead_grave": DeadKey("`", "\u0300"),  # grave accent
    "dead_acute": DeadKey("\u00b4", "\u0301"),  # acute accent
    "dead_circumflex": DeadKey("^", "\u0302"),  # circumflex accent
    "dead_tilde": DeadKey("~", "\u0303"),  # tilde
    "dead_macron": DeadKey("\u00af", "\u0304"),  # macron
    "dead_breve": DeadKey("\u02d8", "\u0306"),  # breve
    "dead_abovedot": DeadKey("\u02d9", "\u0307"),  # dot above
    "dead_diaeresis": DeadKey("\u00a8", "\u0308"),  # diaeresis
    "dead_abovering": DeadKey("\u02da", "\u030a"),  # ring above
    "dead_doubleacute": DeadKey("\u02dd", "\u030b"),  # double acute accent
    "dead_caron": DeadKey("\u02c7", "\u030c"),  # caron
    "dead_cedilla": DeadKey("\u00b8", "\u0327"),  # cedilla
    "dead_ogonek": DeadKey("\u02db", "\u0328"),  # ogonek
}

# "de", "fr(azerty)", "de(nodeadkeys)": an XKB layout name with an optional variant.
_LAYOUT_RE = re.compile(r"^([a-z][a-z0-9_-]*)(?:\(([A-Za-z0-9_-]+)\))?$")

# xkb keycodes are evdev key codes plus 8 (an X11 legacy the evdev keycodes file keeps).
_XKB_OFFSET = 8


def xkb_available() -> bool:
    """True when the optional xkbcommon bindings import (layouts other than US work)."""
    try:
        import xkbcommon.xkb  # noqa: F401, PLC0415 (an optional extra, probed on demand)
    except ImportError:
        return False
    return True


def load_keymap(layout: str) -> TableKeymap:
    """The keymap for ``layout`` (``us``, ``de``, ``fr``, ``gb``, ``de(nodeadkeys)``...).

    Raises KeymapError with a message for the operator when the layout is unknown or needs the
    ``xkb`` extra that is not installed. Call it while validating config, not while reading.
    """
    name = layout.strip()
    match = _LAYOUT_RE.fullmatch(name)
    if match is None:
        raise KeymapError(
            f"keyboard layout {layout!r} is not an XKB layout name such as 'us', 'de' or "
            "'fr(azerty)'"
        )
    if name == "us":
        return us_keymap()
    if not xkb_available():
        raise KeymapError(
            f"keyboard layout {name!r} needs the optional xkbcommon bindings: install them "
            "with `pip install 'backflush-edge[xkb]'` (the Debian package libxkbcommon-dev must "
            "be installed to build them), or set the scanner to the US layout and use "
            'layout = "us"'
        )
    return _xkb_keymap(match.group(1), match.group(2) or "")


@functools.cache
def _xkb_keymap(layout: str, variant: str) -> TableKeymap:
    from xkbcommon import xkb  # noqa: PLC0415 (optional extra, imported only when configured)

    # Ignore XKB_DEFAULT_* in the environment: the layout is the scanner's, not the host's.
    context = xkb.Context(no_environment_names=True)
    # libxkbcommon prints its compile errors to stderr; route them to our log instead.
    context.set_log_fn(_log_xkb_message)
    name = f"{layout}({variant})" if variant else layout
    try:
        keymap = context.keymap_new_from_names(layout=layout, variant=variant or None)
    except xkb.XKBKeymapCreationFailure as exc:
        raise KeymapError(
            f"keyboard layout {name!r} is not known to libxkbcommon (see the layouts in "
            "/usr/share/X11/xkb/symbols)"
        ) from exc

    right_alt = xkb.keysym_get_name(
        keymap.state_new().key_get_one_sym(e.KEY_RIGHTALT + _XKB_OFFSET)
    )
    has_altgr = right_alt == "ISO_Level3_Shift"

    table: dict[tuple[int, Modifiers], KeyOutput] = {}
    low = max(keymap.min_keycode(), _XKB_OFFSET + 1)
    high = keymap.max_keycode()
    for mods in _all_modifiers():
        if mods.altgr and not has_altgr:
            continue
        # Reach the modifier state the way a keyboard does, by pressing the keys, so each
        # layout's own rules (which real modifier AltGr is, how CapsLock treats a key) apply.
        state = keymap.state_new()
        if mods.shift:
            state.update_key(e.KEY_LEFTSHIFT + _XKB_OFFSET, xkb.XKB_KEY_DOWN)
        if mods.altgr:
            state.update_key(e.KEY_RIGHTALT + _XKB_OFFSET, xkb.XKB_KEY_DOWN)
        for lock, on in ((e.KEY_CAPSLOCK, mods.capslock), (e.KEY_NUMLOCK, mods.numlock)):
            if on:
                state.update_key(lock + _XKB_OFFSET, xkb.XKB_KEY_DOWN)
                state.update_key(lock + _XKB_OFFSET, xkb.XKB_KEY_UP)
        for keycode in range(low, high + 1):
            code = keycode - _XKB_OFFSET
            if code in _MODIFIER_KEYS:
                continue
            output = _xkb_output(xkb, state, keycode)
            if output is not None:
                table[code, mods] = output
    return TableKeymap(layout=name, has_altgr=has_altgr, table=table)


def _log_xkb_message(_context: Any, _level: int, message: str) -> None:
    log.debug("libxkbcommon: %s", message.rstrip())


def _xkb_output(xkb: Any, state: Any, keycode: int) -> KeyOutput | None:
    """What one key types in one xkb state, reduced to what a keymap table holds."""
    sym = state.key_get_one_sym(keycode)
    if sym == 0:
        return None
    name: str = xkb.keysym_get_name(sym)
    if name.startswith("dead_"):
        return _DEAD_KEYS.get(name)
    text: str = state.key_get_string(keycode)
    # Only printable text is layout data. Enter, Tab, Backspace and Escape give control
    # characters that the decoder handles itself (or ignores) the same way on every layout.
    if len(text) == 1 and text.isprintable():
        return text
    return None


_MODIFIER_KEYS = frozenset(
    {
        e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT, e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL, e.KEY_LEFTALT,
        e.KEY_RIGHTALT, e.KEY_CAPSLOCK, e.KEY_NUMLOCK, e.KEY_LEFTMETA, e.KEY_RIGHTMETA,
    }
)  # fmt: skip
