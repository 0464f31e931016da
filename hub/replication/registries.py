"""Schema ids translated between the source and the target registry (the adapter over both clients).

For each copied value: the writer schema of its source id is fetched from the
source registry, registered in the target registry under the target subject,
and the value's id rewritten (:mod:`hub.replication.schema_ids` decides,
:class:`~hub.registry.client.RegistryClient` talks). Guarantees:

- a target consumer decodes every copy with the target registry alone;
- each (subject, source id) costs two registry calls once per process, then
  nothing (the mapping is cached; ids are immutable);
- a registry that cannot be reached or fails (HTTP 5xx) is an outage
  (:class:`~hub.errors.SchemaRegistryError`, which the one retry policy waits
  out); a schema the source registry does not hold, or one the target
  registry refuses (incompatible, invalid), is a
  :class:`~hub.errors.ReplicationError` naming the record and the subject,
  which stops the flow.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.errors import ReplicationError, SchemaRegistryError
from hub.registry.client import RegistryClient
from hub.replication.batch import Copy, SourceRecord
from hub.replication.flow import FlowSpec
from hub.replication.schema_ids import RecordRef, SchemaIdMap, framed, rewrite


def _is_outage(exc: SchemaRegistryError) -> bool:
    return exc.status is None or exc.status >= 500 or exc.status in (408, 429)


class SchemaTranslator:
    """Rewrites the schema ids of one flow's copies (use as a context manager or :meth:`close`)."""

    def __init__(self, flow: FlowSpec, source_url: str, target_url: str, *, timeout_s: float = 10.0) -> None:
        self.flow = flow
        self.source = RegistryClient(source_url, timeout_s)
        self.target = RegistryClient(target_url, timeout_s)
        self.ids = SchemaIdMap()

    def close(self) -> None:
        self.source.close()
        self.target.close()

    def __enter__(self) -> SchemaTranslator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def target_id(self, topic: str, schema_id: int, where: RecordRef) -> int:
        subject = self.flow.target_subject(topic)
        known = self.ids.get(subject, schema_id)
        if known is not None:
            return known
        try:
            schema = self.source.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if _is_outage(exc):
                raise
            raise ReplicationError(
                f"flow {self.flow.name}: {where}: schema id {schema_id} is not in the source registry "
                f"{self.source.url} ({exc})"
            ) from exc
        try:
            target = self.target.register(subject, schema)
        except SchemaRegistryError as exc:
            if _is_outage(exc):
                raise
            raise ReplicationError(
                f"flow {self.flow.name}: {where}: the target registry {self.target.url} refused source schema "
                f"{schema_id} under {subject}: {exc}"
            ) from exc
        self.ids.put(subject, schema_id, target)
        return target

    def copies(self, records: Sequence[SourceRecord]) -> list[Copy]:
        """The records as the target receives them, in order; raises on the first that must not be copied."""
        out: list[Copy] = []
        for r in records:
            where = RecordRef(r.topic, r.partition, r.offset)
            sid, value = framed(r.value, where)
            out.append(Copy(r, self.flow.target_topic(r.topic), rewrite(value, self.target_id(r.topic, sid, where))))
        return out


__all__ = ["SchemaTranslator"]
