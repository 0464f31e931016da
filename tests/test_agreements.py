"""Data-sharing agreements: loading, checking, the crossing, pseudonyms, zones, keys, audit, CLI."""

from __future__ import annotations

import copy
import hashlib
import hmac
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml
from fastavro.validation import validate
from typer.testing import CliRunner, Result

from cli.main import app
from hub.agreement_keys import generate_key, load_key, read_secrets_file, write_demo_secrets
from hub.agreements import (
    MIN_KEY_BYTES,
    Agreement,
    AgreementError,
    SourceCoordinates,
    age_band,
    allows_partner,
    apply,
    audit_schema,
    build_audit,
    default_agreements_dir,
    entitled_zones,
    key_variable,
    load_agreement,
    load_agreements,
    parse_agreement,
    pseudonym,
)
from hub.catalogue import EVENT_TYPES
from hub.errors import ConfigError, PolicyError
from hub.schemas import parsed_schema
from hub.validation import validate_event
from tests.factories import valid_event_doc

KEY = b"k" * 16 + b"0123456789abcdef0123"  # 36 bytes, test-only
OTHER_KEY = b"x" * 40
SHIPPED = default_agreements_dir()
HUB = str(Path(sys.executable).with_name("hub"))

#: A district (and its region's currency) per region, for records of every region.
PLACES: dict[str, dict[str, Any]] = {
    "GD": {"region": "GD", "district": "shenzhen-nanshan", "station": "ns-shekou"},
    "HK": {"region": "HK", "district": "hk-sham-shui-po", "station": None},
    "MO": {"region": "MO", "district": "mo-sao-lourenco", "station": None},
    "JS": {"region": "JS", "district": "yancheng-tinghu", "station": None},
    "FJ": {"region": "FJ", "district": "jinjiang", "station": None},
}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
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


# -- loading errors ------------------------------------------------------------------------
def test_unknown_event_type_is_named(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseReopened"] = copy.deepcopy(doc["events"]["CaseClosed"])
    message = load_error(tmp_path, doc)
    assert "event CaseReopened" in message and "unknown event type" in message


def test_rule_naming_a_field_the_raw_schema_lacks(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseOpened"]["drop"].append("client_nickname")
    message = load_error(tmp_path, doc)
    assert "event CaseOpened: field client_nickname" in message and "raw CaseOpened schema lacks" in message


def test_keeping_pii_fails_because_the_shared_schema_lacks_it(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseOpened"]["drop"].remove("client_phone")
    doc["events"]["CaseOpened"]["keep"].append("client_phone")
    message = load_error(tmp_path, doc)
    assert "event CaseOpened: field client_phone" in message and "shared CaseOpened schema" in message


def test_pseudonymise_target_the_shared_schema_lacks(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["VisitMade"]["pseudonymise"]["case_id"] = "case_reference"
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field case_id" in message and "'case_reference'" in message


def test_field_named_by_two_rules(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["VisitMade"]["keep"].append("notes")
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field notes" in message and "by keep and drop" in message


def test_field_named_twice_in_one_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "gd.yaml"
    text = (SHIPPED / "gd.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("{case_id: case_ref, worker_id: worker_ref}", "{case_id: case_ref, case_id: x_ref}"))
    with pytest.raises(AgreementError, match=r"gd\.yaml: line \d+: .*'case_id' appears twice"):
        load_agreement(path)


def test_zone_that_does_not_exist(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["zones"] = ["gba", "asean"]
    assert "zones: 'asean' is not a zone" in load_error(tmp_path, doc)


def test_region_that_does_not_exist(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["source_region"] = "TW"
    assert "source_region: 'TW' is not a region" in load_error(tmp_path, doc)


@pytest.mark.parametrize("region", ["HK", "MO"])
def test_hk_and_mo_may_not_allow_mainland(tmp_path: Path, region: str) -> None:
    doc = yaml.safe_load((SHIPPED / f"{region.lower()}.yaml").read_text(encoding="utf-8"))
    doc["zones"] = ["gba", "mainland"]
    message = load_error(tmp_path, doc)
    assert f"a {region} agreement may allow only gba" in message and "onward transfer" in message


def test_region_outside_a_zone_and_partner_outside_the_zones(tmp_path: Path) -> None:
    doc = yaml.safe_load((SHIPPED / "js.yaml").read_text(encoding="utf-8"))
    doc["zones"] = ["gba"]
    doc["partners"] = ["GD"]
    assert "zones: JS is not a member of zone 'gba'" in load_error(tmp_path, doc)
    doc["zones"] = ["mainland"]
    doc["partners"] = ["HK"]
    assert "partners: HK is outside the agreement's zones" in load_error(tmp_path, doc)


def test_two_agreements_for_one_region(tmp_path: Path) -> None:
    write(tmp_path, gd_doc(), "gd.yaml")
    second = gd_doc()
    second["id"] = "gd-exchange-b"
    second["key"] = key_variable("gd-exchange-b")
    write(tmp_path, second, "gd-b.yaml")
    with pytest.raises(AgreementError) as info:
        load_agreements(tmp_path)
    message = str(info.value)
    assert "gd.yaml" in message and "gd-b.yaml" in message and "second agreement for region GD" in message


def test_key_variable_must_follow_the_rule(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["key"] = "GD_SECRET"
    assert "must be HUB_AGREEMENT_KEY_GD_EXCHANGE" in load_error(tmp_path, doc)


def test_unknown_keys_and_wrong_types_are_named(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseClosed"]["keeep"] = ["outcome"]
    doc["version"] = "one"
    message = load_error(tmp_path, doc)
    assert "event CaseClosed: field keeep" in message and "version" in message


def test_aggregate_key_must_cross_and_envelope_must_be_kept(tmp_path: Path) -> None:
    doc = gd_doc()
    rules = doc["events"]["VisitMade"]
    del rules["pseudonymise"]["case_id"]
    rules["drop"].append("case_id")
    rules["keep"].remove("event_id")
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field case_id: the aggregate id" in message
    assert "event VisitMade: field event_id: envelope field must be kept" in message
    assert "event VisitMade: field case_ref: shared field is written by no rule" in message


def test_keep_if_condition_is_checked(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["DonationReceived"]["keep_if"]["donor_name"] = {"field": "donor_type", "not_in": ["PERSON"]}
    assert "event DonationReceived: field donor_name" in load_error(tmp_path, doc)
    doc["events"]["DonationReceived"]["keep_if"]["donor_name"] = {"field": "donor_kind", "not_in": ["INDIVIDUAL"]}
    assert "'donor_kind'" in load_error(tmp_path, doc)


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="no agreement files"):
        load_agreements(tmp_path)
    with pytest.raises(AgreementError, match="does not exist"):
        load_agreements(tmp_path / "nope")


# -- shipped agreements ----------------------------------------------------------------------
def test_every_shipped_agreement_loads_and_covers_every_event(shipped: dict[str, Agreement]) -> None:
    assert set(shipped) == {"GD", "HK", "MO", "JS", "FJ"}
    expected_zones = {
        "GD": ("gba", "mainland"),
        "HK": ("gba",),
        "MO": ("gba",),
        "JS": ("mainland",),
        "FJ": ("mainland",),
    }
    for region, agreement in shipped.items():
        assert agreement.zones == expected_zones[region]
        assert set(agreement.plans) == set(EVENT_TYPES)
        assert agreement.key_variable == key_variable(agreement.id)
        for plan in agreement.plans.values():
            assert plan.unnamed == (), (region, plan.event_type)  # shipped files name every field


def test_key_variable_rule() -> None:
    assert key_variable("gd-exchange") == "HUB_AGREEMENT_KEY_GD_EXCHANGE"
    assert key_variable("hk-2026-pilot") == "HUB_AGREEMENT_KEY_HK_2026_PILOT"


def test_partner_entitlements(shipped: dict[str, Agreement]) -> None:
    assert not allows_partner(shipped["HK"], "JS")
    assert allows_partner(shipped["HK"], "GD") and allows_partner(shipped["HK"], "HK")
    assert not allows_partner(shipped["JS"], "MO")
    pool = list(shipped.values())
    assert entitled_zones(pool, "HK") == ("gba",)
    assert entitled_zones(pool, "MO") == ("gba",)
    assert entitled_zones(pool, "JS") == ("mainland",)
    assert entitled_zones(pool, "GD") == ("gba", "mainland")


# -- the crossing -----------------------------------------------------------------------------
@pytest.mark.parametrize("region", list(PLACES))
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_crosses_into_a_valid_shared_record(
    shipped: dict[str, Agreement], event_type: str, region: str
) -> None:
    raw = raw_record(event_type, **PLACES[region])
    crossing = apply(shipped[region], KEY, event_type, raw)
    shared = crossing.shared_record
    assert validate(shared, parsed_schema("shared", event_type), raise_errors=True)
    assert list(shared) == [f["name"] for f in parsed_schema("shared", event_type)["fields"]]
    assert shared["event_id"] == raw["event_id"]
    assert crossing.event_id == raw["event_id"]
    named = set(crossing.kept) | set(crossing.dropped)
    named |= {label.split("->")[0] for label in crossing.pseudonymised + crossing.generalised}
    assert named == set(raw)  # every raw field accounted for exactly once in the audit lists
    assert len(crossing.kept + crossing.dropped + crossing.pseudonymised + crossing.generalised) == len(raw)


def test_deny_by_default_drops_and_lists_an_unnamed_field(shipped: dict[str, Agreement]) -> None:
    raw = raw_record("CaseOpened")
    raw["client_nickname"] = "阿英婆婆"
    crossing = apply(shipped["GD"], KEY, "CaseOpened", raw)
    assert "client_nickname" not in crossing.shared_record
    assert "client_nickname" in crossing.dropped
    assert "阿英婆婆".encode() not in encode_shared("CaseOpened", crossing.shared_record)


def test_a_field_the_agreement_forgets_is_dropped_not_copied(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseOpened"]["drop"].remove("client_phone")
    agreement = load_agreement(write(tmp_path, doc))
    assert agreement.plans["CaseOpened"].unnamed == ("client_phone",)
    raw = raw_record("CaseOpened")
    crossing = apply(agreement, KEY, "CaseOpened", raw)
    assert "client_phone" in crossing.dropped
    assert raw["client_phone"].encode() not in encode_shared("CaseOpened", crossing.shared_record)


def _pii(event_type: str, raw: dict[str, Any]) -> list[str]:
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


@pytest.mark.parametrize(
    ("event_type", "overrides"),
    [(t, {}) for t in EVENT_TYPES] + [("DonationReceived", {"donor_type": "INDIVIDUAL", "donor_name": "王美玲"})],
)
def test_pii_never_reaches_shared_bytes_or_keys(
    shipped: dict[str, Agreement], event_type: str, overrides: dict[str, Any]
) -> None:
    raw = raw_record(event_type, **overrides)
    crossing = apply(shipped["GD"], KEY, event_type, raw)
    encoded = encode_shared(event_type, crossing.shared_record)
    key = crossing.key.encode("utf-8")
    for value in _pii(event_type, raw):
        assert value.encode("utf-8") not in encoded, value
        assert value.encode("utf-8") not in key, value


def test_donor_name_is_kept_only_when_the_donor_is_not_an_individual(shipped: dict[str, Agreement]) -> None:
    firm = apply(shipped["GD"], KEY, "DonationReceived", raw_record("DonationReceived"))
    assert firm.shared_record["donor_name"] == "深圳某科技有限公司" and "donor_name" in firm.kept
    assert "深圳某科技有限公司".encode() in encode_shared("DonationReceived", firm.shared_record)  # the scan can see
    person = raw_record("DonationReceived", donor_type="INDIVIDUAL", donor_name="王美玲")
    crossing = apply(shipped["GD"], KEY, "DonationReceived", person)
    assert crossing.shared_record["donor_name"] is None and "donor_name" in crossing.dropped


def test_pseudonyms_join_across_event_types(shipped: dict[str, Agreement]) -> None:
    gd = shipped["GD"]
    opened = apply(gd, KEY, "CaseOpened", raw_record("CaseOpened"))
    visit = apply(gd, KEY, "VisitMade", raw_record("VisitMade"))
    closed = apply(gd, KEY, "CaseClosed", raw_record("CaseClosed"))
    certified = apply(gd, KEY, "WorkerCertified", raw_record("WorkerCertified"))
    case_refs = {c.shared_record["case_ref"] for c in (opened, visit, closed)}
    assert len(case_refs) == 1 and {opened.key, visit.key, closed.key} == case_refs
    worker_refs = {c.shared_record["worker_ref"] for c in (opened, visit, closed, certified)}
    assert len(worker_refs) == 1
    assert opened.shared_record["case_ref"] != opened.shared_record["worker_ref"]
    assert opened.pseudonymised == ("case_id->case_ref", "client_id->client_ref", "worker_id->worker_ref")
    assert opened.generalised == ("client_birth_year->client_age_band",)


def test_pseudonyms_differ_by_district_key_and_kind(shipped: dict[str, Agreement]) -> None:
    gd = shipped["GD"]
    nanshan = apply(gd, KEY, "CaseOpened", raw_record("CaseOpened")).shared_record["case_ref"]
    other = raw_record("CaseOpened", district="guangzhou-tianhe", station=None)
    tianhe = apply(gd, KEY, "CaseOpened", other).shared_record["case_ref"]
    rekeyed = apply(gd, OTHER_KEY, "CaseOpened", raw_record("CaseOpened")).shared_record["case_ref"]
    assert len({nanshan, tianhe, rekeyed}) == 3
    assert pseudonym(KEY, "case", "d", "1") != pseudonym(KEY, "worker", "d", "1")
    assert pseudonym(KEY, "case", "ab", "c") != pseudonym(KEY, "case", "a", "bc")  # unambiguous encoding


def test_pseudonym_follows_the_documented_construction() -> None:
    def part(text: str) -> bytes:
        data = text.encode("utf-8")
        return len(data).to_bytes(4, "big") + data

    message = b"".join(part(p) for p in ("hub-pseudonym-v1", "case", "shenzhen-nanshan", "NS-2026-000123"))
    expected = hmac.new(KEY, message, hashlib.sha256).hexdigest()
    assert pseudonym(KEY, "case", "shenzhen-nanshan", "NS-2026-000123") == expected
    assert len(expected) == 64


def test_pseudonym_function_is_injectable(shipped: dict[str, Agreement]) -> None:
    calls: list[tuple[str, str, str]] = []

    def fake(key: bytes, kind: str, district: str, value: str) -> str:
        calls.append((kind, district, value))
        return f"{kind}-ref-{len(calls)}"

    crossing = apply(shipped["GD"], KEY, "ProjectEvaluated", raw_record("ProjectEvaluated"), pseudonym_fn=fake)
    assert crossing.shared_record["evaluator_refs"] == ["evaluator-ref-1", "evaluator-ref-2", "evaluator-ref-3"]
    assert [c[2] for c in calls] == ["EXP-003", "EXP-017", "EXP-029"]


@pytest.mark.parametrize(
    ("region", "zones"),
    [("GD", ("gba", "mainland")), ("HK", ("gba",)), ("MO", ("gba",)), ("JS", ("mainland",)), ("FJ", ("mainland",))],
)
def test_zones_of_a_crossing(shipped: dict[str, Agreement], region: str, zones: tuple[str, ...]) -> None:
    crossing = apply(shipped[region], KEY, "VisitMade", raw_record("VisitMade", **PLACES[region]))
    assert crossing.zones == zones
    assert crossing.topics == tuple(f"shared.{z}.visit-made" for z in zones)


def test_gd_agreement_limited_to_mainland_keeps_shenzhen_out_of_gba(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["zones"] = ["mainland"]
    doc["partners"] = ["JS"]
    agreement = load_agreement(write(tmp_path, doc))
    assert apply(agreement, KEY, "CaseClosed", raw_record("CaseClosed")).zones == ("mainland",)


def test_district_outside_the_agreement_region_is_refused(shipped: dict[str, Agreement]) -> None:
    raw = raw_record("VisitMade", **PLACES["HK"])
    with pytest.raises(PolicyError, match=r"district: hk-sham-shui-po .* outside agreement gd-exchange"):
        apply(shipped["GD"], KEY, "VisitMade", raw)
    raw["district"] = "atlantis"
    with pytest.raises(PolicyError, match="'atlantis' is not a known district"):
        apply(shipped["HK"], KEY, "VisitMade", raw)


def test_apply_refuses_uncovered_events_short_keys_and_missing_fields(tmp_path: Path) -> None:
    doc = gd_doc()
    del doc["events"]["VolunteerRegistered"]
    agreement = load_agreement(write(tmp_path, doc))
    with pytest.raises(PolicyError, match="no rules for event VolunteerRegistered"):
        apply(agreement, KEY, "VolunteerRegistered", raw_record("VolunteerRegistered"))
    with pytest.raises(PolicyError, match=f"at least {MIN_KEY_BYTES}"):
        apply(agreement, b"short", "CaseClosed", raw_record("CaseClosed"))
    raw = raw_record("CaseClosed")
    del raw["worker_id"]
    with pytest.raises(PolicyError, match="field worker_id: missing"):
        apply(agreement, KEY, "CaseClosed", raw)


# -- age bands ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0-17"),
        (17, "0-17"),
        (18, "18-59"),
        (59, "18-59"),
        (60, "60-69"),
        (69, "60-69"),
        (70, "70-79"),
        (79, "70-79"),
        (80, "80+"),
        (120, "80+"),
        (121, "UNKNOWN"),
        (-1, "UNKNOWN"),
    ],
)
def test_age_band_boundaries(age: int, band: str) -> None:
    on = date(2026, 6, 30)
    assert age_band(on.year - age, on) == band


def test_age_band_of_unknown_birth_year() -> None:
    assert age_band(None, date(2026, 1, 1)) == "UNKNOWN"


def test_age_band_uses_the_shanghai_date_of_occurred_at(shipped: dict[str, Agreement]) -> None:
    # 2025-12-31T16:30Z is already 2026-01-01 in Asia/Shanghai: someone born in 2008 turns 18 that year.
    raw = raw_record("CaseOpened", occurred_at="2025-12-31T16:30:00Z", client_birth_year=2008)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "18-59"
    raw = raw_record("CaseOpened", occurred_at="2025-12-31T15:30:00Z", client_birth_year=2008)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "0-17"
    raw = raw_record("CaseOpened", client_birth_year=None)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "UNKNOWN"


# -- keys -----------------------------------------------------------------------------------------
def _secrets(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_key_from_environment_wins_over_secrets_file(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    env_value, file_value = generate_key(), generate_key()
    path = _secrets(tmp_path, f"# keys\nexport HUB_AGREEMENT_KEY_GD_EXCHANGE='{file_value}'\n")
    assert load_key(shipped["GD"], {}, path) == file_value.encode()
    assert load_key(shipped["GD"], {"HUB_AGREEMENT_KEY_GD_EXCHANGE": env_value}, path) == env_value.encode()


def test_missing_key_names_the_variable_and_the_secrets_option(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_key(shipped["HK"], {"HUB_AGREEMENT_KEY_GD_EXCHANGE": generate_key()}, None)
    assert "HUB_AGREEMENT_KEY_HK_EXCHANGE" in str(info.value) and "HUB_SECRETS_FILE" in str(info.value)
    path = _secrets(tmp_path, f"HUB_AGREEMENT_KEY_GD_EXCHANGE={generate_key()}\n")
    with pytest.raises(PolicyError, match=r"HUB_AGREEMENT_KEY_HK_EXCHANGE.*secrets\.env"):
        load_key(shipped["HK"], {}, path)


def test_short_key_is_refused_without_echoing_it(shipped: dict[str, Agreement]) -> None:
    short = "s3cr3t-but-too-short-0123456789"  # 31 bytes
    with pytest.raises(PolicyError, match=r"HUB_AGREEMENT_KEY_MO_EXCHANGE.* is 31 bytes") as info:
        load_key(shipped["MO"], {"HUB_AGREEMENT_KEY_MO_EXCHANGE": short}, None)
    assert short not in str(info.value)
    assert len(load_key(shipped["MO"], {"HUB_AGREEMENT_KEY_MO_EXCHANGE": short + "x"}, None)) == 32


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_world_readable_secrets_file_is_refused(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    path = _secrets(tmp_path, f"HUB_AGREEMENT_KEY_GD_EXCHANGE={generate_key()}\n", mode=0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(shipped["GD"], {}, path)


def test_malformed_secrets_file_names_the_line_not_the_content(tmp_path: Path) -> None:
    path = _secrets(tmp_path, "HUB_AGREEMENT_KEY_GD_EXCHANGE=ok\nleaked-key-material\n")
    with pytest.raises(ConfigError, match=r"secrets\.env:2: expected NAME=value") as info:
        read_secrets_file(path)
    assert "leaked-key-material" not in str(info.value)


def test_write_demo_secrets_creates_then_only_fills_gaps(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    path = tmp_path / ".hub" / "secrets.env"
    written = write_demo_secrets(path, [shipped["GD"], shipped["HK"]])
    assert written == ["HUB_AGREEMENT_KEY_GD_EXCHANGE", "HUB_AGREEMENT_KEY_HK_EXCHANGE"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    first = read_secrets_file(path)
    assert write_demo_secrets(path, shipped.values()) == [
        "HUB_AGREEMENT_KEY_FJ_EXCHANGE",
        "HUB_AGREEMENT_KEY_JS_EXCHANGE",
        "HUB_AGREEMENT_KEY_MO_EXCHANGE",
    ]
    assert write_demo_secrets(path, shipped.values()) == []
    second = read_secrets_file(path)
    assert {k: second[k] for k in first} == first  # existing keys never replaced
    for agreement in shipped.values():
        assert len(load_key(agreement, {}, path)) >= MIN_KEY_BYTES


# -- audit --------------------------------------------------------------------------------------------
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
    for value in _pii("CaseOpened", raw):
        assert value.encode("utf-8") not in buf.getvalue()


def test_parse_agreement_from_text_matches_the_file() -> None:
    text = (SHIPPED / "gd.yaml").read_text(encoding="utf-8")
    assert parse_agreement(text, "gd.yaml").plans.keys() == load_agreement(SHIPPED / "gd.yaml").plans.keys()


# -- CLI -----------------------------------------------------------------------------------------------
def _hub(args: list[str], tmp_path: Path, **env: str) -> Result:
    """The ``hub`` CLI in-process, with no HUB_* variable but ``env`` and no ``.env`` file."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.upper().startswith("HUB_")}
    clean.update(env)
    return CliRunner().invoke(app, ["--env-file", str(tmp_path / "absent.env"), *args], env=clean)


def test_cli_check_passes_on_the_shipped_agreements(tmp_path: Path) -> None:
    # As a user runs it: the console script, registered in cli.main.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    proc = subprocess.run(
        [HUB, "agreements", "check"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 agreement(s)" in proc.stdout and "HUB_AGREEMENT_KEY_GD_EXCHANGE" in proc.stdout


def test_cli_check_fails_on_a_broken_directory(tmp_path: Path) -> None:
    broken = tmp_path / "agreements"
    broken.mkdir()
    doc = gd_doc()
    doc["events"]["VisitMade"]["keep"].append("visit_notes")
    write(broken, doc)
    by_option = _hub(["agreements", "check", "--dir", str(broken)], tmp_path)
    by_setting = _hub(["agreements", "check"], tmp_path, HUB_AGREEMENTS_DIR=str(broken))
    for result in (by_option, by_setting):
        assert result.exit_code == 1, result.stdout
        assert "gd.yaml: event VisitMade: field visit_notes" in " ".join(result.stderr.split())


def test_cli_check_lists_fields_dropped_by_default_and_checks_keys(tmp_path: Path) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    doc = gd_doc()
    doc["events"]["VisitMade"]["drop"].remove("notes")
    write(folder, doc)
    result = _hub(["agreements", "check", "--dir", str(folder)], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "VisitMade: dropped by default (no rule): notes" in result.stdout
    result = _hub(["agreements", "check", "--dir", str(folder), "--keys"], tmp_path)
    assert result.exit_code == 1 and "HUB_AGREEMENT_KEY_GD_EXCHANGE" in result.stderr
    key = {"HUB_AGREEMENT_KEY_GD_EXCHANGE": generate_key()}
    result = _hub(["agreements", "check", "--dir", str(folder), "--keys"], tmp_path, **key)
    assert result.exit_code == 0, result.stderr


def test_cli_show_prints_the_rules(tmp_path: Path) -> None:
    result = _hub(["agreements", "show", "hk"], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "hk-exchange v1" in result.stdout and "zones gba" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "client_birth" in line]
    assert rows and "generalise" in rows[0] and "age_band" in rows[0]
    result = _hub(["agreements", "show", "TW"], tmp_path)
    assert result.exit_code == 1 and "no agreement for region" in result.stderr


def test_agreement_modules_stay_pure() -> None:
    code = (
        "import sys, hub.agreements, hub.agreement_keys; "
        "print(sorted(m for m in ('kafka', 'faust', 'aiokafka', 'sqlalchemy', 'fastapi') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
