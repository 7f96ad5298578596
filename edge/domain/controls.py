"""The control codes a station takes, spelled once: read by the scan rules, printed on sheets.

``VOID`` undoes the station's last transaction, ``QTY:<n>`` multiplies its
next part scan and ``RSN:<code>`` gives the reason of its next scrap or issue
(edge/domain/scanning.py applies them; edge/labels prints them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from edge.domain.quantity import format_quantity

VOID: Final = "VOID"
QTY_PREFIX: Final = "QTY:"
RSN_PREFIX: Final = "RSN:"


def qty_code(quantity: Decimal) -> str:
    """The code that sets the next part scan's quantity, e.g. ``QTY:2``."""
    return f"{QTY_PREFIX}{format_quantity(quantity)}"


def reason_code(reason: str) -> str:
    """The code that gives the next scrap or issue its reason, e.g. ``RSN:DAMAGED``."""
    return f"{RSN_PREFIX}{reason}"
