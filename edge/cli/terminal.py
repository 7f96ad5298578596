"""Plain-text tables for people reading a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from edge.domain.quantity import format_quantity


def counted(number: int, noun: str) -> str:
    """``1 component``, ``3 components``: a count with its noun (regular plurals only)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def duration(span: timedelta) -> str:
    """``3 h 20 min``, ``2 d 4 h``, ``5 min``: a span to the minute, in its two largest units."""
    minutes = int(span.total_seconds()) // 60
    if minutes < 1:
        return "< 1 min"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return format_quantity(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    texts = [[cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in texts:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [
        all(isinstance(row[index], Decimal | int) or row[index] is None for row in rows) and rows
        for index in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(widths[index]) if numeric[index] else value.ljust(widths[index])
            for index, value in enumerate(values)
        ]
        return "  ".join(padded).rstrip()

    output = [line(headers), line(["-" * width for width in widths])]
    output.extend(line(row) for row in texts)
    return "\n".join(output)
