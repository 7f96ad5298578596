"""``/metrics``: a Prometheus collector that reads the daemon's live state at scrape time.

Its own :class:`CollectorRegistry`, never the library's global one (nothing is
registered at import; two daemons in one test process do not collide). No
metric object is updated on the scan path: the scan counters are the journal's
own counts (:class:`~edge.observe.journal.JournalReader`), so they start from
the journal after a restart and always equal ``SELECT count(*) FROM scans``
for their labels; the histograms are the writer's timings (:mod:`edge.observe.signal`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from edge.observe.journal import JournalReader
from edge.observe.live import LiveSource
from edge.observe.signal import Histogram, ScanTimings


class EdgeCollector(Collector):
    def __init__(self, live: LiveSource, journal: JournalReader, timings: ScanTimings) -> None:
        self.live = live
        self.journal = journal
        self.timings = timings

    def collect(self) -> Iterator[Metric]:
        self.journal.refresh()
        counts, last_at = self.journal.tally()
        scans = CounterMetricFamily(
            "edge_scans", "Journaled scans by station, status and reason (the journal's count)",
            labels=("station", "status", "reason"),
        )  # fmt: skip
        for (station, status, reason), count in sorted(counts.items()):
            scans.add_metric((station, status, reason), count)
        yield scans
        latency, batch, _ = self.timings.copy()
        yield _histogram("edge_commit_latency_seconds",
                         "Time from a scan's read to its commit", latency)  # fmt: skip
        yield _histogram("edge_commit_batch_scans", "Scans per committed batch", batch)
        live = self.live()
        yield GaugeMetricFamily("edge_scan_queue_depth", "Reads waiting for the writer",
                                value=live.queue)  # fmt: skip
        outbox = self.journal.outbox()
        yield GaugeMetricFamily("edge_outbox_backlog", "Events not yet acknowledged by the broker",
                                value=outbox.events_pending)  # fmt: skip
        yield GaugeMetricFamily("edge_outbox_set_aside",
                                "Pending events the broker refused, retried with back-off",
                                value=outbox.set_aside)  # fmt: skip
        yield GaugeMetricFamily("edge_stock_backlog", "Stock states not yet acknowledged",
                                value=outbox.stock_pending)  # fmt: skip
        relay = GaugeMetricFamily("edge_relay_connected",
                                  "1 while the relay is connected to the broker")  # fmt: skip
        relay.add_metric((), 1 if live.broker is not None and live.broker.connected else 0)
        yield relay
        scanners = GaugeMetricFamily("edge_scanner_connected", "1 while the scanner is connected",
                                     labels=("station", "scanner"))  # fmt: skip
        for scanner in live.scanners:
            scanners.add_metric((scanner.station, scanner.id), 1 if scanner.connected else 0)
        yield scanners
        last = GaugeMetricFamily("edge_last_scan_timestamp_seconds",
                                 "Unix time of the station's newest journaled scan",
                                 labels=("station",))  # fmt: skip
        for station, at in sorted(last_at.items()):
            last.add_metric((station,), datetime.fromisoformat(at).timestamp())
        yield last
        storage = GaugeMetricFamily("edge_database_writable",
                                    "1 while the writer can commit to the database")  # fmt: skip
        storage.add_metric((), 1 if live.writer.storage_ok else 0)
        yield storage
        yield GaugeMetricFamily("edge_scans_held", "Scans held in memory, not yet journaled",
                                value=live.writer.unstored)  # fmt: skip


def _histogram(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric((), histogram.cumulative(), histogram.total)
    return family


class Metrics:
    """The registry ``/metrics`` renders."""

    def __init__(self, collector: EdgeCollector) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(collector)

    def text(self) -> bytes:
        return generate_latest(self.registry)
