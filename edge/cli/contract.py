"""``edge schema [NAME]``: the JSON Schemas of what the node publishes and the commands it
accepts, and (``edge schema asyncapi``) the AsyncAPI document of every topic, for central
developers."""

from __future__ import annotations

import argparse
import json
import sys

from edge.cli.arguments import EXIT_OK, UsageError
from edge.commands.schemas import command_schemas
from edge.contract.asyncapi import ASYNCAPI_VERSION, asyncapi_document
from edge.contract.schemas import published_schemas

ASYNCAPI = "asyncapi"


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = published_schemas() | command_schemas()
    if args.name == ASYNCAPI:
        print(json.dumps(asyncapi_document(), indent=2))
        return EXIT_OK
    if args.name is None:
        width = max(len(name) for name in schemas)
        for name, schema in schemas.items():
            print(f"{name:<{width}}  {schema['title']}")
        print(f"{ASYNCAPI:<{width}}  AsyncAPI {ASYNCAPI_VERSION} document: every topic and message")
        print("\nedge schema NAME prints one, e.g. edge schema event/backflush", file=sys.stderr)
        return EXIT_OK
    if args.name not in schemas:
        raise UsageError(f"no schema {args.name!r}; one of: {', '.join([*schemas, ASYNCAPI])}")
    print(json.dumps(schemas[args.name], indent=2))
    return EXIT_OK
