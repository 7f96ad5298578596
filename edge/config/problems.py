"""How problems with a config file are told: all at once, each naming the file and the key.

A value type raises :class:`Invalid` with what is wrong with one value; the table
that asked puts the file and the key in front of it in a :class:`Report`, which
collects every problem so that one ``edge check-config`` shows all of them. The
loader raises the collected lines as one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ConfigError", "Invalid", "Report", "did_you_mean", "suggestion"]


class ConfigError(Exception):
    """The configuration cannot be used.

    ``str()`` is one line per problem, each naming the file and the key.
    """


class Invalid(Exception):
    """A value is wrong. The message says why; the caller puts the file and key in front."""


def suggestion(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a mistyped name most likely meant.

    A name that differs only in case, then the one candidate the name is the
    start of (``prot`` -> ``protocol``, where plain similarity would say
    ``port``), then the closest by :mod:`difflib`.
    """
    options = list(candidates)
    for option in options:
        if option.lower() == name.lower():
            return option
    started = [option for option in options if name and option.startswith(name.lower())]
    if len(started) == 1:
        return started[0]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    likely = suggestion(name, candidates)
    return f" (did you mean {likely!r}?)" if likely else ""


class Report:
    """Collects every problem, so one `edge check-config` shows all of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.lines.append(f"{self.source}: {key}: {message}")
