"""``edge schema [NAME]``: the JSON Schemas of what the node publishes and the commands it
accepts, for central developers."""

from __future__ import annotations

import argparse
import json
import sys

from edge.cli.arguments import EXIT_OK, UsageError
from edge.commands.schemas import command_schemas
from edge.contract.schemas import published_schemas


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = published_schemas() | command_schemas()
    if args.name is None:
        width = max(len(name) for name in schemas)
        for name, schema in schemas.items():
            print(f"{name:<{width}}  {schema['title']}")
        print("\nedge schema NAME prints one, e.g. edge schema event/backflush", file=sys.stderr)
        return EXIT_OK
    if args.name not in schemas:
        raise UsageError(f"no schema {args.name!r}; one of: {', '.join(schemas)}")
    print(json.dumps(schemas[args.name], indent=2))
    return EXIT_OK
