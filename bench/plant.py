"""Plant: N `edge run` nodes of one site on one mosquitto, M `edge tail` consumers.

Each node is its own directory, config, SQLite database and node id (site
``bench``), with one or two serial scanners on ptys typing serialized GS1
codes at a steady rate. The consumers are the real ``edge tail --site bench
--node ... --json``, partitioned by node (a node's stream always goes whole to
one consumer). At the end every node's outbox is held against what the
consumers printed: loss (a seq of a node never consumed), gaps (tail's own
report and exit status 3), order (seq strictly increasing per (node, stream)
as consumed) and duplicates. ``--restart-broker`` restarts the broker (with
persistence, as a production broker keeps sessions) once in the middle.

    .venv/bin/python bench/plant.py [--nodes 4] [--seconds 20] [--rate 3] [--consumers 2]
        [--restart-broker] [--json] [--quick] [--dir DIR]
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
from common import (
    arguments,
    import_catalog,
    load,
    print_machine,
    scratch,
    serial_code,
    table,
    write_seven_component_catalog,
)
from rig import (
    REPO,
    Broker,
    Scanner,
    daemon_config,
    revision,
    scan_and_time,
    start_daemon,
    stop_daemon,
    wait_reading,
)

from edge.config import load_config
from edge.runtime.bootstrap import build_service

SITE = "bench"
CEILING_S = 120.0  # a hung plant, not a speed requirement


@dataclass
class Node:
    name: str
    folder: Path
    scanners: list[Scanner]
    process: subprocess.Popen | None = None
    typed: int = 0
    acked: int = 0

    @property
    def database(self) -> Path:
        return self.folder / "edge.db"

    def published(self) -> dict[tuple[str, int], str]:
        """(stream, seq) -> event_id of every event in its outbox."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT payload FROM outbox").fetchall()
        events = [json.loads(payload) for (payload,) in rows]
        return {(e["stream"], e["seq"]): e["event_id"] for e in events}

    def unpublished(self) -> int:
        with sqlite3.connect(self.database) as db:
            return int(db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                       .fetchone()[0])  # fmt: skip

    def scans(self) -> int:
        with sqlite3.connect(self.database) as db:
            return int(db.execute("SELECT count(*) FROM scans WHERE status = 'accepted'")
                       .fetchone()[0])  # fmt: skip


def prepare(folder: Path, index: int, broker_port: int) -> Node:
    """A node's directory: its config, its scanners (1 or 2), the catalog in its database."""
    folder.mkdir()
    scanners = [Scanner.open(i) for i in range(1 + index % 2)]
    node = Node(f"line-{index + 1:02d}", folder, scanners)
    config = daemon_config(folder, broker_port, scanners, node=node.name)
    service = build_service(load_config(config))
    import_catalog(service, write_seven_component_catalog(folder))
    service.engine.dispose()
    return node


@dataclass
class Consumer:
    """One ``edge tail`` process and what it printed, read as it comes."""

    nodes: list[str]
    process: subprocess.Popen
    log: Path
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    duplicates: int = 0
    gaps: list[dict[str, Any]] = field(default_factory=list)
    reader: threading.Thread | None = None

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = json.loads(line)
            if found.get("tail") == "duplicate":
                self.duplicates += 1
            elif found.get("tail") == "gap":
                self.gaps.append(found)
            else:
                self.events.append((time.perf_counter(), found))

    def subscribed(self) -> bool:
        return "subscribed on" in self.log.read_text()


def start_consumer(folder: Path, number: int, broker_port: int, nodes: list[str]) -> Consumer:
    config = folder / f"tail-{number}.toml"
    config.write_text(f'[site]\nid = "{SITE}"\nnode = "central"\n\n[mqtt]\nhost = "127.0.0.1"\n'
                      f"port = {broker_port}\nkeepalive = 5\n")  # fmt: skip
    log = folder / f"tail-{number}.log"
    options = [arg for name in nodes for arg in ("--node", name)]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge", "tail", "--config", str(config), "--site", SITE,
             *options, "--json", "--timeout", str(CEILING_S * 3),
             "--client-id", f"plant-tail-{number}"],
            stdout=subprocess.PIPE, stderr=sink, text=True, cwd=REPO,
        )  # fmt: skip
    consumer = Consumer(nodes, process, log)
    consumer.reader = threading.Thread(target=consumer.read, daemon=True)
    consumer.reader.start()
    return consumer


def warm_up(name: str) -> Any:
    """The warm-up codes of a node's scanners, each one new."""
    numbers = iter(range(10**6))
    return lambda scanner: serial_code(next(numbers), f"W{name[-2:]}{scanner.index}").encode()


def type_steadily(node: Node, scanner: Scanner, rate: float, until: float) -> None:
    """One code every 1/rate s on this scanner, each waiting for its ACK; late slots are skipped."""
    slot = time.perf_counter()
    number = 0
    while slot < until:
        delay = slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        code = serial_code(number, f"{node.name[-2:]}S{scanner.index}").encode()
        latency, _ = scan_and_time(scanner, code)
        node.typed += 1
        node.acked += latency is not None
        number += 1
        slot = max(slot + 1 / rate, time.perf_counter())


# --- the run -----------------------------------------------------------------------------------
def run(directory: Path, *, nodes_n: int, consumers_n: int, seconds: float, rate: float,
        restart: bool) -> dict[str, Any]:  # fmt: skip
    with Broker(directory, persistent=True) as broker:
        nodes = [prepare(directory / f"node-{i + 1:02d}", i, broker.port) for i in range(nodes_n)]
        parts = [[n.name for n in nodes[k::consumers_n]] for k in range(consumers_n)]
        consumers = [start_consumer(directory, k, broker.port, p) for k, p in enumerate(parts)]
        common.wait_for(
            lambda: all(c.subscribed() for c in consumers), "the tails to subscribe", CEILING_S
        )
        try:
            for node in nodes:
                node.process = start_daemon(node.folder / "edge.toml", node.folder / "daemon.log")
            for node in nodes:
                wait_reading(node.scanners, warm_up(node.name))
            before = sum(len(n.published()) for n in nodes)
            began = time.perf_counter()
            until = began + seconds
            typists = [threading.Thread(target=type_steadily, args=(n, s, rate, until))
                       for n in nodes for s in n.scanners]  # fmt: skip
            for typist in typists:
                typist.start()
            if restart:
                time.sleep(seconds / 2)
                broker.restart()
            for typist in typists:
                typist.join()
            typing_s = time.perf_counter() - began
            common.wait_for(
                lambda: not any(n.unpublished() for n in nodes), "the outboxes to drain", CEILING_S
            )
        finally:
            exits = [stop_daemon(n.process) for n in nodes if n.process is not None]
        published = {n.name: n.published() for n in nodes}
        owner = {name: c for c in consumers for name in c.nodes}

        def consumed(name: str) -> set[tuple[str, int]]:
            return {(e["stream"], e["seq"]) for _, e in owner[name].events if e["node"] == name}

        common.wait_for(lambda: all(set(published[n]) <= consumed(n) for n in published),
                        "the consumers to get every event", 30)  # fmt: skip
        for consumer in consumers:
            consumer.process.send_signal(signal.SIGINT)
        statuses = [c.process.wait(CEILING_S) for c in consumers]
        for consumer in consumers:  # each reader ends at its tail's last line
            if consumer.reader is not None:
                consumer.reader.join(CEILING_S)
        for node in nodes:
            for scanner in node.scanners:
                scanner.close()
    return report(nodes, consumers, statuses=statuses, exits=exits, published=published,
                  before=before, typing_s=typing_s, began=began, restart=restart)  # fmt: skip


def report(nodes: list[Node], consumers: list[Consumer], *, statuses: list[int], exits: list[int],
           published: dict[str, dict[tuple[str, int], str]], before: int, typing_s: float,
           began: float, restart: bool) -> dict[str, Any]:  # fmt: skip
    per_node = []
    for node in nodes:
        owner = next(c for c in consumers if node.name in c.nodes)
        seqs: dict[str, list[int]] = {}
        for _, event in owner.events:
            if event["node"] == node.name:
                seqs.setdefault(event["stream"], []).append(event["seq"])
        disorder = sum(1 for s in seqs.values() for a, b in itertools.pairwise(s) if b <= a)
        got = {(stream, seq) for stream, s in seqs.items() for seq in s}
        per_node.append({"node": node.name, "scanners": len(node.scanners),
                         "typed": node.typed, "acked": node.acked, "scans": node.scans(),
                         "events": len(published[node.name]), "consumed": len(got),
                         "lost": len(set(published[node.name]) - got),
                         "out_of_order": disorder})  # fmt: skip
    arrivals = [t for c in consumers for t, _ in c.events if t >= began]
    total = sum(len(p) for p in published.values())
    return {
        "nodes": len(nodes), "consumers": len(consumers), "seconds": round(typing_s, 2),
        "restart_broker": restart,
        "published_per_s": round((total - before) / typing_s, 1),
        "consumed_per_s": round(len(arrivals) / (max(arrivals) - began), 1) if arrivals else 0,
        "events": total, "consumed": sum(n["consumed"] for n in per_node),
        "lost": sum(n["lost"] for n in per_node),
        "gaps": sum(len(c.gaps) for c in consumers),
        "out_of_order": sum(n["out_of_order"] for n in per_node),
        "duplicates": sum(c.duplicates for c in consumers),
        "tail_exit": statuses, "node_exit": exits, "per_node": per_node,
    }  # fmt: skip


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--nodes", {"type": int, "default": 4, "help": "edge run nodes (default 4)"}),
        ("--seconds", {"type": float, "default": 20.0, "help": "typing time (default 20)"}),
        ("--rate", {"type": float, "default": 3.0, "help": "scans/s per scanner (default 3)"}),
        ("--consumers", {"type": int, "default": 2, "help": "edge tail processes (default 2)"}),
        ("--restart-broker", {"action": "store_true", "help": "restart the broker mid-run"}),
        ("--json", {"action": "store_true", "help": "the figures as JSON on the last line"}),
        ("--quick", {"action": "store_true", "help": "a smoke run: 2 nodes, 3 s"}),
    ])  # fmt: skip
    nodes, seconds = (2, 3.0) if args.quick else (args.nodes, args.seconds)
    consumers = max(1, min(args.consumers, nodes))
    with scratch(args) as directory:
        print_machine(f"plant: {nodes} nodes, {consumers} consumers, one mosquitto", directory)
        print(f"product     {revision()}\n")
        result = run(directory, nodes_n=nodes, consumers_n=consumers, seconds=seconds,
                     rate=args.rate, restart=args.restart_broker)  # fmt: skip
        table(["node", "scanners", "typed", "ACKed", "scans", "events", "consumed", "lost",
               "out of order"], [list(n.values()) for n in result["per_node"]])  # fmt: skip
        print(f"{result['nodes']} nodes, {result['consumers']} consumers, "
              f"{result['seconds']} s{' with a broker restart' if args.restart_broker else ''}: "
              f"{result['published_per_s']} events/s published, {result['consumed_per_s']} "
              f"consumed; lost {result['lost']}, gaps {result['gaps']}, out of order "
              f"{result['out_of_order']}, duplicates {result['duplicates']}; tail exit "
              f"{result['tail_exit']}, node exit {result['node_exit']}")  # fmt: skip
        ok = not (result["lost"] or result["gaps"] or result["out_of_order"])
        print(f"zero loss, zero gaps, order kept: {'pass' if ok else 'FAIL'}")
        print(f"load        {load()} at end")
        if args.json:
            print(json.dumps(result))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
