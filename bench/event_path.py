"""Event path: a scan's event through the real relay to a local Mosquitto, vs bare paho.

A ship station scans serialized labels of a product whose 3-level BOM
explodes to 50 stock components (``write_three_level_catalog``, as in
commit_path.py): each scan commits one ``backflush`` event (50 lines) and
50 changed stock states. The scans are committed by the real
``InventoryService.process_scans`` and the outbox is published by the real
``edge.publish.relay.OutboxRelay``, built as ``edge run`` builds it (default MQTT 5,
in-flight window ``mqtt.max_inflight`` = 20), woken after every commit as the
daemon's writer does. Its broker is a mosquitto of our own on a free loopback
port with its own config file in the scratch directory (never 1883).

* latency: one scan every 20 ms (goal: p99 scan -> PUBACK < 50 ms), then one
  every 100 ms; per scan we time
  - scan -> PUBACK: from the call of ``process_scans`` to the moment the relay
    thread takes the event's PUBACK in (its ``_accept``, the relay's own
    in-memory record of the acknowledgement);
  - scan -> marked sent: to the return of the relay's ``record_answers``
    commit that set the row's ``published_at`` (the durable record; answers
    are written in batches at most ``RECORD_EVERY_S`` old);
* drain: N events (``--events``) committed while no broker runs, the relay
  running and retrying; then the broker starts and we time until every row is
  marked sent (rate from the relay's CONNACK, and from the broker's start;
  goal: at least 0.8x the bare rate). Process CPU per event is printed for both.

The physical limit is bare paho-mqtt 2.x on the same broker, MQTT 5, QoS 1,
with the same payload bytes and topics: one publish -> PUBACK round trip every
20 ms for latency (timed to paho's ``on_publish``), and N publishes with paho's
in-flight window set to the relay's for throughput (timed to the last PUBACK).
Product and bare runs alternate on the same broker.

    .venv/bin/python bench/event_path.py [--events 10000] [--scans 1000] [--dir DIR]
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import paho.mqtt.client as mqtt
from common import (
    TOPIC_PREFIX,
    Labels,
    arguments,
    free_port,
    import_catalog,
    load,
    ms,
    percentile,
    print_machine,
    scratch,
    service_for,
    table,
    write_three_level_catalog,
)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from edge import __version__
from edge.config import MqttConfig
from edge.domain.payloads import mark_replayed
from edge.domain.scanning import ScanInput
from edge.publish.recorder import RECORD_EVERY_S
from edge.publish.relay import OutboxRelay
from edge.publish.session import READ_AHEAD
from edge.publish.window import EventItem
from edge.runtime.clock import SystemClock
from edge.service import InventoryService, PendingScan
from edge.store import outbox, schema
from hardware.barcode import decode

ROUNDS = 2
PACES_S = (0.020, 0.100)  # scan intervals of the latency runs; the goal is judged at the first
GOAL_P99_S = 0.050
GOAL_DRAIN_RATIO = 0.8  # SPEC §9
COMMIT_GROUP = 50  # scans per transaction while filling the backlog
WAIT_CEILING_S = 600.0
MOSQUITTO = "/usr/sbin/mosquitto"


# --- the broker -------------------------------------------------------------------------


class Broker:
    """Our own mosquitto: loopback, a free port, no persistence, no logging."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 1000000",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it; the perf_counter time at which it was started."""
        with self.log.open("ab") as sink:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"mosquitto exited on start:\n{self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return started
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not accept connections") from None
                time.sleep(0.01)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)
        self.process = None


def wait_for(check: Callable[[], bool], what: str) -> None:
    # Polled tightly: the drain and latency runs end when the check first holds.
    common.wait_for(check, what, WAIT_CEILING_S, interval=0.002)


# --- the product: relay with probes -------------------------------------------------------
@dataclass
class Probe:
    """When the relay took in each event's PUBACK, and when it committed its row as sent."""

    acked: dict[int, float] = field(default_factory=dict)  # seq -> perf_counter
    recorded: dict[int, float] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)  # rows marked sent per record commit
    connected: list[float] = field(default_factory=list)  # CONNACKs (entry of _serve)
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: set[int] = field(default_factory=set)  # rows whose marking ends the wait
    all_recorded: threading.Event = field(default_factory=threading.Event)

    def expect(self, seqs: range) -> None:
        """Set :attr:`all_recorded` once every one of these rows is marked sent."""
        with self.lock:
            self.waiting = set(seqs) - self.recorded.keys()
            self.all_recorded.clear()


def install_record_probe(probe: Probe) -> None:
    """Wrap the outbox function the relay calls to mark rows sent (one commit per batch)."""
    original = outbox.record_answers

    def record_answers(engine: Any, *, published: Any, **rest: Any) -> None:
        original(engine, published=published, **rest)
        now = time.perf_counter()
        with probe.lock:
            for seq in published:
                probe.recorded.setdefault(seq, now)
            if published:
                probe.batches.append(len(published))
                probe.waiting.difference_update(published)
                if not probe.waiting:
                    probe.all_recorded.set()

    outbox.record_answers = record_answers  # type: ignore[assignment]


class RelayRunner:
    """An OutboxRelay as ``edge run`` wires it (edge.runtime.daemon.default_relay), in a thread."""

    def __init__(self, service: InventoryService, broker: Broker, probe: Probe) -> None:
        self.config = MqttConfig(host=broker.host, port=broker.port, reconnect_max_s=1)
        boot = service.transact(lambda _inventory, uow: uow.raise_boot())
        self.relay = OutboxRelay(
            service.engine,
            self.config,
            topic_prefix=TOPIC_PREFIX,
            client_id="bench-edge",
            site="bench",
            node="edge",
            boot=boot,
            version=__version__,
        )
        accept, serve = self.relay._accept, self.relay._serve

        def accept_probe(item: Any) -> None:
            if isinstance(item, EventItem):
                probe.acked.setdefault(item.seq, time.perf_counter())
            accept(item)

        def serve_probe(connection: Any, stop: threading.Event) -> None:
            probe.connected.append(time.perf_counter())
            serve(connection, stop)

        self.relay._accept = accept_probe  # type: ignore[method-assign]
        self.relay._serve = serve_probe  # type: ignore[method-assign]
        self.tid = 0
        self.started = threading.Event()

        def run(stop: threading.Event) -> None:
            self.tid = threading.get_native_id()
            self.started.set()
            self.relay.run(stop)

        self.stopping = threading.Event()
        self.thread = threading.Thread(target=run, args=(self.stopping,), name="relay")

    def start(self) -> RelayRunner:
        self.thread.start()
        self.started.wait()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)


def backlog_empty(service: InventoryService) -> bool:
    backlog = outbox.backlog(service.engine)
    return backlog.events == 0 and backlog.stock == 0


def pending(codes: list[bytes], clock: SystemClock) -> list[PendingScan]:
    return [
        PendingScan(ScanInput(scanner="bench", station="PACK-1", data=data, at=clock.moment()),
                    decode(data))
        for data in codes
    ]  # fmt: skip


@dataclass
class Latency:
    name: str
    samples: list[float] = field(default_factory=list)

    def row(self) -> list[object]:
        s = self.samples
        return [self.name, len(s), ms(percentile(s, 0.5)), ms(percentile(s, 0.99)), ms(max(s))]


@dataclass
class Pace:
    """The latency runs at one scan interval: product and bare paho, alternating."""

    interval: float
    commit: Latency = field(default_factory=lambda: Latency("product: scan -> commit returned"))
    after_commit: Latency = field(
        default_factory=lambda: Latency("product: commit -> PUBACK in relay")
    )
    puback: Latency = field(default_factory=lambda: Latency("product: scan -> PUBACK in relay"))
    sent: Latency = field(default_factory=lambda: Latency("product: scan -> row marked sent"))
    bare: Latency = field(default_factory=lambda: Latency("bare paho: publish -> PUBACK"))
    relay_cpu: float = 0.0  # relay thread CPU seconds over the product rounds

    def rows(self) -> list[list[object]]:
        return [lat.row() for lat in (self.commit, self.after_commit, self.puback, self.sent,
                                      self.bare)]  # fmt: skip


def thread_cpu(tid: int) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc."""
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def product_latency(
    service: InventoryService, runner: RelayRunner, probe: Probe, codes: list[bytes],
    result: Pace,
) -> None:  # fmt: skip
    clock = SystemClock()
    cpu = thread_cpu(runner.tid)
    first_seq = outbox.newest_seq(service.engine) + 1
    probe.expect(range(first_seq, first_seq + len(codes)))
    began: list[float] = []
    committed: list[float] = []
    start = time.perf_counter()
    for index, item in enumerate(pending(codes, clock)):
        due = start + index * result.interval
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        began.append(time.perf_counter())
        [outcome] = service.process_scans([item])
        committed.append(time.perf_counter())
        runner.relay.wake()  # the daemon's writer: on_committed=relay.wake
        if not outcome.good:
            raise SystemExit(f"scan {item.scan.data!r} was not accepted: {outcome}")
    seqs = range(first_seq, first_seq + len(codes))
    if outbox.newest_seq(service.engine) != seqs[-1]:
        raise SystemExit("expected exactly one event per scan")
    if not probe.all_recorded.wait(WAIT_CEILING_S):
        raise SystemExit("gave up waiting for every row to be marked sent")
    result.relay_cpu += thread_cpu(runner.tid) - cpu
    for seq, t0, t1 in zip(seqs, began, committed, strict=True):
        result.commit.samples.append(t1 - t0)
        result.puback.samples.append(probe.acked[seq] - t0)
        result.sent.samples.append(probe.recorded[seq] - t0)
        result.after_commit.samples.append(probe.acked[seq] - t1)


# --- bare paho, the physical limit ----------------------------------------------------------
class Bare:
    """A bare paho 2.x client: MQTT 5, QoS 1, the relay's payload properties and window."""

    def __init__(self, broker: Broker, window: int) -> None:
        self.acked: dict[int, float] = {}
        self.done = threading.Event()
        self.expected = 0
        self.refused = 0
        self.connected = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5
        )
        client.max_inflight_messages_set(window)
        client.max_queued_messages_set(0)
        client.on_connect = lambda *_args: self.connected.set()
        client.on_publish = self._on_publish
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.PayloadFormatIndicator = 1
        properties.ContentType = "application/json"
        self.properties = properties
        client.connect(broker.host, broker.port, 30, clean_start=True)
        client.loop_start()
        if not self.connected.wait(15):
            raise SystemExit("bare paho: no CONNACK")
        self.client = client

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.refused += 1
        self.acked[mid] = time.perf_counter()
        if len(self.acked) >= self.expected:
            self.done.set()

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1, properties=self.properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise SystemExit(f"bare paho: publish failed: {mqtt.error_string(info.rc)}")
        return info.mid

    def latency(self, topic: str, payload: bytes, count: int, interval: float,
                result: Latency) -> None:  # fmt: skip
        """One publish -> PUBACK round trip every ``interval`` seconds."""
        start = time.perf_counter()
        for index in range(count):
            due = start + index * interval
            while (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            self.acked.clear()
            self.done.clear()
            self.expected = 1
            began = time.perf_counter()
            mid = self.publish(topic, payload)
            if not self.done.wait(10):
                raise SystemExit("bare paho: no PUBACK within 10 s")
            result.samples.append(self.acked[mid] - began)

    def throughput(self, messages: list[tuple[str, bytes]]) -> float:
        """All messages through paho's in-flight window; seconds to the last PUBACK."""
        self.acked.clear()
        self.done.clear()
        self.expected = len(messages)
        start = time.perf_counter()
        for topic, payload in messages:
            self.publish(topic, payload)
        if not self.done.wait(WAIT_CEILING_S):
            raise SystemExit("bare paho: PUBACKs missing")
        return max(self.acked.values()) - start

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# --- the runs ---------------------------------------------------------------------------------
@dataclass
class Drain:
    events: int
    fill_seconds: float
    from_broker: float  # broker start -> last row marked sent
    from_connack: float  # relay CONNACK -> last row marked sent
    record_commits: int
    payload_bytes: float
    relay_cpu: float  # relay thread CPU seconds, broker start -> last row marked sent
    process_cpu: float  # the whole process (the relay, which runs paho's loop, and its recorder)
    bare_seconds: list[float]
    bare_cpu: list[float]  # the whole process (paho's thread, publish calls)

    @property
    def rate(self) -> float:
        return self.events / self.from_connack

    @property
    def bare_rate(self) -> float:
        return self.events / min(self.bare_seconds)


def fill_backlog(service: InventoryService, runner: RelayRunner, labels: Labels, n: int) -> float:
    clock = SystemClock()
    start = time.perf_counter()
    done = 0
    while done < n:
        size = min(COMMIT_GROUP, n - done)
        outcomes = service.process_scans(pending(labels.take(size), clock))
        runner.relay.wake()
        if not all(outcome.good for outcome in outcomes):
            raise SystemExit("a backlog scan was not accepted")
        done += size
    return time.perf_counter() - start


def event_messages(service: InventoryService, seqs: range) -> list[tuple[str, bytes]]:
    """Topic and exact payload bytes of these rows, as the relay sent them from a backlog."""
    statement = (
        select(schema.outbox.c.topic, schema.outbox.c.payload)
        .where(schema.outbox.c.seq >= seqs.start, schema.outbox.c.seq < seqs.stop)
        .order_by(schema.outbox.c.seq)
    )
    with service.engine.connect() as connection:
        rows = list(connection.execute(statement))
    return [(row.topic, mark_replayed(row.payload).encode()) for row in rows]


@dataclass
class Results:
    paces: list[Pace]
    payload_bytes: int
    drain: Drain
    window: int


@dataclass
class Rig:
    """The product's service and relay, the probe on the relay, and the broker."""

    service: InventoryService
    runner: RelayRunner
    probe: Probe
    broker: Broker
    labels: Labels


def latency_runs(rig: Rig, bare: Bare, scans: int) -> tuple[list[Pace], int]:
    service, runner, probe, labels = rig.service, rig.runner, rig.probe, rig.labels
    warm_seq = outbox.newest_seq(service.engine)
    product_latency(service, runner, probe, labels.take(20), Pace(PACES_S[0]))  # warm-up
    [(topic, payload)] = event_messages(service, range(warm_seq + 1, warm_seq + 2))
    payload = payload.replace(b',"replayed":true', b"")  # a live event, not a backlog one
    paces = []
    for number, interval in enumerate(PACES_S):
        pace = Pace(interval)
        count = scans if number == 0 else max(ROUNDS, scans // 4)  # slower paces: fewer
        per_round = max(1, count // ROUNDS)
        for _ in range(ROUNDS):
            product_latency(service, runner, probe, labels.take(per_round), pace)
            bare.latency(topic, payload, per_round, interval, pace.bare)
        wait_for(lambda: backlog_empty(service), "the relay to publish every stock state")
        paces.append(pace)
    return paces, len(payload)


def drain_run(rig: Rig, events: int) -> Drain:
    service, runner, probe, broker, labels = (rig.service, rig.runner, rig.probe, rig.broker,
                                              rig.labels)  # fmt: skip
    broker.stop()
    wait_for(lambda: not runner.relay.state().connected, "the relay to see the outage")
    first = outbox.newest_seq(service.engine) + 1
    fill_seconds = fill_backlog(service, runner, labels, events)
    seqs = range(first, first + events)
    messages = event_messages(service, seqs)
    connacks = len(probe.connected)
    batches_before = len(probe.batches)
    probe.expect(seqs)
    cpu, process_cpu = thread_cpu(runner.tid), time.process_time()
    started = broker.start()  # then this thread sleeps on an Event until the last row
    if not probe.all_recorded.wait(WAIT_CEILING_S):
        raise SystemExit("gave up waiting for the backlog to drain")
    relay_cpu, process_cpu = thread_cpu(runner.tid) - cpu, time.process_time() - process_cpu
    last = max(probe.recorded[seq] for seq in seqs)
    connack = probe.connected[connacks]
    wait_for(lambda: backlog_empty(service), "the relay to publish every stock state")
    bare_seconds = []
    bare_cpu = []
    for _ in range(ROUNDS):
        bare = Bare(broker, runner.config.max_inflight)
        try:
            cpu = time.process_time()
            bare_seconds.append(bare.throughput(messages))
            bare_cpu.append(time.process_time() - cpu)
        finally:
            bare.close()
    return Drain(
        events,
        fill_seconds,
        last - started,
        last - connack,
        len(probe.batches) - batches_before,
        sum(len(p) for _, p in messages) / len(messages),
        relay_cpu,
        process_cpu,
        bare_seconds,
        bare_cpu,
    )


def measure(directory: Path, scans: int, events: int) -> Results:
    catalog = write_three_level_catalog(directory)
    service = service_for(directory / "product.db")
    import_catalog(service, catalog)
    labels = Labels()
    service.process_scans(pending(labels.take(50), SystemClock()))  # warm-up: catalog cache
    probe = Probe()
    install_record_probe(probe)
    broker = Broker(directory / "broker")
    broker.start()
    runner = RelayRunner(service, broker, probe).start()
    rig = Rig(service, runner, probe, broker, labels)
    try:
        wait_for(lambda: bool(probe.connected) and backlog_empty(service), "the relay to settle")
        bare = Bare(broker, runner.config.max_inflight)
        try:
            paces, payload_bytes = latency_runs(rig, bare, scans)
        finally:
            bare.close()
        drain = drain_run(rig, events)
    finally:
        runner.stop()
        broker.stop()
        service.engine.dispose()
    return Results(paces, payload_bytes, drain, runner.config.max_inflight)


# --- report -------------------------------------------------------------------------------------
def report(results: Results) -> None:
    drain, window = results.drain, results.window
    print(f"relay: in-flight window {window} (mqtt.max_inflight; MQTT 5, QoS 1); outbox read "
          f"{READ_AHEAD} rows per query; PUBACKs recorded as sent in one commit "
          f"per batch, at most {RECORD_EVERY_S * 1000:.0f} ms old, written by "
          "a recorder thread while the relay publishes")  # fmt: skip
    print("catalog: 3-level BOM, 50 stock components (bench/common.py "
          "write_three_level_catalog); per scan 1 backflush event (50 lines) and 50 changed "
          "stock states (retained) share the window; bare paho sends the event alone")  # fmt: skip
    print()
    for pace in results.paces:
        print(f"Latency, one scan every {pace.interval * 1000:.0f} ms, {ROUNDS} alternating "
              f"rounds; event payload {results.payload_bytes} bytes; relay thread CPU "
              f"{pace.relay_cpu / len(pace.commit.samples) * 1000:.1f} ms per scan")  # fmt: skip
        table(["run", "samples", "p50 ms", "p99 ms", "max ms"], pace.rows())
    print(f"Drain after an outage: {drain.events} events committed with no broker "
          f"({drain.fill_seconds:.1f} s, {COMMIT_GROUP} scans/commit), then the broker "
          f"started; payload {drain.payload_bytes:.0f} bytes (replayed)")  # fmt: skip
    rows: list[list[object]] = [
        ["product relay, CONNACK -> last row marked sent", drain.events,
         f"{drain.from_connack:.2f}", f"{drain.rate:.0f}"],
        ["product relay, broker start -> last row marked sent", drain.events,
         f"{drain.from_broker:.2f}", f"{drain.events / drain.from_broker:.0f}"],
    ]  # fmt: skip
    rows[0].append(f"{drain.process_cpu / drain.events * 1e6:.0f}")
    rows[1].append("")
    rows += [
        [f"bare paho, window {window}, round {i + 1}", drain.events, f"{s:.2f}",
         f"{drain.events / s:.0f}", f"{cpu / drain.events * 1e6:.0f}"]
        for i, (s, cpu) in enumerate(zip(drain.bare_seconds, drain.bare_cpu, strict=True))
    ]  # fmt: skip
    table(["run", "events", "seconds", "events/s", "process CPU us/event"], rows)
    print(f"relay during the drain: {drain.record_commits} commits marking rows sent "
          f"({drain.events / max(1, drain.record_commits):.0f} rows each), relay thread CPU "
          f"{drain.relay_cpu / drain.events * 1e6:.0f} us per event")  # fmt: skip
    print(f"load        {load()} at end")
    print()
    goal = results.paces[0]
    print(f"Ratios against bare paho on the same broker in the same run "
          f"(latency at one scan every {goal.interval * 1000:.0f} ms):")  # fmt: skip
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ours = percentile(goal.puback.samples, fraction)
        limit = percentile(goal.bare.samples, fraction)
        print(f"  {label} scan -> PUBACK vs publish -> PUBACK     {ours / limit:6.1f} x  "
              f"({ms(ours)} vs {ms(limit)} ms)")  # fmt: skip
    ratio = drain.rate / drain.bare_rate
    verdict = "pass" if ratio >= GOAL_DRAIN_RATIO else "MISS"
    print(f"  drain events/s (goal >= {GOAL_DRAIN_RATIO})               {ratio:6.2f}  {verdict} "
          f"({drain.rate:.0f} vs {drain.bare_rate:.0f} events/s, best bare round)")  # fmt: skip
    print(f"Latency p99 scan -> PUBACK in relay (goal < {GOAL_P99_S * 1000:.0f} ms):")
    for pace in results.paces:
        p99 = percentile(pace.puback.samples, 0.99)
        verdict = "pass" if p99 < GOAL_P99_S else "MISS"
        print(f"  one scan every {pace.interval * 1000:>3.0f} ms  {ms(p99):>8} ms  {verdict}")


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [
            ("--events", {"type": int, "default": 10_000, "help": "backlog events to drain"}),
            ("--scans", {"type": int, "default": 1000, "help": "paced scans for latency"}),
        ],
    )
    # The relay logs the outage we cause (lost connection, refused reconnects); keep the
    # output to the measurements.
    logging.basicConfig(level=logging.ERROR)
    if not Path(MOSQUITTO).exists():
        raise SystemExit(f"{MOSQUITTO} is missing (apt-get install mosquitto)")
    with scratch(args) as directory:
        print_machine("event path: outbox relay vs bare paho QoS 1, local mosquitto", directory)
        report(measure(directory, args.scans, args.events))


if __name__ == "__main__":
    main()
