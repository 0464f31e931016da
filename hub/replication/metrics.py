"""Prometheus metrics of a flow, served on ``/metrics`` by the replicator itself (``--metrics-port``).

Read on each scrape from the flow's :class:`~hub.replication.progress.Progress`
(what the status file shows), so they never disagree with it:

- ``hub_replication_records_total{flow}``, ``hub_replication_transactions_total{flow}``,
  ``hub_replication_restarts_total{flow}``: what this process committed, and
  how many times it rebuilt its clients after an outage;
- ``hub_replication_records_per_second{flow}``: throughput over the last 30 s;
- ``hub_replication_lag_records{flow,topic,partition}``: source end offset
  minus the flow's position, as last measured (every second while it runs);
- ``hub_replication_up{flow}``: 1 while the flow copies or is caught up, 0
  while it waits out an outage or starts.

Served by :func:`hub.metrics_server.serve`, as the projection worker's, on a
registry of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from hub import metrics_server
from hub.metrics_server import MetricsServer
from hub.replication.progress import Progress


class FlowCollector:
    """Yields the flow's metrics from its progress on every scrape."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def collect(self) -> Iterable[Metric]:
        p = self.progress
        labels = ["flow"]
        for name, doc, value in (
            ("hub_replication_records", "Records copied and committed on the target.", p.records),
            ("hub_replication_transactions", "Transactions committed on the target.", p.transactions),
            ("hub_replication_restarts", "Sessions rebuilt after an outage.", p.restarts),
        ):
            counter = CounterMetricFamily(name, doc, labels=labels)
            counter.add_metric([p.flow], float(value))
            yield counter
        rate = GaugeMetricFamily(
            "hub_replication_records_per_second", "Records committed per second over the last 30 s.", labels=labels
        )
        rate.add_metric([p.flow], p.throughput(time.monotonic()))
        yield rate
        up = GaugeMetricFamily("hub_replication_up", "1 while the flow copies or is caught up.", labels=labels)
        up.add_metric([p.flow], 1.0 if p.state in ("copying", "caught up") else 0.0)
        yield up
        lag = GaugeMetricFamily(
            "hub_replication_lag_records",
            "Source end offset minus the flow's position.",
            labels=["flow", "topic", "partition"],
        )
        for part in list(p.partitions.values()):
            lag.add_metric([p.flow, part.topic, str(part.partition)], float(part.lag))
        yield lag


def serve(progress: Progress, *, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve the flow's metrics on ``http://host:port/metrics`` (port 0: any free port)."""
    registry = CollectorRegistry()
    registry.register(FlowCollector(progress))  # type: ignore[arg-type]
    return metrics_server.serve(registry, host=host, port=port)


__all__ = ["FlowCollector", "MetricsServer", "serve"]
