"""Shared material of the agreement tests: keys, places, realistic raw records and agreement files to break.

``raw_record`` gives a record exactly as the gateway sees it (validated,
Avro-encoded, decoded); ``gd_doc`` the shipped GD agreement as a mutable
document, ``write`` and ``load_error`` turn a changed document into a file and
the message of its :class:`AgreementError`.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any, Final

import fastavro
import pytest
import yaml

from hub.agreements.loading import default_agreements_dir, load_agreement, load_agreements
from hub.agreements.model import Agreement
from hub.agreements.problems import AgreementError
from hub.errors import PolicyError
from hub.schemas import parsed_schema
from hub.validation import validate_event
from tests.factories import valid_event_doc

KEY: Final = b"k" * 16 + b"0123456789abcdef0123"  # 36 bytes, test-only
OTHER_KEY: Final = b"x" * 40
SHIPPED: Final = default_agreements_dir()

#: A district (and its region's currency) per region, for records of every region.
PLACES: Final[dict[str, dict[str, Any]]] = {
    "GD": {"region": "GD", "district": "shenzhen-nanshan", "station": "ns-shekou"},
    "HK": {"region": "HK", "district": "hk-sham-shui-po", "station": None},
    "MO": {"region": "MO", "district": "mo-sao-lourenco", "station": None},
    "JS": {"region": "JS", "district": "yancheng-tinghu", "station": None},
    "FJ": {"region": "FJ", "district": "jinjiang", "station": None},
}


@cache
def shipped_agreements() -> dict[str, Agreement]:
    """The shipped agreements by region, loaded once per test process (they are immutable)."""
    return load_agreements(SHIPPED)


def raw_record(event_type: str, **overrides: Any) -> dict[str, Any]:
    """A realistic raw record exactly as the gateway sees it: validated, Avro-encoded, decoded."""
    record = validate_event(valid_event_doc(event_type, **overrides)).record
    parsed = parsed_schema("raw", event_type)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    decoded = fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), parsed, None)
    assert isinstance(decoded, dict)
    return decoded


def encode_shared(event_type: str, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema("shared", event_type), record)
    return buf.getvalue()


def gd_doc() -> dict[str, Any]:
    doc = yaml.safe_load((SHIPPED / "gd.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def write(tmp_path: Path, doc: dict[str, Any], name: str = "gd.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(AgreementError) as info:
        load_agreement(path)
    message = str(info.value)
    assert str(path) in message
    assert isinstance(info.value, PolicyError)
    return message


def pii(event_type: str, raw: dict[str, Any]) -> list[str]:
    """The personal values of a raw record: none may reach a shared record, its key or its audit record."""
    names = [
        "client_name",
        "client_id_number",
        "client_phone",
        "notes",
        "case_id",
        "client_id",
        "worker_id",
        "volunteer_id",
        "volunteer_name",
    ]
    values = [raw[n] for n in names if raw.get(n)]
    values += raw.get("evaluator_ids", [])
    if event_type == "DonationReceived" and raw["donor_type"] == "INDIVIDUAL":
        values.append(raw["donor_name"])
    return values
