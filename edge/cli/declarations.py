"""How a subcommand of ``edge`` is declared: its name, its handler, its help and its arguments.

main.py builds the parser from these declarations; the handler of each is
named as ``"module:function"`` and imported only when its command runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Arg:
    """One argument of a command, as given to ``add_argument``."""

    flags: tuple[str, ...]
    options: dict[str, Any]


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, its handler as ``"module:function"``, its help and arguments."""

    name: str
    handler: str
    text: str
    args: tuple[Arg, ...] = ()
    actions: tuple[Command, ...] = field(default=())  # `edge reorder cancel ID`


JSON = arg("--json", action="store_true", help="one JSON document on stdout, e.g. --json | jq .")
LIMIT = "N: 0 or more, e.g. --limit 20"
