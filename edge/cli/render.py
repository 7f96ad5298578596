"""Output of the commands for whoever reads it: one JSON document, or words for people."""

from __future__ import annotations

import sys
from typing import Any

from edge.domain import exactjson


def print_json(document: Any) -> None:
    sys.stdout.write(exactjson.dumps(document) + "\n")
