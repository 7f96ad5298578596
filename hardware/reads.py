"""Types shared by every scanner adapter: one raw read, and the callbacks readers report through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawRead:
    """One complete read from a scanner, before any interpretation."""

    data: bytes  # the code's bytes (wedge: the decoded text encoded as UTF-8)
    monotonic: float  # time.monotonic() when the read completed
    truncated: bool = False  # the read exceeded max_length; data holds the first max_length bytes


# (scanner_id, read); must not block
ReadCallback = Callable[[str, RawRead], None]
# (scanner_id, state: "connected"|"disconnected"|"error", detail)
StateCallback = Callable[[str, str, str], None]
