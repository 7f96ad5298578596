"""Keymaps: the built-in US layout, and de/fr/gb read from libxkbcommon."""

from __future__ import annotations

import sys

import pytest
from evdev import ecodes as e

from hardware.evdev.keymap import (
    DeadKey,
    KeymapError,
    Modifiers,
    load_keymap,
    us_keymap,
    xkb_available,
)

PLAIN = Modifiers()
SHIFT = Modifiers(shift=True)
CAPS = Modifiers(capslock=True)
SHIFT_CAPS = Modifiers(shift=True, capslock=True)
NUM = Modifiers(numlock=True)
SHIFT_NUM = Modifiers(shift=True, numlock=True)
ALTGR = Modifiers(altgr=True)
SHIFT_ALTGR = Modifiers(shift=True, altgr=True)

US_VECTORS = [
    (e.KEY_A, PLAIN, "a"),
    (e.KEY_A, SHIFT, "A"),
    (e.KEY_A, CAPS, "A"),
    (e.KEY_A, SHIFT_CAPS, "a"),
    (e.KEY_Z, PLAIN, "z"),
    (e.KEY_Y, PLAIN, "y"),
    (e.KEY_1, PLAIN, "1"),
    (e.KEY_1, SHIFT, "!"),
    (e.KEY_1, CAPS, "1"),
    (e.KEY_2, SHIFT, "@"),
    (e.KEY_6, SHIFT, "^"),
    (e.KEY_0, SHIFT, ")"),
    (e.KEY_MINUS, SHIFT, "_"),
    (e.KEY_EQUAL, PLAIN, "="),
    (e.KEY_LEFTBRACE, SHIFT, "{"),
    (e.KEY_RIGHTBRACE, PLAIN, "]"),
    (e.KEY_BACKSLASH, SHIFT, "|"),
    (e.KEY_SEMICOLON, SHIFT, ":"),
    (e.KEY_APOSTROPHE, SHIFT, '"'),
    (e.KEY_GRAVE, SHIFT, "~"),
    (e.KEY_COMMA, SHIFT, "<"),
    (e.KEY_DOT, PLAIN, "."),
    (e.KEY_SLASH, SHIFT, "?"),
    (e.KEY_SPACE, SHIFT, " "),
    (e.KEY_KP7, NUM, "7"),
    (e.KEY_KP0, NUM, "0"),
    (e.KEY_KPDOT, NUM, "."),
    (e.KEY_KPASTERISK, PLAIN, "*"),
    (e.KEY_KPSLASH, NUM, "/"),
    (e.KEY_KPPLUS, SHIFT, "+"),
    (e.KEY_KPMINUS, NUM, "-"),
    (e.KEY_A, ALTGR, "a"),  # no AltGr on US: Right Alt is Alt and changes nothing here
]


@pytest.mark.parametrize(("code", "mods", "char"), US_VECTORS)
def test_us_vectors(code, mods, char):
    assert us_keymap().lookup(code, mods) == char


@pytest.mark.parametrize(
    ("code", "mods"),
    [
        (e.KEY_KP7, PLAIN),  # NumLock off: Home
        (e.KEY_KP7, SHIFT_NUM),  # Shift cancels NumLock: Home
        (e.KEY_KPDOT, PLAIN),
        (e.KEY_ENTER, PLAIN),  # Enter and Tab are the decoder's, not text
        (e.KEY_TAB, PLAIN),
        (e.KEY_BACKSPACE, PLAIN),
        (e.KEY_ESC, PLAIN),
        (e.KEY_F1, PLAIN),
        (e.KEY_LEFTSHIFT, PLAIN),
        (9999, PLAIN),
    ],
)
def test_us_keys_that_type_nothing(code, mods):
    assert us_keymap().lookup(code, mods) is None


def test_us_layout_is_built_in_and_has_no_altgr():
    keymap = load_keymap("us")
    assert keymap is us_keymap()
    assert keymap.layout == "us"
    assert not keymap.has_altgr


@pytest.mark.parametrize("layout", ["", "de fr", "de(", "DE;rm -rf", "../us"])
def test_malformed_layout_names_are_rejected(layout):
    with pytest.raises(KeymapError, match="XKB layout name"):
        load_keymap(layout)


def test_non_us_layout_without_xkbcommon_names_the_extra(monkeypatch):
    # Make the optional package unimportable, as on an install without the [xkb] extra.
    monkeypatch.setitem(sys.modules, "xkbcommon", None)
    monkeypatch.setitem(sys.modules, "xkbcommon.xkb", None)
    assert not xkb_available()
    with pytest.raises(KeymapError, match=r"xkbcommon.*\[xkb\].*libxkbcommon-dev"):
        load_keymap("de")
    assert load_keymap("us").layout == "us"  # US needs nothing


# --- libxkbcommon layouts -------------------------------------------------------------------

needs_xkb = pytest.mark.skipif(
    not xkb_available(),
    reason="the optional xkbcommon bindings are not installed (pip install .[xkb], "
    "which needs libxkbcommon-dev to build)",
)

XKB_VECTORS = {
    "de": [
        (e.KEY_Y, PLAIN, "z"),
        (e.KEY_Z, PLAIN, "y"),
        (e.KEY_Z, SHIFT, "Y"),
        (e.KEY_7, SHIFT, "/"),
        (e.KEY_0, SHIFT, "="),
        (e.KEY_MINUS, PLAIN, "ß"),
        (e.KEY_MINUS, SHIFT, "?"),
        (e.KEY_Q, ALTGR, "@"),
        (e.KEY_8, ALTGR, "["),
        (e.KEY_9, ALTGR, "]"),
        (e.KEY_7, ALTGR, "{"),
        (e.KEY_E, ALTGR, "€"),
        (e.KEY_102ND, ALTGR, "|"),
        (e.KEY_102ND, PLAIN, "<"),
        (e.KEY_SEMICOLON, PLAIN, "ö"),
        (e.KEY_SEMICOLON, CAPS, "Ö"),
        (e.KEY_APOSTROPHE, SHIFT, "Ä"),
        (e.KEY_LEFTBRACE, PLAIN, "ü"),
        (e.KEY_RIGHTBRACE, PLAIN, "+"),
        (e.KEY_RIGHTBRACE, SHIFT, "*"),
        (e.KEY_BACKSLASH, PLAIN, "#"),
        (e.KEY_BACKSLASH, SHIFT, "'"),
        (e.KEY_SLASH, PLAIN, "-"),
        (e.KEY_SLASH, SHIFT, "_"),
        (e.KEY_GRAVE, PLAIN, DeadKey("^", "\u0302")),
        (e.KEY_EQUAL, PLAIN, DeadKey("\u00b4", "\u0301")),
        (e.KEY_KPDOT, NUM, ","),
        (e.KEY_KP5, NUM, "5"),
    ],
    "fr": [
        (e.KEY_Q, PLAIN, "a"),
        (e.KEY_A, PLAIN, "q"),
        (e.KEY_W, PLAIN, "z"),
        (e.KEY_Z, PLAIN, "w"),
        (e.KEY_SEMICOLON, PLAIN, "m"),
        (e.KEY_M, PLAIN, ","),
        (e.KEY_1, PLAIN, "&"),
        (e.KEY_1, SHIFT, "1"),
        (e.KEY_2, PLAIN, "é"),
        (e.KEY_2, SHIFT, "2"),
        (e.KEY_3, PLAIN, '"'),
        (e.KEY_9, PLAIN, "ç"),
        (e.KEY_0, PLAIN, "à"),
        (e.KEY_0, ALTGR, "@"),
        (e.KEY_3, ALTGR, "#"),
        (e.KEY_MINUS, ALTGR, "]"),
        (e.KEY_MINUS, PLAIN, ")"),
        (e.KEY_COMMA, SHIFT, "."),
        (e.KEY_DOT, SHIFT, "/"),
        (e.KEY_LEFTBRACE, PLAIN, DeadKey("^", "\u0302")),
        (e.KEY_LEFTBRACE, SHIFT, DeadKey("\u00a8", "\u0308")),
        (e.KEY_KP1, NUM, "1"),
    ],
    "gb": [
        (e.KEY_2, SHIFT, '"'),
        (e.KEY_3, SHIFT, "£"),
        (e.KEY_APOSTROPHE, SHIFT, "@"),
        (e.KEY_BACKSLASH, PLAIN, "#"),
        (e.KEY_BACKSLASH, SHIFT, "~"),
        (e.KEY_102ND, PLAIN, "\\"),
        (e.KEY_102ND, SHIFT, "|"),
        (e.KEY_GRAVE, SHIFT, "¬"),
        (e.KEY_4, ALTGR, "€"),
        (e.KEY_A, PLAIN, "a"),
        (e.KEY_A, SHIFT_CAPS, "a"),
        (e.KEY_RIGHTBRACE, PLAIN, "]"),
        (e.KEY_KPDOT, NUM, "."),
    ],
}


@needs_xkb
@pytest.mark.parametrize(
    ("layout", "code", "mods", "expected"),
    [(layout, *vector) for layout, vectors in XKB_VECTORS.items() for vector in vectors],
)
def test_xkb_vectors(layout, code, mods, expected):
    assert load_keymap(layout).lookup(code, mods) == expected


@needs_xkb
@pytest.mark.parametrize("layout", ["de", "fr", "gb"])
def test_xkb_layouts_have_altgr(layout):
    keymap = load_keymap(layout)
    assert keymap.has_altgr
    assert keymap.layout == layout


@needs_xkb
def test_builtin_us_table_equals_libxkbcommon_us():
    """The hand-written US table agrees with the maintained source on every key and state."""
    from hardware.evdev.keymap import _xkb_keymap

    xkb_us = _xkb_keymap("us", "")
    assert not xkb_us.has_altgr
    assert dict(us_keymap().table) == dict(xkb_us.table)


@needs_xkb
def test_xkb_variant_and_unknown_layout():
    nodead = load_keymap("de(nodeadkeys)")
    assert nodead.layout == "de(nodeadkeys)"
    assert nodead.lookup(e.KEY_GRAVE, PLAIN) == "^"  # no dead keys in this variant
    with pytest.raises(KeymapError, match="not known"):
        load_keymap("zz")
    with pytest.raises(KeymapError, match="not known"):
        load_keymap("de(bogus)")
