"""The .avsc files against the event catalogue (docs/events.md), and the schema loader.

The expected lists below are copied from the catalogue's tables; the tests at the end
read the tables of docs/events.md themselves, so neither the files nor the page can drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest

from hub import schemas
from hub.catalogue import CORE_EVENTS, ENVELOPE_FIELDS, EVENT_TYPES, EXTENSION_EVENTS, RAW_KEY_FIELD
from hub.errors import ConfigError, ValidationError
from hub.schemas import event_types, load_schema, parsed_schema, schema_text, schemas_dir

ENVELOPE = ["event_id", "occurred_at", "region", "district", "station"]

# Field names copied from the tables of docs/events.md, in their order (after the envelope).
RAW_FIELDS: dict[str, list[str]] = {
    "CaseOpened": [
        "case_id",
        "service_area",
        "risk_level",
        "client_id",
        "client_name",
        "client_id_number",
        "client_phone",
        "client_birth_year",
        "client_gender",
        "vulnerable_groups",
        "worker_id",
        "referral_source",
    ],
    "VisitMade": ["visit_id", "case_id", "worker_id", "visit_type", "duration_minutes", "volunteer_count", "notes"],
    "DonationReceived": [
        "donation_id",
        "amount",
        "currency",
        "donor_type",
        "donor_name",
        "project_id",
        "beneficiaries",
    ],
    "ProjectEvaluated": [
        "evaluation_id",
        "project_id",
        "project_name",
        "service_area",
        "period_start",
        "period_end",
        "evaluator_ids",
        "score_professional",
        "score_effectiveness",
        "score_financial",
        "score_overall",
        "outcome",
        "beneficiaries",
    ],
    "CaseClosed": ["case_id", "outcome", "worker_id"],
    "ServiceDelivered": ["service_id", "service_area", "project_id", "person_times", "volunteer_count"],
    "ProjectFunded": ["project_id", "project_name", "programme", "amount", "currency"],
    "TrainingHeld": ["training_id", "topic", "participants", "hours"],
    "WorkerCertified": ["worker_id", "level"],
    "VolunteerRegistered": ["volunteer_id", "volunteer_name"],
}

# The "shared form" column of docs/events.md applied to the tables above.
SHARED_FIELDS: dict[str, list[str]] = {
    "CaseOpened": [
        "case_ref",
        "service_area",
        "risk_level",
        "client_ref",
        "client_age_band",
        "client_gender",
        "vulnerable_groups",
        "worker_ref",
        "referral_source",
    ],
    "VisitMade": ["visit_id", "case_ref", "worker_ref", "visit_type", "duration_minutes", "volunteer_count"],
    "DonationReceived": RAW_FIELDS["DonationReceived"],
    "ProjectEvaluated": [
        "evaluator_refs" if name == "evaluator_ids" else name for name in RAW_FIELDS["ProjectEvaluated"]
    ],
    "CaseClosed": ["case_ref", "outcome", "worker_ref"],
    "ServiceDelivered": RAW_FIELDS["ServiceDelivered"],
    "ProjectFunded": RAW_FIELDS["ProjectFunded"],
    "TrainingHeld": RAW_FIELDS["TrainingHeld"],
    "WorkerCertified": ["worker_ref", "level"],
    "VolunteerRegistered": ["volunteer_ref"],
}

PII_FIELDS = {
    "case_id",
    "client_id",
    "worker_id",
    "evaluator_ids",
    "volunteer_id",
    "client_name",
    "client_id_number",
    "client_phone",
    "client_birth_year",
    "notes",
    "volunteer_name",
}
REF_FIELDS = {
    "case_id": "case_ref",
    "client_id": "client_ref",
    "worker_id": "worker_ref",
    "volunteer_id": "volunteer_ref",
}

# Enum symbols from docs/events.md, by (event type, field).
ENUMS: dict[tuple[str, str], list[str]] = {
    ("CaseOpened", "client_gender"): ["F", "M", "X", "UNKNOWN"],
    ("CaseOpened", "risk_level"): ["LOW", "MEDIUM", "HIGH", "CRISIS", "UNKNOWN"],
    ("VisitMade", "visit_type"): ["HOME", "PHONE", "OFFICE", "OUTREACH", "ONLINE", "OTHER"],
    ("DonationReceived", "donor_type"): [
        "ENTERPRISE",
        "MERCHANT",
        "INDIVIDUAL",
        "CHARITY_FEDERATION",
        "FOUNDATION",
        "GOVERNMENT",
        "OTHER",
    ],
    ("ProjectEvaluated", "outcome"): ["EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL"],
    ("CaseClosed", "outcome"): ["GOAL_MET", "REFERRED", "CLIENT_WITHDREW", "CLIENT_DECEASED", "OTHER"],
    ("ProjectFunded", "programme"): [
        "VENTURE_PHILANTHROPY",
        "MICRO_PROJECT",
        "GOVERNMENT_PURCHASE",
        "CHARITY",
        "OTHER",
    ],
    ("WorkerCertified", "level"): [
        "ASSISTANT",
        "JUNIOR",
        "INTERMEDIATE",
        "SENIOR",
        "GENERALIST",
        "SUPERVISOR",
        "OTHER",
    ],
}
SERVICE_AREAS = [
    "ELDERLY",
    "CHILD_WELFARE",
    "YOUTH",
    "FAMILY",
    "DISABILITY",
    "SOCIAL_ASSISTANCE",
    "COMMUNITY_BUILDING",
    "COMMUNITY_GOVERNANCE",
    "DRUG_REHAB",
    "CORRECTION_SUPPORT",
    "SOCIAL_AFFAIRS",
    "SAFETY",
    "MEDICAL",
    "EMPLOYMENT",
    "OTHER",
]

FORMS_AND_TYPES = [(form, t) for form in ("raw", "shared") for t in EVENT_TYPES]


def field_names(form: schemas.Form, event_type: str) -> list[str]:
    return [f["name"] for f in load_schema(form, event_type)["fields"]]


def field_spec(form: schemas.Form, event_type: str, name: str) -> dict[str, Any]:
    return next(f for f in load_schema(form, event_type)["fields"] if f["name"] == name)


def enums_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "enum":
            yield node
        for value in node.values():
            yield from enums_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from enums_in(value)


def test_catalogue_and_both_forms_list_the_same_event_types() -> None:
    assert EVENT_TYPES == event_types("raw") == event_types("shared")
    assert len(EVENT_TYPES) == 10


@pytest.mark.parametrize(("form", "event_type"), FORMS_AND_TYPES)
def test_schema_parses_with_fastavro_and_apache_avro(form: schemas.Form, event_type: str) -> None:
    text = schema_text(form, event_type)
    fastavro.parse_schema(json.loads(text))
    parsed = avro.schema.parse(text)
    assert isinstance(parsed, avro.schema.RecordSchema)
    assert parsed.fullname == f"org.socialwork.hub.{form}.{event_type}"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_raw_field_names_match_the_catalogue(event_type: str) -> None:
    assert field_names("raw", event_type) == ENVELOPE + RAW_FIELDS[event_type]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_shared_field_names_follow_the_de_identification_rules(event_type: str) -> None:
    names = field_names("shared", event_type)
    assert names == ENVELOPE + SHARED_FIELDS[event_type]
    assert not PII_FIELDS & set(names)
    for raw_name, ref in REF_FIELDS.items():
        if raw_name in RAW_FIELDS[event_type]:
            assert field_spec("shared", event_type, ref)["type"] == "string"


def test_shared_forms_replace_evaluators_and_age() -> None:
    assert field_spec("shared", "ProjectEvaluated", "evaluator_refs")["type"] == {"type": "array", "items": "string"}
    # Age bands 0-17, 18-59, ... are not valid Avro enum symbols, so the band is a string.
    assert field_spec("shared", "CaseOpened", "client_age_band")["type"] == "string"
    assert field_spec("shared", "DonationReceived", "donor_name")["type"] == ["null", "string"]


def test_envelope_matches_the_catalogue_constant() -> None:
    assert list(ENVELOPE_FIELDS) == ENVELOPE


@pytest.mark.parametrize(("form", "event_type"), FORMS_AND_TYPES)
def test_envelope_types(form: schemas.Form, event_type: str) -> None:
    fields = {f["name"]: f for f in load_schema(form, event_type)["fields"]}
    assert fields["event_id"]["type"] == "string"
    assert fields["occurred_at"]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    region = fields["region"]["type"]
    assert (region["type"], region["name"], region["symbols"]) == ("enum", "Region", ["GD", "HK", "MO", "JS", "FJ"])
    assert fields["district"]["type"] == "string"
    assert fields["station"]["type"] == ["null", "string"]
    assert fields["station"]["default"] is None


@pytest.mark.parametrize(("form", "event_type"), FORMS_AND_TYPES)
def test_record_identity_and_docs(form: schemas.Form, event_type: str) -> None:
    schema = load_schema(form, event_type)
    assert (schema["type"], schema["name"], schema["namespace"]) == ("record", event_type, f"org.socialwork.hub.{form}")
    assert schema["doc"].strip()
    for spec in schema["fields"]:
        assert spec.get("doc", "").strip(), f"{event_type}.{spec['name']} has no doc"


@pytest.mark.parametrize(("form", "event_type"), FORMS_AND_TYPES)
def test_every_enum_has_a_default_among_its_symbols(form: schemas.Form, event_type: str) -> None:
    found = list(enums_in(load_schema(form, event_type)))
    assert found, "every record has at least the Region enum"
    for enum in found:
        assert enum.get("default") in enum["symbols"], enum["name"]
        assert enum.get("doc", "").strip(), enum["name"]
        if "OTHER" in enum["symbols"] or "UNKNOWN" in enum["symbols"]:
            assert enum["default"] in ("OTHER", "UNKNOWN"), enum["name"]


@pytest.mark.parametrize(("event_type", "name"), list(ENUMS))
def test_enum_symbols_are_those_of_the_catalogue(event_type: str, name: str) -> None:
    for form in ("raw", "shared"):
        assert field_spec(form, event_type, name)["type"]["symbols"] == ENUMS[(event_type, name)]  # type: ignore[arg-type]


def test_shared_enums_service_area_and_vulnerable_groups() -> None:
    for event_type in ("CaseOpened", "ProjectEvaluated", "ServiceDelivered"):
        spec = field_spec("raw", event_type, "service_area")["type"]
        assert (spec["name"], spec["symbols"], spec["default"]) == ("ServiceArea", SERVICE_AREAS, "OTHER")
    items = field_spec("raw", "CaseOpened", "vulnerable_groups")["type"]["items"]
    assert items["symbols"] == [
        "ELDERLY_ALONE",
        "LOW_INCOME",
        "DISABILITY",
        "LEFT_BEHIND_CHILD",
        "SPECIAL_HARDSHIP",
        "OTHER",
    ]


@pytest.mark.parametrize(("form", "event_type"), FORMS_AND_TYPES)
def test_money_optional_and_date_conventions(form: schemas.Form, event_type: str) -> None:
    names = field_names(form, event_type)
    for spec in load_schema(form, event_type)["fields"]:
        kind = spec["type"]
        if spec["name"] == "amount":
            assert kind == {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}
            assert "currency" in names
        if spec["name"].startswith("period_"):
            assert kind == {"type": "int", "logicalType": "date"}
        if isinstance(kind, list):
            assert kind[0] == "null" and len(kind) == 2
            assert "default" in spec and spec["default"] is None
        if spec["name"] == "volunteer_count":
            assert (kind, spec["default"]) == ("int", 0)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_raw_key_field_exists_in_raw_schema(event_type: str) -> None:
    spec = field_spec("raw", event_type, RAW_KEY_FIELD[event_type])
    assert spec["type"] == "string"


def test_unknown_event_type_is_a_validation_error_on_type() -> None:
    for call in (load_schema, parsed_schema, schema_text):
        with pytest.raises(ValidationError) as info:
            call("raw", "CaseReopened")
        assert info.value.errors[0][0] == "type"
        assert "unknown event type 'CaseReopened'" in str(info.value)
        assert "CaseOpened" in str(info.value)


def test_unknown_form_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="form: unknown schema form 'private'"):
        load_schema("private", "CaseOpened")  # type: ignore[arg-type]


def test_load_schema_returns_an_independent_copy() -> None:
    first = load_schema("raw", "CaseOpened")
    first["fields"].clear()
    assert field_names("raw", "CaseOpened")[0] == "event_id"


def test_schema_text_is_compact_json_of_the_file() -> None:
    text = schema_text("shared", "ProjectEvaluated")
    file_doc = json.loads((schemas_dir() / "shared" / "ProjectEvaluated.avsc").read_text(encoding="utf-8"))
    assert json.loads(text) == file_doc
    assert "\n" not in text
    assert text.startswith('{"type":"record","name":"ProjectEvaluated","namespace":"org.socialwork.hub.shared"')


def test_parsed_schema_is_cached_and_encodes() -> None:
    assert parsed_schema("raw", "WorkerCertified") is parsed_schema("raw", "WorkerCertified")
    assert parsed_schema("raw", "WorkerCertified")["name"] == "org.socialwork.hub.raw.WorkerCertified"


def test_schemas_dir_in_checkout_is_repo_schemas() -> None:
    assert schemas_dir() == Path(__file__).resolve().parents[1] / "schemas"


def test_schemas_dir_prefers_packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "hub"
    (package / "_schemas" / "raw").mkdir(parents=True)
    monkeypatch.setattr(schemas, "_PACKAGE_DIR", package)
    assert schemas_dir() == package / "_schemas"


def test_schemas_dir_missing_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "_PACKAGE_DIR", tmp_path / "hub")
    with pytest.raises(ConfigError, match="no Avro schemas found"):
        schemas_dir()


# -- docs/events.md, read as data ---------------------------------------------------------------------------------

EVENTS_MD = Path(__file__).resolve().parents[1] / "docs" / "events.md"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def doc_type(avro: Any) -> str:
    """An Avro type as the tables of docs/events.md write it: ``null or string``, ``decimal(18,2)``, ``ServiceArea``."""
    if isinstance(avro, list):
        assert len(avro) == 2 and avro[0] == "null", avro
        return f"null or {doc_type(avro[1])}"
    if isinstance(avro, str):
        return avro  # a primitive, or the name of an enum defined earlier in the file
    logical = avro.get("logicalType")
    if logical == "decimal":
        return f"decimal({avro['precision']},{avro['scale']})"
    if logical in ("date", "timestamp-millis"):
        return str(logical)
    if avro["type"] == "enum":
        return str(avro["name"])
    if avro["type"] == "array":
        return f"array of {doc_type(avro['items'])}"
    raise AssertionError(f"no catalogue rendering for {avro}")


def doc_field_type(spec: dict[str, Any]) -> str:
    text = doc_type(spec["type"])
    return text if spec.get("default") is None else f"{text}, default {spec['default']}"


def plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def md_sections() -> dict[str, list[str]]:
    """Heading text (``## ...`` and ``### ...``) -> the lines under it, up to the next heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in EVENTS_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#{2,3} (.+)$", line)
        if heading:
            current = sections.setdefault(heading.group(1).strip(), [])
        else:
            current.append(line)
    return sections


def md_table(lines: list[str]) -> list[dict[str, str]]:
    """The first markdown table in ``lines``, as one dict per row keyed by the header cells."""
    rows: list[list[str]] = []
    for line in lines:
        text = line.strip()
        if text.startswith("|"):
            rows.append([cell.strip() for cell in text.strip("|").split("|")])
        elif rows:
            break
    assert len(rows) >= 3, "a header, a rule and at least one row"
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row, strict=True)) for row in body]


def events_under(sections: dict[str, list[str]], h2: str) -> list[str]:
    """The ``### <EventType>`` headings that follow the heading ``## <h2>`` (up to the next ``##``)."""
    text = EVENTS_MD.read_text(encoding="utf-8")
    part = text.split(f"\n## {h2}\n", 1)[1].split("\n## ", 1)[0]
    return [name for name in re.findall(r"^### (\w+)$", part, re.M) if name in sections]


def shared_from_table(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The shared fields (name, type) that the "shared form" column of a table says the gateway writes."""
    out: list[tuple[str, str]] = []
    for row in rows:
        cell = row["shared form"]
        if cell.startswith("kept"):
            out.append((plain(row["field"]), plain(row["type"])))
        elif cell != "dropped":
            renamed = re.fullmatch(r"`(\w+)` \(([^)]+)\)", cell)
            assert renamed, f"{row['field']}: shared form must be kept, dropped or `name` (type), got {cell!r}"
            out.append((renamed.group(1), plain(renamed.group(2))))
    return out


def enums_of(path: Path) -> dict[str, tuple[list[str], str]]:
    return {e["name"]: (e["symbols"], e["default"]) for e in enums_in(json.loads(path.read_text(encoding="utf-8")))}


def test_events_md_lists_the_catalogue_events_and_only_those_have_schemas() -> None:
    sections = md_sections()
    assert events_under(sections, "The four core events") == list(CORE_EVENTS)
    assert events_under(sections, "Extension events") == list(EXTENSION_EVENTS)
    pending = [plain(row["record"]) for row in md_table(sections["Catalogued, without a schema yet"])]
    assert pending == ["ExchangeHeld", "TalentSupportGranted"]
    assert not set(pending) & set(event_types("raw")), "an event with a schema needs its own field table"


def test_events_md_envelope_table_is_the_envelope_of_every_schema() -> None:
    rows = md_table(md_sections()["Common rules"])
    assert [plain(r["field"]) for r in rows] == list(ENVELOPE_FIELDS)
    assert all(r["shared form"] == "kept" for r in rows)
    forms: tuple[schemas.Form, ...] = ("raw", "shared")
    for form, event_type in ((form, t) for form in forms for t in EVENT_TYPES):
        envelope = load_schema(form, event_type)["fields"][: len(ENVELOPE_FIELDS)]
        assert [plain(r["type"]) for r in rows] == [doc_field_type(f) for f in envelope], (form, event_type)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_events_md_field_table_is_the_raw_and_shared_schema(event_type: str) -> None:
    """Names, order and types of both forms, and the Kafka key, exactly as the page's table says."""
    lines = md_sections()[event_type]
    rows = md_table(lines)
    raw = load_schema("raw", event_type)["fields"][len(ENVELOPE_FIELDS) :]
    assert [(plain(r["field"]), plain(r["type"])) for r in rows] == [(f["name"], doc_field_type(f)) for f in raw]
    shared = load_schema("shared", event_type)["fields"][len(ENVELOPE_FIELDS) :]
    assert shared_from_table(rows) == [(f["name"], doc_field_type(f)) for f in shared]
    keys = re.findall(r"Kafka key: `(\w+)`", "\n".join(lines))
    assert keys == [RAW_KEY_FIELD[event_type]]


def test_events_md_enum_table_is_every_enum_of_the_schemas() -> None:
    documented = {
        plain(r["enum"]): ([s.strip() for s in r["symbols"].split(",")], plain(r["default"]))
        for r in md_table(md_sections()["Enums"])
    }
    found: dict[str, tuple[list[str], str]] = {}
    for path in sorted(schemas_dir().glob("*/*.avsc")):
        for name, spec in enums_of(path).items():
            assert found.setdefault(name, spec) == spec, f"enum {name} differs between files ({path})"
    assert documented == found


def test_events_md_audit_table_is_the_audit_schema() -> None:
    rows = md_table(md_sections()["CrossingAudited (`hub.audit`)"])
    schema = json.loads((schemas_dir() / "hub" / "CrossingAudited.avsc").read_text(encoding="utf-8"))
    assert [(plain(r["field"]), plain(r["type"])) for r in rows] == [
        (f["name"], doc_field_type(f)) for f in schema["fields"]
    ]
