"""JSON Schemas (draft 2020-12) of the commands the node accepts, from the parser's declarations.

Each field's schema is declared beside the code that reads it
(:data:`edge.commands.parse.COMMAND_FIELDS`), so a schema and the parser
cannot drift apart. The parser is the authority: a schema cannot say that a
part exists or that a reorder is open, and the rows of ``items.upsert`` and
``bom.replace`` are checked by the master-data apply path.

Names follow the topics: ``cmd/<type>``.
"""

from __future__ import annotations

from typing import Any

from edge.commands.parse import COMMAND_FIELDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:backflush-edge:schema:"
COMMAND_SCHEMA = "1"


def command_schema(command_type: str) -> dict[str, Any]:
    """The schema of one command type's payload."""
    properties: dict[str, Any] = {
        "command_id": {"type": "string", "format": "uuid",
                       "description": "unique per command: a repeat is answered duplicate"},
        "type": {"const": command_type},
        "if_catalog_version": {"type": "integer", "minimum": 0,
                               "description": "refused unless the node's catalog is this one"},
    }  # fmt: skip
    required = ["command_id", "type"]
    for name, (needed, field_type) in COMMAND_FIELDS[command_type].items():
        properties[name] = dict(field_type.schema)
        if needed:
            required.append(name)
    return {
        "$schema": DIALECT,
        "$id": f"{ID_BASE}cmd/{command_type}:{COMMAND_SCHEMA}",
        "title": f"{command_type} command",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def command_schemas() -> dict[str, dict[str, Any]]:
    """Every accepted command's schema, by name (``cmd/<type>``)."""
    return {f"cmd/{name}": command_schema(name) for name in COMMAND_FIELDS}
