"""Commands from central systems: what handling one costs, against its physical limit.

Measured in one scratch directory, in the same run:

* ``stock.receive`` commands through :class:`edge.commands.apply.CommandHandler`
  (parse, duplicate check, the domain's receipt, the kept answer and the
  command-result event in one durable commit, the answer read back), one after
  another, against raw ``sqlite3`` committing one row per durable transaction
  into a bare table: every command needs at least that one fsync'd commit.
* an ``items.upsert`` of N rows through the handler, against ``edge import
  items`` of the same rows as a CSV file (the apply path it goes through).

Prints per-operation p50/p99 and the ratios; nothing is asserted.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from baselines import raw_connection
from common import arguments, percentile, print_machine, scratch, service_for, table

from edge.commands.apply import CommandHandler, Incoming
from edge.config import CommandsConfig
from edge.masterdata.items import import_items

TOPIC = "backflush/bench/edge/cmd/"


def _handle(handler: CommandHandler, command_type: str, fields: dict[str, object]) -> float:
    payload = json.dumps({"command_id": str(uuid.uuid4()), "type": command_type, **fields})
    started = time.perf_counter()
    answer = handler.handle(Incoming(TOPIC + command_type, command_type, payload.encode(), False))
    elapsed = time.perf_counter() - started
    if answer.status != "applied":
        raise SystemExit(f"{command_type} was not applied: {answer.payload}")
    return elapsed


def raw_commits(path: Path, count: int) -> list[float]:
    db = raw_connection(path)
    db.execute("CREATE TABLE bare (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    times = []
    for index in range(count):
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO bare (body) VALUES (?)", (f"command {index}",))
        db.execute("COMMIT")
        times.append(time.perf_counter() - started)
    db.close()
    return times


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [
            ("--commands", {"type": int, "default": 300, "help": "stock.receive commands"}),
            ("--rows", {"type": int, "default": 5000, "help": "rows of the items.upsert"}),
        ],
    )
    with scratch(args) as directory:
        print_machine("commands from central systems", directory)
        service = service_for(directory / "edge.db")
        seed = directory / "seed.csv"
        seed.write_text("part,description\nBOLT-M6,bolt\n")
        import_items(service, seed)
        handler = CommandHandler(service, CommandsConfig(enabled=True, max_bytes=64 << 20))
        receive = {"part": "BOLT-M6", "quantity": "1.5"}
        command_times = [_handle(handler, "stock.receive", receive) for _ in range(args.commands)]
        raw_times = raw_commits(directory / "raw.db", args.commands)

        rows = [{"part": f"P-{n:06d}", "description": f"part {n}", "reorder_point": n % 50}
                for n in range(args.rows)]  # fmt: skip
        upsert_s = _handle(handler, "items.upsert", {"items": rows})
        csv_path = directory / "items.csv"
        lines = [f"P-{n:06d},part {n} again,{n % 50}" for n in range(args.rows)]
        csv_path.write_text("part,description,reorder_point\n" + "\n".join(lines) + "\n")
        started = time.perf_counter()
        import_items(service, csv_path)
        import_s = time.perf_counter() - started
        service.engine.dispose()

    def row(name: str, times: list[float]) -> list[object]:
        return [name, len(times), f"{percentile(times, 0.5) * 1e3:.2f}",
                f"{percentile(times, 0.99) * 1e3:.2f}"]  # fmt: skip

    table(["one at a time", "n", "p50 ms", "p99 ms"],
          [row("stock.receive command", command_times),
           row("raw sqlite3 durable 1-row commit", raw_times)])  # fmt: skip
    ratio = percentile(raw_times, 0.5) / percentile(command_times, 0.5)
    print(f"command p50 / raw commit p50: {1 / ratio:.2f}x (the raw commit is the floor)")
    print(f"items.upsert of {args.rows} rows: {upsert_s:.2f} s; edge import items of the same "
          f"rows: {import_s:.2f} s; ratio {upsert_s / import_s:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
