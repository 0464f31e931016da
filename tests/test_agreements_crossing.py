"""The crossing of one raw record into its shared form (hub.agreements.crossing): deny by default, no PII out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastavro.validation import validate

from hub.agreements.crossing import apply
from hub.agreements.keys import MIN_KEY_BYTES
from hub.agreements.loading import load_agreement
from hub.agreements.model import Agreement
from hub.agreements.transforms import pseudonym
from hub.catalogue import EVENT_TYPES
from hub.errors import PolicyError
from hub.schemas import parsed_schema
from tests.agreement_cases import (
    KEY,
    OTHER_KEY,
    PLACES,
    encode_shared,
    gd_doc,
    pii,
    raw_record,
    shipped_agreements,
    write,
)


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
    return shipped_agreements()


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
    for value in pii(event_type, raw):
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


def test_age_band_uses_the_shanghai_date_of_occurred_at(shipped: dict[str, Agreement]) -> None:
    # 2025-12-31T16:30Z is already 2026-01-01 in Asia/Shanghai: someone born in 2008 turns 18 that year.
    raw = raw_record("CaseOpened", occurred_at="2025-12-31T16:30:00Z", client_birth_year=2008)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "18-59"
    raw = raw_record("CaseOpened", occurred_at="2025-12-31T15:30:00Z", client_birth_year=2008)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "0-17"
    raw = raw_record("CaseOpened", client_birth_year=None)
    assert apply(shipped["GD"], KEY, "CaseOpened", raw).shared_record["client_age_band"] == "UNKNOWN"
