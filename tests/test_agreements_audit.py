"""The hub.audit record of a crossing: fits its schema, names fields, never holds a value (hub.agreements.audit)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from fastavro.validation import validate

from hub.agreements.audit import SourceCoordinates, audit_schema, build_audit
from hub.agreements.crossing import apply
from hub.agreements.model import Agreement
from tests.agreement_cases import KEY, pii, raw_record, shipped_agreements


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
    return shipped_agreements()


def test_audit_record_fits_its_schema_and_holds_no_values(shipped: dict[str, Agreement]) -> None:
    raw = raw_record("CaseOpened")
    crossing = apply(shipped["GD"], KEY, "CaseOpened", raw)
    source = SourceCoordinates("raw.gd.shenzhen-nanshan.case-opened", 0, 42)
    record = build_audit(crossing, source, crossing.topics, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    schema: Any = fastavro.parse_schema(audit_schema())
    assert schema["name"] == "org.socialwork.hub.audit.CrossingAudited"
    assert validate(record, schema, raise_errors=True)
    assert record["targets"] == ["shared.gba.case-opened", "shared.mainland.case-opened"]
    assert record["agreement_id"] == "gd-exchange" and record["agreement_version"] == 1
    assert "case_id->case_ref" in record["pseudonymised"] and "client_name" in record["dropped"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    for value in pii("CaseOpened", raw):
        assert value.encode("utf-8") not in buf.getvalue()
