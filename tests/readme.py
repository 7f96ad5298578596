"""The code blocks of the README's "For central systems" section, for the tests that check them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## For central systems"

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(heading: str = SECTION) -> str:
    """The README's text from ``heading`` to the next heading of the same level."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    level = heading.split(" ", 1)[0]
    end = text.find(f"\n{level} ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def blocks(language: str, heading: str = SECTION) -> list[str]:
    """Every fenced block of ``language`` under ``heading``, in order."""
    return [body for lang, body in _FENCE.findall(section(heading)) if lang == language]
