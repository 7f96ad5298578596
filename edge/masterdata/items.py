"""Importing items.csv: items, their reorder fields and their aliases, added or updated by part."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edge.domain.catalog import item_problems, reorder_fields
from edge.domain.gtin import normalize_gtin
from edge.domain.model import PartError, ReorderPolicy, validate_part
from edge.domain.quantity import to_storage
from edge.domain.timestamps import rfc3339
from edge.masterdata.csv_files import CsvFile, Progress, Row, raise_if_errors, read_csv
from edge.masterdata.summary import ImportSummary
from edge.service import InventoryService
from edge.store import schema

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
)


def import_items(
    service: InventoryService, path: Path, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, ITEM_COLUMNS, ("part",), progress)
    raise_if_errors(file)
    with service.unit_of_work() as uow:
        existing = {row.part for row in uow.connection.execute(select(schema.items.c.part))}
        parents = {
            row.parent
            for row in uow.connection.execute(select(schema.bom_lines.c.parent).distinct())
        }
        alias_owner = {
            row.code: row.part
            for row in uow.connection.execute(select(schema.aliases.c.code, schema.aliases.c.part))
        }
        records = _parse_items(file, existing, parents, alias_owner)
        raise_if_errors(file)
        now = rfc3339(datetime.now(UTC))
        for record in records:
            values = {key: value for key, value in record.items() if key != "aliases"}
            values["updated_at"] = now
            update = {key: value for key, value in values.items() if key != "part"}
            uow.connection.execute(
                sqlite_insert(schema.items)
                .values(**values)
                .on_conflict_do_update(index_elements=[schema.items.c.part], set_=update)
            )
            if record["aliases"] is not None:
                uow.connection.execute(
                    delete(schema.aliases).where(schema.aliases.c.part == record["part"])
                )
                for code in record["aliases"]:
                    uow.connection.execute(
                        schema.aliases.insert().values(code=code, part=record["part"])
                    )
        uow.bump_catalog()
        uow.commit()
    added = sum(1 for record in records if record["part"] not in existing)
    return ImportSummary(len(records), added=added, updated=len(records) - added)


def _parse_items(
    file: CsvFile, existing: set[str], parents: set[str], alias_owner: dict[str, str]
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    file_parts = {row.text("part") for row in file.rows}
    # Aliases of the parts in this file are replaced; others' stay and still collide.
    owners = {code: part for code, part in alias_owner.items() if part not in file_parts}
    for row in file.rows:
        part = row.part("part")
        if part is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first on line {seen[part]})")
            continue
        seen[part] = row.line
        if part in owners:
            row.error("part", f"{part!r} is already an alias of {owners[part]!r}")
        stocked = _bool(row, "stocked")
        policy = ReorderPolicy(
            reorder_point=row.quantity("reorder_point"),
            reorder_qty=row.positive("reorder_qty"),
            max_qty=row.positive("max_qty"),
            order_multiple=row.positive("order_multiple"),
            lead_time_days=_lead_time(row),
        )
        row.report(item_problems(policy, has_bom=part in parents, stocked=stocked))
        aliases = (
            _aliases(row, part, owners, existing | file_parts) if "aliases" in row.columns else None
        )
        records.append({
            "part": part,
            "description": row.text("description"),
            "uom": row.text("uom") or "EA",
            "stocked": stocked,
            **{key: None if value is None else to_storage(value)
               for key, value in reorder_fields(policy).items()},
            "lead_time_days": policy.lead_time_days,
            "aliases": aliases,
        })  # fmt: skip
    return records


def _lead_time(row: Row) -> int | None:
    text = row.text("lead_time_days")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        row.error("lead_time_days", f"{text!r} is not a whole number of days")
        return None
    return int(text)


def _aliases(row: Row, part: str, owners: dict[str, str], parts: set[str]) -> list[str]:
    result: list[str] = []
    for raw in row.cells.get("aliases", "").split("|"):
        if not raw.strip():
            continue
        try:
            code = validate_part(raw)
        except PartError as error:
            row.error("aliases", f"alias {raw!r}: {error}")
            continue
        code = normalize_gtin(code) or code
        if code in parts and code != part:
            row.error("aliases", f"alias {code!r} is also a part number")
        elif code in owners and owners[code] != part:
            row.error("aliases", f"alias {code!r} already belongs to {owners[code]!r}")
        elif code not in result and code != part:
            result.append(code)
            owners[code] = part
    return result


def _bool(row: Row, name: str) -> bool:
    value = row.text(name).lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    row.error(name, f"{row.text(name)!r} is not true or false")
    return False
