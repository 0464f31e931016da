"""The gateway's per-record logic (pure): raw record in, shared + audit records or a dead letter out.

No broker here: schemas live in an in-memory schema source (the registry is not
what these tests exercise; tests/test_gateway.py runs against the real one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import pytest

from demo import stream as demo_data
from hub import naming
from hub.agreements.crossing import apply
from hub.agreements.loading import default_agreements_dir, load_agreements, parse_agreement
from hub.agreements.model import Agreement
from hub.dlq import decode_dead_letter
from hub.errors import PolicyError, SchemaRegistryError
from hub.gateway.crossing import (
    Border,
    Crossed,
    Outcome,
    RawRecord,
    Refused,
    disclosure,
    output_schemas,
)
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, AvroSerializer, Record
from hub.validation import validate_event
from hub.wire import frame
from tests.factories import valid_event_doc

KEY: Final = b"gateway-crossing-tests-hmac-key-0123456789"
NOW: Final = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
HK: Final[dict[str, Any]] = {"region": "HK", "district": "hk-sham-shui-po", "station": None}
MO: Final[dict[str, Any]] = {"region": "MO", "district": "mo-sao-lourenco", "station": None}
JS: Final[dict[str, Any]] = {"region": "JS", "district": "yancheng-tinghu", "station": None}
FJ: Final[dict[str, Any]] = {"region": "FJ", "district": "jinjiang", "station": None}


class MemorySchemas:
    """An in-memory schema source: ids by schema text, like a registry with one global id space."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[str, int] = {}

    def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        if text not in self.ids:
            self.ids[text] = len(self.ids) + 1
            self.by_id[self.ids[text]] = text
        return self.ids[text]

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self.by_id:
            raise SchemaRegistryError(f"schema {schema_id} not found", error_code=40403, status=404)
        return self.by_id[schema_id]


class Harness:
    """A Border over the shipped agreements plus the means to make raw records and read outputs."""

    def __init__(self, agreements: dict[str, Agreement] | None = None, schemas: MemorySchemas | None = None) -> None:
        self.schemas = schemas or MemorySchemas()
        self.agreements = agreements or load_agreements(default_agreements_dir())
        ids = {s: self.schemas.register(s, t) for s, t in output_schemas(self.agreements.values()).items()}
        decoders = {et: AvroDeserializer(self.schemas, schema_text("raw", et)) for et in event_types("raw")}
        self.border = Border(self.agreements, dict.fromkeys(self.agreements, KEY), decoders, ids, clock=lambda: NOW)
        self.reader = AvroDeserializer(self.schemas)
        self.offset = 0

    def raw(self, doc: dict[str, Any]) -> RawRecord:
        event = validate_event(doc)
        topic = naming.raw_topic(event.region, event.district, event.event_type)
        return self.encoded(topic, event.event_type, event.record, key=event.key.encode())

    def encoded(self, topic: str, event_type: str, record: Record, *, key: bytes | None = b"k") -> RawRecord:
        """A raw record encoded with the raw schema of ``event_type`` and no edge validation."""
        value = AvroSerializer(self.schemas, schema_text("raw", event_type))(record, naming.subject_for(topic))
        return self.at(topic, key, value)

    def at(self, topic: str, key: bytes | None, value: bytes | None) -> RawRecord:
        self.offset += 1
        return RawRecord(topic, 0, self.offset, key, value)

    def cross(self, doc: dict[str, Any]) -> Outcome:
        return self.border.cross(self.raw(doc))

    def decode(self, value: bytes) -> Record:
        return self.reader(value)


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


def crossed(outcome: Outcome) -> Crossed:
    assert isinstance(outcome, Crossed), getattr(outcome, "reason", outcome)
    return outcome


def refused(outcome: Outcome) -> Refused:
    assert isinstance(outcome, Refused), f"expected a dead letter, got {outcome}"
    return outcome


# -- zones ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("envelope", "zones"),
    [
        ({}, ("gba", "mainland")),  # Shenzhen Nanshan (the factories' default)
        ({"region": "GD", "district": "zhuhai-xiangzhou", "station": None}, ("gba", "mainland")),
        (HK, ("gba",)),
        (MO, ("gba",)),
        (JS, ("mainland",)),
        (FJ, ("mainland",)),
    ],
)
def test_an_event_enters_the_zones_of_its_region(
    harness: Harness, envelope: dict[str, Any], zones: tuple[str, ...]
) -> None:
    out = crossed(harness.cross(valid_event_doc("CaseOpened", **envelope)))
    assert out.zones == zones
    assert [o.topic for o in out.shared] == [f"shared.{z}.case-opened" for z in zones]


def test_one_event_in_two_zones_is_one_record_twice(harness: Harness) -> None:
    doc = valid_event_doc("VisitMade")
    out = crossed(harness.cross(doc))
    gba, mainland = out.shared
    assert (gba.key, gba.value) == (mainland.key, mainland.value)
    record = harness.decode(gba.value)
    assert record["event_id"] == doc["event_id"] == out.event_id


def test_the_shared_record_is_the_agreements_shape_keyed_by_the_pseudonym(harness: Harness) -> None:
    doc = valid_event_doc("CaseOpened", client_birth_year=1948, occurred_at="2026-03-02T09:30:00+08:00")
    out = crossed(harness.cross(doc))
    record = harness.decode(out.shared[0].value)
    assert set(record) == {
        "event_id",
        "occurred_at",
        "region",
        "district",
        "station",
        "case_ref",
        "service_area",
        "risk_level",
        "client_ref",
        "client_age_band",
        "client_gender",
        "vulnerable_groups",
        "worker_ref",
        "referral_source",
    }
    assert record["client_age_band"] == "70-79"
    assert re.fullmatch(r"[0-9a-f]{64}", record["case_ref"])
    assert out.shared[0].key == record["case_ref"].encode()
    assert out.shared[0].headers == ()


# -- audit --------------------------------------------------------------------------------------
def test_the_audit_record_is_keyed_by_event_id_and_names_source_targets_and_fields(harness: Harness) -> None:
    doc = valid_event_doc("CaseOpened")
    src = harness.raw(doc)
    out = crossed(harness.border.cross(src))
    assert out.audit.topic == naming.AUDIT_TOPIC
    assert out.audit.key == doc["event_id"].encode()
    audit = harness.decode(out.audit.value)
    assert audit["event_id"] == doc["event_id"]
    assert (audit["source_topic"], audit["source_partition"], audit["source_offset"]) == (
        "raw.gd.shenzhen-nanshan.case-opened",
        0,
        src.offset,
    )
    assert audit["targets"] == ["shared.gba.case-opened", "shared.mainland.case-opened"]
    assert (audit["agreement_id"], audit["agreement_version"]) == ("gd-exchange", 1)
    assert audit["crossed_at"] == NOW
    assert "case_id->case_ref" in audit["pseudonymised"]
    assert {"client_name", "client_phone", "client_id_number"} <= set(audit["dropped"])
    assert audit["generalised"] == ["client_birth_year->client_age_band"]


def test_crossing_the_same_raw_record_twice_gives_recognisable_copies() -> None:
    """At-least-once delivery re-crosses after a crash: shared copies are identical, audit copies share an identity."""
    ticks = iter(datetime(2026, 11, 29, 8, m, tzinfo=UTC) for m in range(60))
    harness = Harness()
    harness.border = Border(
        harness.agreements,
        dict.fromkeys(harness.agreements, KEY),
        {et: AvroDeserializer(harness.schemas, schema_text("raw", et)) for et in event_types("raw")},
        {s: harness.schemas.register(s, t) for s, t in output_schemas(harness.agreements.values()).items()},
        clock=lambda: next(ticks),
    )
    src = harness.raw(valid_event_doc("VisitMade"))
    first, second = crossed(harness.border.cross(src)), crossed(harness.border.cross(src))
    assert first.shared == second.shared
    assert first.audit.key == second.audit.key
    one, two = harness.decode(first.audit.value), harness.decode(second.audit.value)
    assert one["crossed_at"] != two["crossed_at"]
    identity = ("event_id", "source_topic", "source_partition", "source_offset", "targets")
    assert [one[f] for f in identity] == [two[f] for f in identity]


# -- nothing personal crosses ---------------------------------------------------------------------
def test_no_personal_value_appears_in_any_output_byte(harness: Harness) -> None:
    docs = [
        valid_event_doc("CaseOpened", client_name="黄丽珍", client_phone="+86 139 2222 3333"),
        valid_event_doc("VisitMade", notes="家访黄丽珍，电话 13922223333。"),
        valid_event_doc("CaseClosed"),
        valid_event_doc("DonationReceived", donor_type="INDIVIDUAL", donor_name="王建国"),
        valid_event_doc("ProjectEvaluated"),
        valid_event_doc("WorkerCertified"),
        valid_event_doc("VolunteerRegistered", volunteer_name="李志强"),
        valid_event_doc("CaseOpened", **HK, case_id="HKSSP-2026-00077", client_id="HKSSP-P-1234567"),
    ]
    secrets = {
        "黄丽珍",
        "+86 139 2222 3333",
        "家访黄丽珍，电话 13922223333。",
        "王建国",
        "李志强",
        "HKSSP-2026-00077",
        "HKSSP-P-1234567",
    }
    for doc in docs:
        for name in ("case_id", "client_id", "client_id_number", "worker_id", "volunteer_id"):
            if name in doc:
                secrets.add(doc[name])
        secrets.update(doc.get("evaluator_ids", []))
    for doc in docs:
        out = crossed(harness.cross(doc))
        for record in out.outputs:
            blob = record.key + record.value + b"".join(k.encode() + v for k, v in record.headers)
            leaked = [s for s in secrets if s.encode() in blob]
            assert not leaked, f"{doc['type']} -> {record.topic} carries {leaked}"


def test_an_enterprise_donor_name_crosses_an_individual_one_does_not(harness: Harness) -> None:
    enterprise = crossed(harness.cross(valid_event_doc("DonationReceived", donor_type="ENTERPRISE")))
    person = crossed(harness.cross(valid_event_doc("DonationReceived", donor_type="INDIVIDUAL", donor_name="王建国")))
    assert harness.decode(enterprise.shared[0].value)["donor_name"] == "深圳某科技有限公司"
    assert harness.decode(person.shared[0].value)["donor_name"] is None


def test_pseudonyms_join_a_case_across_event_types(harness: Harness) -> None:
    ids = {"case_id": "NS-2026-009001", "worker_id": "NS-SW-0999"}
    refs = []
    for event_type in ("CaseOpened", "VisitMade", "CaseClosed"):
        out = crossed(harness.cross(valid_event_doc(event_type, **ids)))
        record = harness.decode(out.shared[0].value)
        refs.append((record["case_ref"], record["worker_ref"], out.shared[0].key))
    worker = crossed(harness.cross(valid_event_doc("WorkerCertified", worker_id=ids["worker_id"])))
    certified = harness.decode(worker.shared[0].value)
    assert len(set(refs)) == 1
    assert certified["worker_ref"] == refs[0][1]
    other = harness.decode(
        crossed(harness.cross(valid_event_doc("VisitMade", case_id="NS-2026-009002"))).shared[0].value
    )
    assert other["case_ref"] != refs[0][0]


def test_a_kept_field_that_carries_a_protected_value_withholds_the_event(harness: Harness) -> None:
    doc = valid_event_doc("VisitMade", case_id="NS-2026-000777", visit_id="NS-2026-000777-V001")
    out = refused(harness.cross(doc))
    assert out.stage == "policy"
    assert "visit_id" in out.reason and "case_id" in out.reason
    assert out.dead_letter.event_id == doc["event_id"]


def test_disclosure_ignores_enums_and_short_ascii_ids_but_not_short_names(harness: Harness) -> None:
    agreement = harness.agreements["GD"]
    doc = validate_event(valid_event_doc("CaseOpened", risk_level="LOW", vulnerable_groups=["LOW_INCOME"]))
    crossing = apply(agreement, KEY, "CaseOpened", doc.record)
    assert disclosure(doc.record, crossing) is None
    doc = validate_event(valid_event_doc("VisitMade", worker_id="W12", visit_id="NS-V-W12-1"))
    assert disclosure(doc.record, apply(agreement, KEY, "VisitMade", doc.record)) is None
    doc = validate_event(valid_event_doc("CaseOpened", client_name="李明", referral_source="李明的邻居"))
    assert disclosure(doc.record, apply(agreement, KEY, "CaseOpened", doc.record)) == ("referral_source", "client_name")


# -- dead letters ------------------------------------------------------------------------------------
def test_garbage_bytes_are_a_decode_dead_letter_with_coordinates(harness: Harness) -> None:
    src = RawRecord("raw.gd.shenzhen-nanshan.case-opened", 2, 41, b"key", b"\x7fnot avro at all")
    out = refused(harness.border.cross(src))
    assert out.stage == "decode"
    assert "magic byte" in out.reason
    (record,) = out.outputs
    assert record.topic == naming.DLQ_TOPIC
    assert record.key == b"raw.gd.shenzhen-nanshan.case-opened:2:41"
    letter = decode_dead_letter(record.value)
    assert (letter.consumer, letter.source_topic, letter.source_partition, letter.source_offset) == (
        "gateway",
        "raw.gd.shenzhen-nanshan.case-opened",
        2,
        41,
    )
    assert (letter.original_key, letter.original_value) == (b"key", b"\x7fnot avro at all")
    assert ("hub.dlq.stage", b"decode") in record.headers


def test_an_unknown_schema_id_is_a_decode_dead_letter(harness: Harness) -> None:
    out = refused(harness.border.cross(harness.at("raw.gd.shenzhen-nanshan.visit-made", b"k", frame(987654, b"\x02"))))
    assert out.stage == "decode"
    assert "987654" in out.reason


def test_a_tombstone_is_a_decode_dead_letter(harness: Harness) -> None:
    out = refused(harness.border.cross(harness.at("raw.gd.shenzhen-nanshan.visit-made", b"k", None)))
    assert (out.stage, out.dead_letter.original_value) == ("decode", None)


def test_another_event_type_on_a_topic_does_not_resolve(harness: Harness) -> None:
    closed = validate_event(valid_event_doc("CaseClosed"))
    src = harness.encoded("raw.gd.shenzhen-nanshan.case-opened", "CaseClosed", closed.record)
    out = refused(harness.border.cross(src))
    assert out.stage == "decode"
    assert "resolve" in out.reason


def test_an_invalid_record_is_a_validate_dead_letter_naming_the_field(harness: Harness) -> None:
    record = validate_event(valid_event_doc("VisitMade")).record | {"duration_minutes": 0}
    out = refused(harness.border.cross(harness.encoded("raw.gd.shenzhen-nanshan.visit-made", "VisitMade", record)))
    assert out.stage == "validate"
    assert "duration_minutes" in out.reason
    assert out.dead_letter.event_id == record["event_id"]


def test_a_record_of_another_district_than_its_topic_is_refused(harness: Harness) -> None:
    record = validate_event(valid_event_doc("CaseOpened", region="GD", district="guangzhou-tianhe")).record
    out = refused(harness.border.cross(harness.encoded("raw.gd.shenzhen-nanshan.case-opened", "CaseOpened", record)))
    assert out.stage == "validate"
    assert "guangzhou-tianhe" in out.reason and "raw.gd.shenzhen-nanshan.case-opened" in out.reason


def test_an_event_type_the_agreement_does_not_cover_is_a_policy_dead_letter() -> None:
    text = (default_agreements_dir() / "gd.yaml").read_text(encoding="utf-8")
    without_visits = re.sub(r"\n  VisitMade:\n(    .*\n)+", "\n", text)
    assert "VisitMade" not in without_visits
    harness = Harness({"GD": parse_agreement(without_visits, "gd-without-visits.yaml")})
    out = refused(harness.cross(valid_event_doc("VisitMade")))
    assert out.stage == "policy"
    assert "no rules for event VisitMade" in out.reason
    crossed(harness.cross(valid_event_doc("CaseOpened")))


def test_a_region_the_gateway_does_not_serve_is_a_policy_dead_letter() -> None:
    every = load_agreements(default_agreements_dir())
    harness = Harness({"HK": every["HK"]})
    out = refused(harness.cross(valid_event_doc("CaseOpened")))
    assert out.stage == "policy"
    assert "region GD is not served" in out.reason


def test_a_topic_that_is_not_raw_is_a_decode_dead_letter(harness: Harness) -> None:
    out = refused(harness.border.cross(harness.at("shared.gba.case-opened", None, b"\x00")))
    assert out.stage == "decode"


def test_records_after_a_poison_record_still_cross(harness: Harness) -> None:
    batch = [
        harness.raw(valid_event_doc("CaseOpened")),
        harness.at("raw.gd.shenzhen-nanshan.case-opened", b"k", b"garbage"),
        harness.raw(valid_event_doc("CaseClosed")),
    ]
    outcomes = harness.border.cross_batch(batch)
    assert [type(o) for o in outcomes] == [Crossed, Refused, Crossed]
    assert [o.source for o in outcomes] == batch


# -- outages and bugs ---------------------------------------------------------------------------------
class Unreachable(MemorySchemas):
    def get_schema(self, schema_id: int) -> str:
        raise SchemaRegistryError("cannot reach the schema registry at http://127.0.0.1:1")


def test_a_registry_outage_is_raised_not_dead_lettered() -> None:
    schemas = MemorySchemas()
    writer = Harness(schemas=schemas)
    src = writer.raw(valid_event_doc("CaseOpened"))
    reader = Harness(schemas=Unreachable())  # knows the output ids, cannot fetch the writer schema
    with pytest.raises(SchemaRegistryError):
        reader.border.cross(src)


def test_an_unexpected_error_is_an_apply_dead_letter(harness: Harness) -> None:
    class Broken:
        def decode(self, data: bytes) -> tuple[int, Record]:
            raise RuntimeError("decoder bug")

    every = load_agreements(default_agreements_dir())
    border = Border(every, dict.fromkeys(every, KEY), {"CaseOpened": Broken()}, {})
    out = refused(border.cross(harness.raw(valid_event_doc("CaseOpened"))))
    assert out.stage == "apply"
    assert "RuntimeError: decoder bug" in out.reason


def test_a_border_without_a_key_for_an_agreement_is_refused() -> None:
    every = load_agreements(default_agreements_dir())
    with pytest.raises(PolicyError, match="FJ"):
        Border(every, {r: KEY for r in every if r != "FJ"}, {}, {})


def test_output_schemas_cover_every_zone_event_and_the_audit() -> None:
    every = load_agreements(default_agreements_dir())
    subjects = output_schemas(every.values())
    expected = {
        f"shared.{z}.{naming.event_slug(et)}-value" for z in ("gba", "mainland") for et in event_types("shared")
    }
    assert set(subjects) == expected | {"hub.audit-value"}
    assert json.loads(subjects["hub.audit-value"])["name"] == "CrossingAudited"
    hk_only = output_schemas([every["HK"]])
    assert not any(s.startswith("shared.mainland.") for s in hk_only)


# -- the demo stream -------------------------------------------------------------------------------------
def _demo_sample(per_district: int) -> Iterator[dict[str, Any]]:
    taken: dict[str, int] = {}
    for doc in demo_data.generate(3):
        district = str(doc["district"])
        if taken.get(district, 0) < per_district:
            taken[district] = taken.get(district, 0) + 1
            yield doc


def test_the_demo_stream_crosses_without_disclosing_identifiers(harness: Harness) -> None:
    protected: tuple[str, ...] = ("case_id", "client_id", "client_name", "client_id_number", "client_phone")
    protected += ("worker_id", "notes", "volunteer_id", "volunteer_name")
    regions_seen = set()
    for doc in _demo_sample(25):
        out = crossed(harness.cross(doc))
        regions_seen.add(doc["region"])
        secrets = [str(doc[f]) for f in protected if doc.get(f)] + list(doc.get("evaluator_ids") or [])
        if doc.get("donor_type") == "INDIVIDUAL" and doc.get("donor_name"):
            secrets.append(str(doc["donor_name"]))
        for record in out.shared:
            assert not [s for s in secrets if s.encode() in record.key + record.value], doc
        if doc["region"] in ("HK", "MO"):
            assert out.zones == ("gba",)
        if doc["region"] in ("JS", "FJ"):
            assert out.zones == ("mainland",)
    assert regions_seen == {"GD", "HK", "MO", "JS", "FJ"}
