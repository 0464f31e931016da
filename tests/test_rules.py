"""The pure projection rules, on shared records made by the real gateway path."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.agreements import apply
from hub.catalogue import EVENT_TYPES
from hub.errors import ProjectionError
from projections import rules
from projections.rules import CLOSED_VERSION, MAIN_VERSION, Refresh, Upsert, project
from projections.tables import TABLES
from tests.factories import event_records
from tests.shared_events import HK, TEST_KEY, agreements, changes, context, crossing


def only_upsert(result: list[rules.RowChange]) -> Upsert:
    upserts = [c for c in result if isinstance(c, Upsert)]
    assert len(upserts) == 1
    return upserts[0]


def test_case_opened_writes_its_columns_and_refreshes_the_case() -> None:
    c = crossing("CaseOpened")
    s = c.shared_record
    upsert, refresh = changes(c, "mainland")
    assert isinstance(upsert, Upsert) and isinstance(refresh, Refresh)
    key = {"zone": "mainland", "district": "shenzhen-nanshan", "case_ref": s["case_ref"]}
    assert (upsert.table, dict(upsert.key), upsert.version_columns, upsert.keep) == (
        "cases",
        key,
        MAIN_VERSION,
        "latest",
    )
    assert upsert.version == (int(s["occurred_at"].timestamp() * 1000), c.event_id)
    assert upsert.values["event_id"] == c.event_id
    assert upsert.values["vulnerable_groups"] == "ELDERLY_ALONE,LOW_INCOME"
    assert (upsert.values["month"], upsert.values["quarter"], upsert.values["year"]) == ("2026-03", "2026-Q1", "2026")
    assert not any(name.startswith("closed") for name in upsert.values)
    assert (refresh.table, dict(refresh.key)) == ("cases", key)


def test_case_closed_writes_only_the_closing_columns() -> None:
    c = crossing("CaseClosed", occurred_at="2026-06-30T16:30:00Z")
    upsert = only_upsert(changes(c))
    assert upsert.version_columns == CLOSED_VERSION
    assert set(upsert.values) == {
        "closed_event_id",
        "closed_at",
        "closed_ms",
        "closed_local_date",
        "closed_month",
        "closed_quarter",
        "closed_year",
        "close_outcome",
        "closed_worker_ref",
    }
    assert upsert.values["closed_at"] == datetime(2026, 6, 30, 16, 30, tzinfo=UTC)
    assert (upsert.values["closed_local_date"], upsert.values["closed_quarter"]) == (date(2026, 7, 1), "2026-Q3")
    assert dict(upsert.insert_values) == {"region": "GD", "station": "ns-shekou"}
    assert any(isinstance(ch, Refresh) and ch.key == upsert.key for ch in changes(c))


def test_a_visit_refreshes_its_case() -> None:
    c = crossing("VisitMade")
    upsert, refresh = changes(c)
    assert isinstance(upsert, Upsert) and isinstance(refresh, Refresh)
    assert upsert.key["visit_id"] == c.shared_record["visit_id"]
    assert dict(refresh.key) == {"zone": "gba", "district": "shenzhen-nanshan", "case_ref": c.shared_record["case_ref"]}


def test_donation_amounts_are_converted_on_the_local_date() -> None:
    c = crossing("DonationReceived", **HK, amount="100.00", currency="HKD", occurred_at="2026-03-31T16:30:00Z")
    values = only_upsert(changes(c)).values
    # 2026-04-01 locally: the April rate (0.92) of the test table applies.
    assert (values["amount"], values["fx_rate"], values["amount_reporting"]) == (
        Decimal("100.00"),
        Decimal("0.92"),
        Decimal("92.00"),
    )
    assert values["region"] == "HK"


def test_each_grant_is_its_own_funding_row() -> None:
    first, second = crossing("ProjectFunded"), crossing("ProjectFunded")
    keys = [only_upsert(changes(c)).key for c in (first, second)]
    assert [k["event_id"] for k in keys] == [first.event_id, second.event_id]
    assert "event_id" not in only_upsert(changes(first)).values


@pytest.mark.parametrize(
    ("event_type", "table"), [("WorkerCertified", "certifications"), ("VolunteerRegistered", "volunteers")]
)
def test_first_seen_facts_keep_the_earliest(event_type: str, table: str) -> None:
    upsert = only_upsert(changes(crossing(event_type)))
    assert (upsert.table, upsert.keep) == (table, "earliest")


def test_the_region_comes_from_the_district() -> None:
    c = crossing("TrainingHeld", **HK)
    record = {**c.shared_record, "region": "GD"}  # what a reader falls back to for an unknown symbol
    assert only_upsert(project("gba", "TrainingHeld", record, context())).values["region"] == "HK"


def test_a_republished_event_gives_identical_changes() -> None:
    c = crossing("ServiceDelivered")
    assert changes(c) == changes(c)
    first, again = only_upsert(changes(c)), only_upsert(changes(c))
    assert (dict(first.key), dict(first.values), first.version) == (dict(again.key), dict(again.values), again.version)


@pytest.mark.parametrize(
    ("event_type", "mutate", "message"),
    [
        ("VisitMade", {"visit_id": None}, "VisitMade.visit_id: must be a non-empty string"),
        ("VisitMade", {"duration_minutes": "45"}, "VisitMade.duration_minutes: must be an integer"),
        ("CaseOpened", {"vulnerable_groups": "LOW_INCOME"}, "CaseOpened.vulnerable_groups: must be a list"),
        ("DonationReceived", {"amount": Decimal("0")}, "DonationReceived.amount: must be a positive amount"),
        ("DonationReceived", {"amount": 1.5}, "DonationReceived.amount: must be a decimal amount"),
        ("DonationReceived", {"currency": "USD"}, "DonationReceived.currency: no exchange rate for 'USD'"),
        ("ProjectEvaluated", {"period_start": "2025-01-01"}, "ProjectEvaluated.period_start: must be a date"),
        ("TrainingHeld", {"occurred_at": datetime(2026, 1, 1)}, "TrainingHeld.occurred_at: must be timezone-aware"),
        ("TrainingHeld", {"station": 7}, "TrainingHeld.station: must be a string or null"),
    ],
)
def test_bad_records_are_refused_naming_the_field(event_type: str, mutate: dict[str, Any], message: str) -> None:
    record = {**crossing(event_type).shared_record, **mutate}
    with pytest.raises(ProjectionError, match=message):
        project("gba", event_type, record, context())


def test_a_missing_field_is_named() -> None:
    record = dict(crossing("ServiceDelivered").shared_record)
    del record["person_times"]
    with pytest.raises(ProjectionError, match=r"ServiceDelivered\.person_times: is required"):
        project("gba", "ServiceDelivered", record, context())


def test_unknown_event_types_and_zones_are_refused() -> None:
    record = crossing("TrainingHeld").shared_record
    with pytest.raises(ProjectionError, match="type: no projection rule for event type 'Nope'"):
        project("gba", "Nope", record, context())
    with pytest.raises(ProjectionError, match="zone: must be a non-empty"):
        project("", "TrainingHeld", record, context())


def test_every_event_type_has_a_rule_and_a_table() -> None:
    assert set(rules.TABLE_OF) == set(EVENT_TYPES)
    assert set(rules.TABLE_OF.values()) <= set(TABLES)


def test_the_rules_module_stays_pure() -> None:
    tree = ast.parse(Path(rules.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & {"sqlalchemy", "kafka", "faust", "fastapi", "aiokafka"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), event_type=st.sampled_from(EVENT_TYPES))
def test_changes_fit_the_tables(data: st.DataObject, event_type: str) -> None:
    """Any valid event, crossed by its region's agreement, projects onto existing, sufficient columns."""
    raw = data.draw(event_records(event_type))
    crossed = apply(agreements()[raw["region"]], TEST_KEY, event_type, raw)
    shipped = rules.ProjectionContext()  # the shipped rates cover every date the hub accepts
    for zone in crossed.zones or ("gba",):
        for change in project(zone, event_type, crossed.shared_record, shipped):
            table = TABLES[change.table]
            assert set(change.key) == {c.name for c in table.primary_key.columns}
            if isinstance(change, Upsert):
                written = set(change.key) | set(change.values) | set(change.insert_values)
                assert written <= set(table.c.keys())
                required = {c.name for c in table.c if not c.nullable and c.server_default is None}
                if change.version_columns == MAIN_VERSION:
                    assert required <= written, f"{change.table}: {required - written} not written"
                    assert all(change.values[n] is not None or table.c[n].nullable for n in change.values)


# -- derived columns ------------------------------------------------------------------------------------
MARCH_2 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MARCH_9 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("opened_ms", "closed_ms", "status"),
    [
        (None, None, "unknown"),
        (100, None, "open"),
        (None, 100, "closed"),  # a case first seen through its closing
        (100, 200, "closed"),
        (100, 100, "closed"),
        (200, 100, "open"),  # opened again after the closing
    ],
)
def test_a_cases_status_follows_from_its_opening_and_closing(
    opened_ms: int | None, closed_ms: int | None, status: str
) -> None:
    assert rules.case_status(opened_ms, closed_ms) == status


def test_only_home_visits_count_as_home_visits() -> None:
    assert rules.is_home_visit(rules.HOME_VISIT) and rules.HOME_VISIT == "HOME"
    assert not any(rules.is_home_visit(t) for t in ("PHONE", "OFFICE", "home", None))


def test_a_cases_derived_columns_come_from_its_visits() -> None:
    visits = [
        rules.VisitTally("HOME", 2, MARCH_2),
        rules.VisitTally("PHONE", 3, MARCH_9),
        rules.VisitTally("OFFICE", 0, None),
    ]
    assert rules.derive_case(100, None, visits) == rules.CaseDerived("open", 5, 2, MARCH_9)
    assert rules.derive_case(None, None, []) == rules.CaseDerived("unknown", 0, 0, None)
    assert set(rules.CASE_DERIVED_COLUMNS) == set(rules.CaseDerived.__dataclass_fields__)
    assert set(rules.CASE_DERIVED_COLUMNS) <= set(TABLES["cases"].c.keys())


_TALLIES = st.lists(
    st.builds(
        rules.VisitTally,
        visit_type=st.sampled_from(["HOME", "PHONE", "OFFICE", "GROUP"]),
        count=st.integers(0, 5),
        last_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    ),
    max_size=6,
)


@given(
    tallies=_TALLIES, opened=st.one_of(st.none(), st.integers(0, 10)), closed=st.one_of(st.none(), st.integers(0, 10))
)
def test_derived_columns_do_not_depend_on_the_order_of_the_facts(
    tallies: list[rules.VisitTally], opened: int | None, closed: int | None
) -> None:
    derived = rules.derive_case(opened, closed, tallies)
    assert rules.derive_case(opened, closed, list(reversed(tallies))) == derived
    assert derived.visit_count == sum(t.count for t in tallies)
    assert derived.home_visit_count == sum(t.count for t in tallies if t.visit_type == "HOME")
