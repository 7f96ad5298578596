"""items.csv and ``items.upsert``: items, reorder fields and aliases, added or updated by part.

``aliases``, ``replenishment`` and ``count_tolerance_pct`` are optional columns
(JSON: optional keys): a row without one keeps what its item had (a new item
takes no aliases, ``reorder`` and the config's tolerance), so an older file
without the kanban columns does not turn kanban parts back into reordered ones.

:func:`validate_items` turns rows into a complete change against a snapshot
of the catalog, outside the write lock; :func:`write_items` writes it with
bulk statements in the apply transaction (apply.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from edge.domain.cards import code_is_a_card
from edge.domain.catalog import (
    CatalogProblem,
    item_problems,
    reorder_fields,
    replenishment_of,
    replenishment_problems,
    tolerance_problems,
)
from edge.domain.gtin import normalize_gtin
from edge.domain.inventory import Inventory
from edge.domain.model import PartError, ReorderPolicy, Replenishment, validate_part
from edge.domain.quantity import from_storage, to_storage
from edge.domain.timestamps import rfc3339
from edge.masterdata.fields import Fields, Rows
from edge.masterdata.summary import ImportSummary
from edge.masterdata.transaction import CsvImport, Plan
from edge.store import catalog_writes
from edge.store.unit_of_work import SqlUnitOfWork

ITEM_COLUMNS = (
    "part",
    "description",
    "uom",
    "stocked",
    "reorder_point",
    "reorder_qty",
    "max_qty",
    "order_multiple",
    "lead_time_days",
    "aliases",
    "replenishment",
    "count_tolerance_pct",
)


@dataclass(frozen=True, slots=True)
class ItemChange:
    """Items to write (values in catalog_writes.ITEM_WRITE_COLUMNS order, without the time)."""

    items: list[tuple[Any, ...]]
    aliases: list[tuple[str, list[str]]]  # parts whose aliases are replaced, with the new ones
    added: int

    def summary(self) -> ImportSummary:
        rows = len(self.items)
        return ImportSummary(rows, added=self.added, updated=rows - self.added)


def validate_items(rows: Rows, snapshot: Connection) -> ItemChange:
    """The change ``rows`` make to the catalog ``snapshot`` holds; errors recorded in ``rows``."""
    existing = catalog_writes.item_parts(snapshot)
    parents = catalog_writes.bom_parents(snapshot)
    alias_owner = catalog_writes.alias_owners(snapshot)
    known_cards = catalog_writes.all_cards(snapshot)
    cards = catalog_writes.cards_per_part(known_cards.values())
    card_ids = set(known_cards)
    kept = _kept_fields(rows, snapshot)
    items: list[tuple[Any, ...]] = []
    aliases: list[tuple[str, list[str]]] = []
    seen: dict[str, str] = {}
    parts = [row.part("part") for row in rows.rows]
    file_parts = {part for part in parts if part is not None}
    # Aliases of the parts in this file are replaced; others' stay and still collide.
    owners = {code: part for code, part in alias_owner.items() if part not in file_parts}
    added = 0
    known_parts = existing | file_parts  # once: per row it made a large file quadratic
    for row, part in zip(rows.rows, parts, strict=True):
        if part is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first {seen[part]})")
            continue
        seen[part] = row.place
        if part in owners:
            row.error("part", f"{part!r} is already an alias of {owners[part]!r}")
        if part in card_ids:
            row.report([code_is_a_card(part, "part")])
        stocked = row.flag("stocked")
        policy = ReorderPolicy(
            reorder_point=row.quantity("reorder_point"),
            reorder_qty=row.positive("reorder_qty"),
            max_qty=row.positive("max_qty"),
            order_multiple=row.positive("order_multiple"),
            lead_time_days=row.whole_number("lead_time_days"),
        )
        row.report(item_problems(policy, has_bom=part in parents, stocked=stocked))
        replenishment, tolerance = _replenishment(row, kept.get(part))
        row.report(replenishment_problems(policy, replenishment, has_bom=part in parents,
                                          stocked=stocked, cards=cards.get(part, 0)))  # fmt: skip
        if row.has("aliases"):
            aliases.append((part, _aliases(row, part, owners, known_parts, card_ids)))
        stored = [None if value is None else to_storage(value)
                  for value in reorder_fields(policy).values()]  # fmt: skip
        uom = row.text("uom") or "EA"
        items.append(
            (
                part,
                row.text("description"),
                uom,
                stocked,
                *stored,
                policy.lead_time_days,
                replenishment.value,
                None if tolerance is None else to_storage(tolerance),
            )
        )
        added += part not in existing
    return ItemChange(items, aliases, added)


def write_items(_inventory: Inventory, uow: SqlUnitOfWork, change: ItemChange) -> None:
    now = rfc3339(datetime.now(UTC))
    catalog_writes.upsert_items(
        uow.connection, [(*values, now) for values in change.items], change.aliases
    )


ITEMS: Plan[ItemChange] = Plan(validate_items, write_items, changes_catalog=True)
upsert_items = ITEMS.apply  # the items of CSV or JSON rows (items.upsert), all or nothing
import_items = CsvImport(ITEMS, ITEM_COLUMNS, ("part",))


_Kept = tuple[Replenishment, Decimal | None]


def _kept_fields(rows: Rows, snapshot: Connection) -> dict[str, _Kept]:
    """The stored replenishment and tolerance of each item, when a row leaves either out."""
    if all(row.has("replenishment") and row.has("count_tolerance_pct") for row in rows.rows):
        return {}
    return {
        part: (Replenishment(replenishment), None if tolerance is None else from_storage(tolerance))
        for part, replenishment, tolerance in catalog_writes.item_replenishments(snapshot)
    }


def _replenishment(row: Fields, kept: _Kept | None) -> tuple[Replenishment, Decimal | None]:
    """The row's replenishment and count tolerance; a field it leaves out keeps its value."""
    replenishment, tolerance = kept or (Replenishment.REORDER, None)
    if row.has("replenishment"):
        found = replenishment_of(row.text("replenishment"))
        if isinstance(found, CatalogProblem):
            row.report([found])
        else:
            replenishment = found
    if row.has("count_tolerance_pct"):
        tolerance = row.quantity("count_tolerance_pct")
        row.report(tolerance_problems(tolerance))
    return replenishment, tolerance


def _aliases(
    row: Fields, part: str, owners: dict[str, str], parts: set[str], cards: set[str]
) -> list[str]:
    result: list[str] = []
    for raw in row.codes("aliases"):
        if not raw.strip():
            continue
        try:
            code = validate_part(raw)
        except PartError as error:
            row.error("aliases", f"alias {raw!r}: {error}")
            continue
        code = normalize_gtin(code) or code
        if code in cards:
            row.report([code_is_a_card(code, "aliases")])
        elif code in parts and code != part:
            row.error("aliases", f"alias {code!r} is also a part number")
        elif code in owners and owners[code] != part:
            row.error("aliases", f"alias {code!r} already belongs to {owners[code]!r}")
        elif code not in result and code != part:
            result.append(code)
            owners[code] = part
    return result
