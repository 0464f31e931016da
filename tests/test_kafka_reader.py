"""The group-less reader on topics written in Kafka transactions (real secured broker, admin).

A committed transaction ends with a marker that takes an offset and is never delivered; an aborted one
leaves records that a read_committed reader never sees. What "caught up" means must skip both. And an
open transaction must not hide what another producer committed after it began: a read to the last
stable offset stops short there (a replicator resuming from it would copy twice).
"""

from __future__ import annotations

import threading
import uuid

from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_producer
from hub.kafka_reader import KafkaReader, data_ends, read_ranges, read_topic, written_ends
from hub.settings import HubSettings
from hub.topology import TopicSpec


def _written(kafka: HubSettings, committed: list[bytes], aborted: list[bytes]) -> tuple[str, int | None]:
    """A new topic of one partition: ``committed`` in a committed transaction, then ``aborted`` in an aborted
    one; returns the topic and the offset of the last committed record (None if none)."""
    topic = f"test.reader.{uuid.uuid4().hex[:8]}"
    apply_topics(kafka, [TopicSpec(topic, 1, 1)])
    producer = new_producer(kafka, client_id="test-reader", transactional_id=f"test-reader-{uuid.uuid4().hex[:8]}")
    last = None
    try:
        producer.init_transactions()
        if committed:
            producer.begin_transaction()
            sent = [producer.send(topic, value=v) for v in committed]
            producer.commit_transaction()
            last = sent[-1].get(timeout=30).offset
        producer.begin_transaction()
        for value in aborted:
            producer.send(topic, value=value)
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close(timeout=10)
    return topic, last


def _transactional_topic(kafka: HubSettings) -> tuple[str, int]:
    """3 committed records, then 2 aborted; returns (topic, last committed offset)."""
    topic, last = _written(kafka, [b"kept-0", b"kept-1", b"kept-2"], [b"aborted-0", b"aborted-1"])
    assert last is not None
    return topic, last


def test_the_data_end_of_a_transactional_partition_is_past_its_last_committed_record_not_its_end(
    kafka: HubSettings,
) -> None:
    topic, last = _transactional_topic(kafka)
    with KafkaReader(kafka, client_id="test-reader", read_committed=True) as reader:
        end = reader.end_offsets([(topic, 0)])[(topic, 0)]
    assert end > last + 1  # markers and aborted records follow the last committed record
    assert data_ends(kafka, [(topic, 0)], client_id="test-reader", window=2) == {(topic, 0): last + 1}


def test_read_ranges_returns_only_committed_records_and_ends_past_the_markers(kafka: HubSettings) -> None:
    topic, _last = _transactional_topic(kafka)
    with KafkaReader(kafka, client_id="test-reader", read_committed=True) as reader:
        end = reader.end_offsets([(topic, 0)])[(topic, 0)]
    values = [r.value for r in read_ranges(kafka, {(topic, 0): (0, end)}, client_id="test-reader")]
    assert values == [b"kept-0", b"kept-1", b"kept-2"]


def test_a_partition_without_committed_records_has_no_data_end(kafka: HubSettings) -> None:
    topic, _none = _written(kafka, [], [b"aborted"])
    assert data_ends(kafka, [(topic, 0)], client_id="test-reader", window=1) == {}


def test_an_open_transaction_does_not_hide_a_record_committed_after_it(kafka: HubSettings) -> None:
    topic = f"test.reader.{uuid.uuid4().hex[:8]}"
    apply_topics(kafka, [TopicSpec(topic, 1, 1)])
    tp = (topic, 0)
    zombie = new_producer(kafka, client_id="test-reader", transactional_id=f"test-zombie-{uuid.uuid4().hex[:8]}")
    writer = new_producer(kafka, client_id="test-reader", transactional_id=f"test-writer-{uuid.uuid4().hex[:8]}")
    try:
        zombie.init_transactions()
        zombie.begin_transaction()
        zombie.send(topic, value=b"undecided")
        zombie.flush()
        writer.init_transactions()
        writer.begin_transaction()
        writer.send(topic, value=b"committed-after")
        writer.commit_transaction()
        with KafkaReader(kafka, client_id="test-reader", read_committed=True) as reader:
            stable = reader.end_offsets([tp])[tp]
        assert stable == 0  # pinned below the committed record by the open transaction
        assert written_ends(kafka, [tp], client_id="test-reader")[tp] == 3  # undecided, committed, marker

        decided = threading.Timer(2.0, zombie.abort_transaction)
        decided.start()
        try:
            values = [r.value for r in read_topic(kafka, topic, client_id="test-reader", timeout_s=60)]
        finally:
            decided.join()
        assert values == [b"committed-after"]  # it waited for the decision, neither stopped short nor read past
    finally:
        zombie.close(timeout=10)
        writer.close(timeout=10)


def test_a_read_for_diagnostics_also_returns_what_was_aborted(kafka: HubSettings) -> None:
    topic, _last = _written(kafka, [b"kept"], [b"thrown-away"])
    committed = [r.value for r in read_topic(kafka, topic, client_id="test-reader")]
    everything = [r.value for r in read_topic(kafka, topic, client_id="test-reader", read_committed=False)]
    assert committed == [b"kept"]
    assert everything == [b"kept", b"thrown-away"]
