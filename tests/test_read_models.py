"""The read-model suite: one set of tests, run against SQLite and against PostgreSQL.

Shared records come from the real gateway path (factory doc -> validate_event
-> agreements.apply), the schema from the real Alembic migrations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, text

from hub.agreements import Crossing
from hub.errors import ProjectionError
from projections import migrations, store
from projections.store import ShadowBehind, SourceRecord
from projections.tables import SHADOW_SUFFIX, metadata
from tests.shared_events import (
    APRIL_1,
    DIALECTS,
    HK,
    HKD_FROM_APRIL,
    HKD_Q1,
    MO,
    MOP_RATE,
    TINGHU,
    case_story,
    changes,
    context,
    count,
    crossing,
    read_models_engine,
    records,
    reset,
    row,
)

P = "read_models"


@pytest.fixture(params=DIALECTS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from read_models_engine(request, tmp_path)


# -- every event type ------------------------------------------------------------------------------
def test_every_event_type_projects_into_its_table(engine: Engine) -> None:
    opened = crossing("CaseOpened")
    visit = crossing("VisitMade", occurred_at="2026-03-03T10:15:00+08:00")
    closed = crossing("CaseClosed", occurred_at="2026-03-28T11:00:00+08:00")
    donation = crossing("DonationReceived")
    evaluation = crossing("ProjectEvaluated")
    funded = crossing("ProjectFunded")
    service = crossing("ServiceDelivered")
    training = crossing("TrainingHeld")
    certified = crossing("WorkerCertified")
    volunteer = crossing("VolunteerRegistered")
    batch = [opened, visit, closed, donation, evaluation, funded, service, training, certified, volunteer]
    summary = store.apply_batch(engine, P, records(batch))
    assert (summary.applied, summary.skipped) == (10, 0)
    # Ten fact upserts (the case row twice: its opening and its closing columns) and one refreshed case.
    assert summary.changed == 11
    assert summary.offsets == {("shared.gba.test", 0): 10}

    def check(table: str, c: Crossing, key: dict[str, Any], copied: list[str]) -> dict[str, Any]:
        r = row(engine, table, zone="gba", district="shenzhen-nanshan", **key)
        s = c.shared_record
        for name in ["region", "station", "occurred_at", *copied]:
            assert r[name] == s[name], f"{table}.{name}"
        assert r["occurred_ms"] == int(s["occurred_at"].timestamp() * 1000)
        assert (r["local_date"], r["month"], r["quarter"], r["year"]) == (
            date(2026, 3, 2),
            "2026-03",
            "2026-Q1",
            "2026",
        )
        return r

    s = opened.shared_record
    case = check(
        "cases",
        opened,
        {"case_ref": s["case_ref"]},
        ["event_id", "service_area", "risk_level", "client_ref", "client_age_band", "client_gender", "worker_ref"],
    )
    assert case["referral_source"] == s["referral_source"]
    assert case["vulnerable_groups"] == ",".join(sorted(s["vulnerable_groups"]))
    assert case["closed_event_id"] == closed.event_id
    assert case["closed_at"] == datetime(2026, 3, 28, 3, 0, tzinfo=UTC)
    assert (case["closed_local_date"], case["closed_month"], case["closed_quarter"]) == (
        date(2026, 3, 28),
        "2026-03",
        "2026-Q1",
    )
    assert case["close_outcome"] == closed.shared_record["outcome"]
    assert (case["status"], case["visit_count"], case["home_visit_count"]) == ("closed", 1, 1)
    assert case["last_visit_at"] == visit.shared_record["occurred_at"]

    v = row(engine, "visits", zone="gba", district="shenzhen-nanshan", visit_id=visit.shared_record["visit_id"])
    for name in ["event_id", "case_ref", "worker_ref", "visit_type", "duration_minutes", "volunteer_count"]:
        assert v[name] == visit.shared_record[name], name
    assert (v["month"], v["local_date"]) == ("2026-03", date(2026, 3, 3))

    d = check(
        "donations",
        donation,
        {"donation_id": donation.shared_record["donation_id"]},
        ["event_id", "amount", "currency", "donor_type", "donor_name", "project_id", "beneficiaries"],
    )
    assert (d["amount_reporting"], d["reporting_currency"], d["fx_rate"]) == (Decimal("50000.00"), "CNY", 1)
    e = check(
        "evaluations",
        evaluation,
        {"evaluation_id": evaluation.shared_record["evaluation_id"]},
        [
            *("event_id", "project_id", "project_name", "service_area", "period_start", "period_end"),
            *(
                "score_professional",
                "score_effectiveness",
                "score_financial",
                "score_overall",
                "outcome",
                "beneficiaries",
            ),
        ],
    )
    assert e["evaluator_count"] == len(evaluation.shared_record["evaluator_refs"]) == 3
    f = check(
        "fundings",
        funded,
        {"event_id": funded.event_id},
        ["project_id", "project_name", "programme", "amount", "currency"],
    )
    assert f["amount_reporting"] == funded.shared_record["amount"]
    check(
        "services",
        service,
        {"service_id": service.shared_record["service_id"]},
        ["event_id", "service_area", "project_id", "person_times", "volunteer_count"],
    )
    check(
        "trainings",
        training,
        {"training_id": training.shared_record["training_id"]},
        ["event_id", "topic", "participants", "hours"],
    )
    check(
        "certifications",
        certified,
        {"worker_ref": certified.shared_record["worker_ref"], "level": certified.shared_record["level"]},
        ["event_id"],
    )
    check("volunteers", volunteer, {"volunteer_ref": volunteer.shared_record["volunteer_ref"]}, ["event_id"])
    assert count(engine, "indicators") == 0


def test_one_event_in_two_zones_is_a_fact_of_each(engine: Engine) -> None:
    opened = crossing("CaseOpened")
    assert opened.zones == ("gba", "mainland")
    batch = [
        SourceRecord("shared.gba.case-opened", 0, 0, changes(opened, "gba")),
        SourceRecord("shared.mainland.case-opened", 0, 0, changes(opened, "mainland")),
    ]
    store.apply_batch(engine, P, batch)
    for zone in opened.zones:
        assert row(engine, "cases", zone=zone, district="shenzhen-nanshan", case_ref=opened.key)["event_id"] == (
            opened.event_id
        )


def test_out_of_order_gives_the_same_tables_as_in_order(engine: Engine) -> None:
    story = case_story()
    store.apply_batch(engine, P, records(story))
    in_order = store.dump(engine)
    a = row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=story[0].key)
    assert (a["status"], a["visit_count"], a["home_visit_count"]) == ("closed", 2, 1)
    assert a["last_visit_at"] == story[2].shared_record["occurred_at"]
    reset(engine)
    # Visits before their case and CaseClosed before CaseOpened, each event its own batch.
    for i, c in enumerate(reversed(story)):
        store.apply_batch(engine, P, records([c], first_offset=i))
    assert store.dump(engine) == in_order


def test_a_visit_moved_to_another_case_refreshes_both(engine: Engine) -> None:
    story = case_story()
    store.apply_batch(engine, P, records(story))
    moved = crossing(
        "VisitMade", case_id="NS-B", visit_id="V-A1", visit_type="HOME", occurred_at="2026-02-20T10:00:00+08:00"
    )
    store.apply_batch(engine, P, records([moved], first_offset=10))
    a = row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=story[0].key)
    b = row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=story[4].key)
    assert (a["visit_count"], a["home_visit_count"]) == (1, 0)
    assert (b["visit_count"], b["home_visit_count"]) == (2, 2)
    assert b["last_visit_at"] == moved.shared_record["occurred_at"]
    # The older version arriving late changes nothing.
    store.apply_batch(engine, P, records([story[1]], first_offset=11))
    assert row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=story[4].key)["visit_count"] == 2


def test_first_seen_facts_keep_the_earliest_version(engine: Engine) -> None:
    later = crossing("VolunteerRegistered", volunteer_id="VOL-1", occurred_at="2026-05-01T09:00:00+08:00")
    earlier = crossing("VolunteerRegistered", volunteer_id="VOL-1", occurred_at="2026-02-01T09:00:00+08:00")
    store.apply_batch(engine, P, records([later, earlier]))
    r = row(engine, "volunteers", zone="gba", district="shenzhen-nanshan", volunteer_ref=later.key)
    assert (r["event_id"], r["month"]) == (earlier.event_id, "2026-02")
    assert count(engine, "volunteers") == 1


# -- money and periods -----------------------------------------------------------------------------
def test_donations_carry_the_reporting_currency_amount_and_the_rate_used(engine: Engine) -> None:
    march = crossing("DonationReceived", **HK, donation_id="HK-1", amount="1000.00", currency="HKD",
                     occurred_at="2026-03-10T10:00:00+08:00")  # fmt: skip
    april = crossing("DonationReceived", **HK, donation_id="HK-2", amount="1000.00", currency="HKD",
                     occurred_at="2026-04-02T10:00:00+08:00")  # fmt: skip
    macao = crossing("DonationReceived", **MO, donation_id="MO-1", amount="333.33", currency="MOP")
    yuan = crossing("DonationReceived", donation_id="NS-1", amount="50000.00", currency="CNY")
    store.apply_batch(engine, P, records([march, april, macao, yuan]))

    def donation(district: str, donation_id: str) -> dict[str, Any]:
        return row(engine, "donations", zone="gba", district=district, donation_id=donation_id)

    d = donation("hk-sham-shui-po", "HK-1")
    assert (d["amount"], d["currency"], d["reporting_currency"]) == (Decimal("1000.00"), "HKD", "CNY")
    assert (d["fx_rate"], d["fx_valid_from"], d["amount_reporting"]) == (HKD_Q1, date(2020, 1, 1), Decimal("900.00"))
    d = donation("hk-sham-shui-po", "HK-2")
    assert (d["fx_rate"], d["fx_valid_from"], d["amount_reporting"]) == (HKD_FROM_APRIL, APRIL_1, Decimal("920.00"))
    d = donation("mo-sao-lourenco", "MO-1")
    assert d["amount_reporting"] == (Decimal("333.33") * MOP_RATE).quantize(Decimal("0.01"))
    assert d["region"] == "MO"
    d = donation("shenzhen-nanshan", "NS-1")
    assert (d["amount_reporting"], d["fx_rate"], d["fx_valid_from"]) == (Decimal("50000.00"), 1, None)


def test_reporting_in_another_currency_crosses_through_the_base(engine: Engine) -> None:
    yuan = crossing("DonationReceived", donation_id="NS-9", amount="900.00", currency="CNY")
    store.apply_batch(engine, P, [SourceRecord("t", 0, 0, changes(yuan, ctx=context("HKD")))])
    d = row(engine, "donations", zone="gba", district="shenzhen-nanshan", donation_id="NS-9")
    assert (d["reporting_currency"], d["amount_reporting"]) == ("HKD", Decimal("1000.00"))


@pytest.mark.parametrize(
    ("occurred_at", "local_date", "month", "quarter", "year"),
    [
        ("2026-03-31T17:30:00Z", date(2026, 4, 1), "2026-04", "2026-Q2", "2026"),
        ("2026-03-31T15:59:59.999Z", date(2026, 3, 31), "2026-03", "2026-Q1", "2026"),
        ("2025-12-31T16:00:00Z", date(2026, 1, 1), "2026-01", "2026-Q1", "2026"),
    ],
)
def test_period_columns_are_in_asia_shanghai(
    engine: Engine, occurred_at: str, local_date: date, month: str, quarter: str, year: str
) -> None:
    opened = crossing("CaseOpened", **TINGHU, occurred_at=occurred_at)
    service = crossing("ServiceDelivered", **TINGHU, occurred_at=occurred_at)
    store.apply_batch(engine, P, records([opened, service], zone="mainland"))
    for table, key in (("cases", {"case_ref": opened.key}), ("services", {"service_id": service.key})):
        r = row(engine, table, zone="mainland", district="yancheng-tinghu", **key)
        assert (r["local_date"], r["month"], r["quarter"], r["year"]) == (local_date, month, quarter, year)
        assert r["region"] == "JS"


# -- order independence, property-based ------------------------------------------------------------
def _small_world() -> list[Crossing]:
    return [
        *case_story(),
        # Case C is closed but never opened in the stream; case B is opened again later (a newer version).
        crossing("CaseClosed", case_id="NS-C", outcome="REFERRED", occurred_at="2026-03-01T09:00:00+08:00"),
        crossing(
            "VisitMade", case_id="NS-C", visit_id="V-C1", visit_type="HOME", occurred_at="2026-02-27T09:00:00+08:00"
        ),
        crossing("CaseOpened", case_id="NS-B", risk_level="CRISIS", occurred_at="2026-02-15T09:00:00+08:00"),
        crossing("DonationReceived", **HK, donation_id="HK-7", amount="10.00", currency="HKD"),
        crossing("VolunteerRegistered", volunteer_id="VOL-9", occurred_at="2026-05-01T09:00:00+08:00"),
        crossing("VolunteerRegistered", volunteer_id="VOL-9", occurred_at="2026-01-01T09:00:00+08:00"),
        crossing("WorkerCertified", level="SENIOR", occurred_at="2026-07-01T09:00:00+08:00"),
        crossing("WorkerCertified", level="SENIOR", occurred_at="2026-06-01T09:00:00+08:00"),
    ]


_WORLD = _small_world()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(_WORLD))), seed=st.integers(0, 2**16))
def test_any_order_and_batching_gives_the_same_tables(engine: Engine, order: list[int], seed: int) -> None:
    reset(engine)
    store.apply_batch(engine, P, records(_WORLD))
    reference = store.dump(engine)
    reset(engine)
    shuffled = [_WORLD[i] for i in order]
    batches: list[list[Crossing]] = []
    rng = random.Random(seed)
    while shuffled:
        size = rng.randint(1, 4)
        batches.append(shuffled[:size])
        shuffled = shuffled[size:]
    offset = 0
    for batch in batches:
        store.apply_batch(engine, P, records(batch, first_offset=offset))
        offset += len(batch)
    assert store.dump(engine) == reference


# -- shadow tables ---------------------------------------------------------------------------------
def _fill_shadow(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    store.create_shadow(engine, P)
    store.apply_batch(engine, P, records([*case_story(), crossing("TrainingHeld")]), suffix=SHADOW_SUFFIX)
    return store.dump(engine, suffix=SHADOW_SUFFIX)


def _schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
        )
        return list(compare_metadata(context, metadata))


def test_swap_shadow_replaces_the_live_tables(engine: Engine) -> None:
    store.apply_batch(engine, P, records([crossing("DonationReceived")]))
    shadow = _fill_shadow(engine)
    assert store.dump(engine)["donations"] != []
    assert store.swap_shadow(engine, P) == {("shared.gba.test", 0): 7}
    assert store.dump(engine) == shadow
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): 7}
    assert store.stored_offsets(engine, P, suffix=SHADOW_SUFFIX) == {}
    names = set(inspect(engine).get_table_names())
    assert not {n for n in names if n.endswith(SHADOW_SUFFIX)}
    assert _schema_diff(engine) == []  # indexes and keys carry the live names again
    # The live tables keep working, and a second rebuild can reuse the shadow names.
    store.apply_batch(engine, P, records([crossing("DonationReceived")], first_offset=7))
    assert count(engine, "donations") == 1
    _fill_shadow(engine)
    store.swap_shadow(engine, P, require_caught_up=False)
    assert count(engine, "donations") == 0 and count(engine, "trainings") == 1
    assert _schema_diff(engine) == []


def test_swap_shadow_is_refused_while_the_shadow_is_behind(engine: Engine) -> None:
    store.apply_batch(engine, P, records(case_story() + [crossing("TrainingHeld")] * 3))
    live = store.dump(engine)
    _fill_shadow(engine)
    with pytest.raises(ShadowBehind, match=r"shared\.gba\.test\[0\] 7 < 9"):
        store.swap_shadow(engine, P)
    assert store.dump(engine) == live


def test_swap_shadow_is_atomic(engine: Engine) -> None:
    store.apply_batch(engine, P, records([crossing("DonationReceived")]))
    live = store.dump(engine)
    shadow = _fill_shadow(engine)
    tables_before = set(inspect(engine).get_table_names())
    # A view on the last table swapped makes the swap fail after the other tables were already renamed.
    with engine.begin() as conn:
        conn.execute(text("CREATE VIEW blocker AS SELECT zone FROM indicators"))
    with pytest.raises(ProjectionError, match="indicators"):
        store.swap_shadow(engine, P, require_caught_up=False)
    assert set(inspect(engine).get_table_names()) == tables_before
    assert store.dump(engine) == live
    assert store.dump(engine, suffix=SHADOW_SUFFIX) == shadow
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): 1}
    assert store.stored_offsets(engine, P, suffix=SHADOW_SUFFIX) == {("shared.gba.test", 0): 7}
    with engine.begin() as conn:
        conn.execute(text("DROP VIEW blocker"))
    store.swap_shadow(engine, P, require_caught_up=False)
    assert store.dump(engine) == shadow


# -- migrations ------------------------------------------------------------------------------------
def test_alembic_upgrade_from_empty_creates_exactly_the_metadata(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert names == set(metadata.tables) | {migrations.VERSION_TABLE}
    assert _schema_diff(engine) == []
    assert migrations.current(engine) == migrations.head()
    assert migrations.upgrade_engine(engine) == migrations.head()  # idempotent
    assert set(inspect(engine).get_table_names()) == names
