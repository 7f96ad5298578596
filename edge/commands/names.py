"""The command types central systems may send (SPEC §11), declared once.

Standard library only and cheap to import: the config's ``[commands] allow``
key is checked against this tuple, the subscriber subscribes to each type's
topic and the parser knows each type's fields by it.
"""

from __future__ import annotations

from typing import Final

COMMAND_TYPES: Final = (
    "items.upsert",
    "bom.replace",
    "cards.upsert",
    "stock.receive",
    "stock.count",
    "reorder.ack",
    "reorder.cancel",
    "republish",
)
"""Every command type, as the last topic level and the payload's ``type`` spell it."""
