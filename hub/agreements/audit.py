"""The audit record of a crossing (``hub.audit``): which agreement decided what, field by field, never a value.

:func:`build_audit` turns a :class:`~hub.agreements.crossing.Crossing` and the
coordinates of the raw record it came from into one record of
:func:`audit_schema` (``schemas/hub/CrossingAudited.avsc``). It names fields
(kept, dropped, pseudonymised, generalised) and topics, never their values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hub.agreements.crossing import Crossing
from hub.errors import PolicyError
from hub.schemas import schemas_dir

AUDIT_SCHEMA_NAME: Final = "CrossingAudited"


def audit_schema() -> dict[str, Any]:
    """The Avro schema of ``hub.audit`` records (``schemas/hub/CrossingAudited.avsc``)."""
    path = schemas_dir() / "hub" / f"{AUDIT_SCHEMA_NAME}.avsc"
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read the audit schema {path}: {exc}") from exc
    return doc


@dataclass(frozen=True)
class SourceCoordinates:
    """Where the raw record was read: topic, partition, offset."""

    topic: str
    partition: int
    offset: int


def build_audit(
    crossing: Crossing, source: SourceCoordinates, targets: Sequence[str], crossed_at: datetime
) -> dict[str, Any]:
    """The ``hub.audit`` record of one crossing (fits :func:`audit_schema`).

    ``targets`` are the shared topics actually written (normally ``crossing.topics``).
    """
    if crossed_at.tzinfo is None:
        raise PolicyError("crossed_at: must be timezone-aware (UTC), got a naive datetime")
    return {
        "event_id": crossing.event_id,
        "event_type": crossing.event_type,
        "occurred_at": crossing.occurred_at,
        "crossed_at": crossed_at,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "targets": list(targets),
        "agreement_id": crossing.agreement_id,
        "agreement_version": crossing.agreement_version,
        "kept": list(crossing.kept),
        "dropped": list(crossing.dropped),
        "pseudonymised": list(crossing.pseudonymised),
        "generalised": list(crossing.generalised),
    }


__all__ = ["AUDIT_SCHEMA_NAME", "SourceCoordinates", "audit_schema", "build_audit"]
