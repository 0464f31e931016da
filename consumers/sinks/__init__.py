"""Where a partner subscriber keeps its copy of the shared events: a SQL database or JSON Lines files.

Every sink implements one interface (:class:`Sink`, in :mod:`consumers.sinks.base`) with one
guarantee: a write stores the events of a batch AND the offsets they reach in one atomic step,
skips what an earlier step stored, and ignores an ``event_id`` it already holds.

- :mod:`consumers.sinks.base`: the interface, :class:`SinkRecord`, :class:`WriteResult`,
  the errors and :func:`open_sink` (the sink of a ``--sink`` URL);
- :mod:`consumers.sinks.sql`: :class:`SqlSink`, on the tracking writer of :mod:`hub.tracking`;
- :mod:`consumers.sinks.jsonl`: :class:`JsonlSink`, atomic segment files plus an offsets file;
- :mod:`consumers.sinks.avro_types`: how a decoded Avro value becomes a SQL column or JSON.

Refused records are :class:`hub.tracking.RecordsRejected` (re-exported here), the same class the
projection store raises.
"""

from __future__ import annotations

from consumers.sinks.avro_types import (
    COORDINATE_COLUMNS,
    ExactDecimal,
    column_type,
    event_table,
    json_value,
    table_name,
)
from consumers.sinks.base import (
    SINK_FAILURES,
    Sink,
    SinkError,
    SinkRecord,
    SinkUnavailable,
    TopicPartition,
    WriteResult,
    open_sink,
)
from consumers.sinks.jsonl import (
    FORMAT_VERSION,
    LOCK_FILE,
    OFFSETS_FILE,
    JsonlSink,
    Segment,
    parse_segment,
    read_jsonl,
    segment_name,
)
from consumers.sinks.sql import OFFSETS_TABLE, SUBSCRIBER_OFFSETS, SqlSink, offsets_table, sql_engine
from hub.tracking import RecordsRejected, Rejected

__all__ = [
    "COORDINATE_COLUMNS",
    "FORMAT_VERSION",
    "LOCK_FILE",
    "OFFSETS_FILE",
    "OFFSETS_TABLE",
    "SINK_FAILURES",
    "SUBSCRIBER_OFFSETS",
    "ExactDecimal",
    "JsonlSink",
    "RecordsRejected",
    "Rejected",
    "Segment",
    "Sink",
    "SinkError",
    "SinkRecord",
    "SinkUnavailable",
    "SqlSink",
    "TopicPartition",
    "WriteResult",
    "column_type",
    "event_table",
    "json_value",
    "offsets_table",
    "open_sink",
    "parse_segment",
    "read_jsonl",
    "segment_name",
    "sql_engine",
    "table_name",
]
