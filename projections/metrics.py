"""Prometheus metrics of a projection worker, served on ``/metrics`` by the worker itself.

- ``hub_projection_offsets_behind{projection,topic,partition}`` and
  ``hub_projection_seconds_behind{projection,topic,partition}``: the lag
  (:mod:`projections.lag`), measured when scraped (at most every
  ``min_interval_s``; from Kafka and the database, so they are true even
  when the worker is stuck);
- ``hub_projection_lag_measured{projection}``: 1 if the last measurement
  worked, 0 if Kafka or the database could not be read (then no lag samples);
- counters of what this worker process did: ``hub_projection_records_total``
  (consumed), ``hub_projection_records_applied_total``,
  ``hub_projection_records_skipped_total`` (already applied),
  ``hub_projection_records_dead_lettered_total{stage}``,
  ``hub_projection_batches_total``, ``hub_projection_outage_retries_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from projections.lag import LagSampler, ProjectionLag

log = logging.getLogger("hub.projections")


class ProjectionMetrics:
    """The counters of one worker, in their own registry (plus the lag collector once attached)."""

    def __init__(self, projection: str, registry: CollectorRegistry | None = None) -> None:
        self.projection = projection
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ["projection"]
        self.records = Counter("hub_projection_records", "Records consumed.", labels, registry=self.registry)
        self.applied = Counter(
            "hub_projection_records_applied",
            "Records applied (rows and offsets committed), dead-lettered ones included.",
            labels,
            registry=self.registry,
        )
        self.skipped = Counter(
            "hub_projection_records_skipped",
            "Records below the stored offsets (applied before).",
            labels,
            registry=self.registry,
        )
        self.dead = Counter(
            "hub_projection_records_dead_lettered",
            "Records sent to hub.dlq, per stage.",
            [*labels, "stage"],
            registry=self.registry,
        )
        self.batches = Counter("hub_projection_batches", "Batches committed.", labels, registry=self.registry)
        self.retries = Counter(
            "hub_projection_outage_retries",
            "Registry, broker or database outages waited out.",
            labels,
            registry=self.registry,
        )

    def observe(self, *, records: int, applied: int, skipped: int, dead: Mapping[str, int], retries: int) -> None:
        """Count one committed batch."""
        p = self.projection
        self.records.labels(p).inc(records)
        self.applied.labels(p).inc(applied)
        self.skipped.labels(p).inc(skipped)
        for stage, n in dead.items():
            self.dead.labels(p, stage).inc(n)
        self.batches.labels(p).inc()
        self.retries.labels(p).inc(retries)


class LagCollector:
    """Yields the lag gauges on each scrape, measuring at most every ``min_interval_s``."""

    def __init__(self, projection: str, measure: Callable[[], ProjectionLag], *, min_interval_s: float = 2.0) -> None:
        self.projection = projection
        self._sampler = LagSampler(measure, min_interval_s=min_interval_s)

    def collect(self) -> Iterable[Metric]:
        lag = self._sampler.current()
        measured = GaugeMetricFamily(
            "hub_projection_lag_measured",
            "1 if the lag could be measured (Kafka and the database answered), else 0.",
            labels=["projection"],
        )
        measured.add_metric([self.projection], 0.0 if lag is None else 1.0)
        yield measured
        if lag is None:
            return
        offsets = GaugeMetricFamily(
            "hub_projection_offsets_behind",
            "End offset of the partition minus the next offset the projection stored.",
            labels=["projection", "topic", "partition"],
        )
        seconds = GaugeMetricFamily(
            "hub_projection_seconds_behind",
            "Now minus the timestamp of the oldest record not applied yet (0 when caught up).",
            labels=["projection", "topic", "partition"],
        )
        for p in lag.partitions:
            labels = [lag.projection, p.topic, str(p.partition)]
            offsets.add_metric(labels, float(p.offsets_behind))
            seconds.add_metric(labels, p.seconds_behind)
        yield offsets
        yield seconds


__all__ = ["LagCollector", "ProjectionMetrics"]
