"""The batch pipeline shared by the worker and the rebuild: outages are waited out, never dead-lettered.

The records are real Confluent-framed Avro made with the session registry;
the registry and the database go down for real (a registry that is not
running yet, a database folder that is not there yet).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.agreements import Crossing
from hub.dlq import DeadLetterProducer
from hub.registry import launcher as registry_service
from hub.registry.client import RegistryClient
from hub.retry import Backoff
from hub.settings import HubSettings
from hub.sql import make_engine
from projections import migrations, store
from projections.pipeline import Consumed, Decoder, Pipeline, Stopping
from projections.tables import READ_MODELS
from tests.conftest import free_port
from tests.shared_events import crossing
from tests.shared_stream import SharedProducer, new_zone, reference_dump, worker_context

pytestmark = pytest.mark.kafka
P = READ_MODELS
FAST = Backoff(first_s=0.1, max_s=0.5)


@pytest.fixture
def batch(topics: HubSettings, registry: str) -> tuple[list[Consumed], str, list[Crossing]]:
    """Three framed shared records (never sent to Kafka: the pipeline takes bytes and coordinates)."""
    zone = new_zone()
    events = [crossing("CaseOpened", case_id="PIPE-1"), crossing("VisitMade", case_id="PIPE-1", visit_id="PIPE-V")]
    with SharedProducer(topics, registry) as producer:
        encoded = [producer.encode(zone, c) for c in events]
    consumed = [Consumed(topic, 0, i, 1_770_000_000_000, b"k", value) for i, (topic, value) in enumerate(encoded)]
    return consumed, zone, events


@pytest.fixture
def dlq(topics: HubSettings) -> Iterator[DeadLetterProducer]:
    producer = DeadLetterProducer(topics, client_id="test-pipeline-dlq")
    yield producer
    producer.close()


def test_a_database_that_is_down_is_waited_for_and_the_batch_then_lands_once(
    topics: HubSettings, registry: str, tmp_path: Path, batch: tuple[list[Consumed], str, list[Crossing]],
    dlq: DeadLetterProducer,
) -> None:  # fmt: skip
    consumed, zone, events = batch
    folder = tmp_path / "volume"
    url = f"sqlite:///{folder}/hub.db"
    engine = make_engine(url)  # creates the folder; remove it: the database is not reachable
    shutil.rmtree(folder)
    timer = threading.Timer(1.0, lambda: (folder.mkdir(), migrations.upgrade(url)))
    timer.start()
    with RegistryClient(registry) as client:
        pipeline = Pipeline(engine, P, Decoder(client, worker_context(topics)), dlq, consumer="test", backoff=FAST)
        try:
            outcome = pipeline.process(consumed)
        finally:
            timer.join()
    assert outcome.retries > 0 and not outcome.dead
    assert (outcome.summary.applied, outcome.summary.skipped) == (2, 0)
    reference = reference_dump(f"sqlite:///{tmp_path}/reference.db", zone, events, worker_context(topics))
    assert store.dump(engine) == reference
    assert store.stored_offsets(engine, P) == {(consumed[0].topic, 0): 1, (consumed[1].topic, 0): 2}
    engine.dispose()


def test_a_registry_that_is_down_is_waited_for(
    topics: HubSettings, tmp_path: Path, batch: tuple[list[Consumed], str, list[Crossing]], dlq: DeadLetterProducer
) -> None:
    consumed, _zone, _events = batch
    url = f"sqlite:///{tmp_path}/hub.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    port = free_port()
    later = topics.model_copy(update={"data_dir": tmp_path / "late-registry"})
    timer = threading.Timer(1.0, lambda: registry_service.start(later, port=port, timeout_s=120))
    timer.start()
    try:
        with RegistryClient(f"http://127.0.0.1:{port}", timeout_s=2.0) as client:
            pipeline = Pipeline(engine, P, Decoder(client, worker_context(topics)), dlq, consumer="test", backoff=FAST)
            outcome = pipeline.process(consumed)
    finally:
        timer.join()
        registry_service.stop(later)
        engine.dispose()
    assert outcome.retries > 0 and not outcome.dead
    assert outcome.summary.applied == 2


def test_asked_to_stop_during_an_outage_it_stops_without_applying_anything(
    topics: HubSettings, registry: str, tmp_path: Path, batch: tuple[list[Consumed], str, list[Crossing]],
    dlq: DeadLetterProducer,
) -> None:  # fmt: skip
    consumed, _zone, _events = batch
    folder = tmp_path / "volume"
    url = f"sqlite:///{folder}/hub.db"
    engine = make_engine(url)
    shutil.rmtree(folder)
    stopping = threading.Event()
    threading.Timer(0.5, stopping.set).start()
    with RegistryClient(registry) as client:
        pipeline = Pipeline(
            engine, P, Decoder(client, worker_context(topics)), dlq, consumer="test", backoff=FAST, stopping=stopping
        )
        with pytest.raises(Stopping, match="applying a batch"):
            pipeline.process(consumed)
    folder.mkdir()
    migrations.upgrade(url)
    assert store.stored_offsets(engine, P) == {}
    engine.dispose()
