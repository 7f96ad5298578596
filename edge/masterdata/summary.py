"""What an import did, as the command line reports it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImportSummary:
    rows: int
    added: int = 0
    updated: int = 0
    parents: int = 0

    def describe(self, kind: str) -> str:
        if kind == "items":
            return f"{self.rows} items: {self.added} added, {self.updated} updated"
        if kind == "cards":
            return f"{self.rows} kanban cards: {self.added} added, {self.updated} updated"
        if kind == "bom":
            lines = "line" if self.rows == 1 else "lines"
            parents = "parent" if self.parents == 1 else "parents"
            return f"{self.rows} BOM {lines} for {self.parents} {parents}"
        return f"{self.rows} opening balances"
