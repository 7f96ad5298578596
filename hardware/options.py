"""The settings the scanner adapters accept, as plain values.

Declared here, with no device library imported, so that the config validates
a ``[[scanner]]`` table against the very lists the adapters check, and loading
a config never loads evdev or pyserial.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["BYTESIZES", "PARITIES", "STOPBITS", "SUFFIXES", "ByteSize", "Parity", "Suffix"]

# Keyboard-wedge scanners: the key that ends a code ("none": the idle gap alone).
Suffix = Literal["enter", "tab", "none"]
SUFFIXES: Final[tuple[Suffix, ...]] = get_args(Suffix)

# Serial line settings, as pyserial names them.
Parity = Literal["N", "E", "O", "M", "S"]
PARITIES: Final[tuple[Parity, ...]] = get_args(Parity)
ByteSize = Literal[5, 6, 7, 8]
BYTESIZES: Final[tuple[ByteSize, ...]] = get_args(ByteSize)
STOPBITS: Final = (1, 1.5, 2)
