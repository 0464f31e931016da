"""Compatibility re-exports: the Kafka reader, the dead-letter producer and ``shared_topics`` moved to the core.

Use :mod:`hub.kafka_reader`, :mod:`hub.dlq` and :mod:`hub.kafka_admin`; this
module goes once nothing imports it.
"""

from __future__ import annotations

from hub.dlq import DeadLetterProducer
from hub.kafka_admin import shared_topics
from hub.kafka_reader import KafkaReader, TopicPartitionKey

__all__ = ["DeadLetterProducer", "KafkaReader", "TopicPartitionKey", "shared_topics"]
