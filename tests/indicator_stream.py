"""A generated stream with known totals, loaded through the real pipeline, and its expected indicators.

``known_stream(seed)`` makes raw JSON documents (the ingest form) for four
districts in three regions over 2026. ``load(engine, docs)`` takes them (or
any stream of raw documents, such as the demo data) the way the hub does:
validate_event -> agreements.apply -> rules.project -> store.apply_batch.
``expected(docs, zone)`` computes every indicator straight from the raw
documents, with its own code (not the hub's SQL or
``projections.indicator_computation``), for the tests to compare with the table.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from hub.agreements import apply
from hub.sql import make_engine
from hub.validation import validate_event
from projections import migrations
from projections.rules import project
from projections.store import SourceRecord, apply_batch
from tests.factories import valid_event_doc
from tests.shared_events import TEST_KEY, agreements, context

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
Doc = dict[str, Any]
Key = tuple[str, str, str, str, str]

#: district -> (region, stations, currency, zones)
PLACES: Final[dict[str, tuple[str, tuple[str | None, ...], str, tuple[str, ...]]]] = {
    "shenzhen-nanshan": ("GD", ("ns-shekou", "ns-xili", "ns-yuehai"), "CNY", ("gba", "mainland")),
    "hk-sham-shui-po": ("HK", (None,), "HKD", ("gba",)),
    "mo-taipa": ("MO", (None,), "MOP", ("gba",)),
    "yancheng-tinghu": ("JS", (None,), "CNY", ("mainland",)),
}
LEVELS: Final = ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR", "GENERALIST", "SUPERVISOR", "OTHER")
PROGRAMMES: Final = ("VENTURE_PHILANTHROPY", "MICRO_PROJECT", "GOVERNMENT_PURCHASE", "CHARITY", "OTHER")
DONOR_TYPES: Final = ("ENTERPRISE", "MERCHANT", "INDIVIDUAL", "CHARITY_FEDERATION", "FOUNDATION", "GOVERNMENT", "OTHER")
OUTCOMES: Final = ("EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL")
#: The test FX rates (tests/shared_events.TEST_RATES): CNY per unit, with HKD changing on 2026-04-01.
RATES: Final = {
    "CNY": [(date.min, Decimal(1))],
    "HKD": [(date.min, Decimal("0.90")), (date(2026, 4, 1), Decimal("0.92"))],
    "MOP": [(date.min, Decimal("0.85"))],
}


def _stamp(rng: random.Random, month: int | None = None) -> str:
    month = month or rng.randint(1, 11)
    day = rng.randint(1, 28)
    return f"2026-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00"


def known_stream(seed: int = 7) -> list[Doc]:
    """About 300 raw documents of every type; a closing is after its opening but for the few of
    :func:`_contradictions`."""
    rng = random.Random(seed)
    # Donor types come from a generator of their own, so the rest of the stream is what it was before them.
    donors = random.Random(f"donor types {seed}")
    docs: list[Doc] = []
    for district, (region, stations, currency, _) in PLACES.items():
        place = {"region": region, "district": district}
        prefix = district[:2].upper()

        def doc(event_type: str, *, _place: dict[str, str] = place, _stations: Any = stations, **fields: Any) -> Doc:
            return valid_event_doc(event_type, **_place, station=rng.choice(_stations), **fields)

        for c in range(rng.randint(9, 14)):
            case_id = f"{prefix}-C-{c:03d}"
            opened_month = rng.randint(1, 10)
            groups = rng.choice([[], ["LOW_INCOME"], ["SPECIAL_HARDSHIP", "ELDERLY_ALONE"], ["DISABILITY"]])
            opening = doc(
                "CaseOpened",
                case_id=case_id,
                occurred_at=_stamp(rng, opened_month),
                vulnerable_groups=groups,
                client_id_number=None,
                client_phone=None,
            )
            docs.append(opening)
            for v in range(rng.randint(0, 3)):
                docs.append(
                    doc(
                        "VisitMade",
                        visit_id=f"{case_id}-V{v}",
                        case_id=case_id,
                        visit_type=rng.choice(["HOME", "HOME", "PHONE", "OFFICE"]),
                        volunteer_count=rng.randint(0, 3),
                        occurred_at=_stamp(rng, rng.randint(opened_month + 1, 11)),
                    )
                )
            if rng.random() < 0.4:
                docs.append(
                    doc("CaseClosed", case_id=case_id, occurred_at=_stamp(rng, rng.randint(opened_month + 1, 12)))
                )
        for n in range(rng.randint(5, 9)):
            docs.append(
                doc(
                    "DonationReceived",
                    donation_id=f"{prefix}-D-{n}",
                    amount=f"{rng.randint(1, 90000)}.{rng.randint(0, 99):02d}",
                    currency=currency if rng.random() < 0.8 else "CNY",
                    donor_type=donors.choice(DONOR_TYPES),
                    beneficiaries=rng.choice([None, rng.randint(1, 400)]),
                    occurred_at=_stamp(rng, rng.randint(1, 12)),
                )
            )
        for n in range(rng.randint(3, 6)):
            docs.append(
                doc(
                    "ProjectEvaluated",
                    evaluation_id=f"{prefix}-E-{n}",
                    project_id=f"{prefix}-P-{rng.randint(1, 4)}",
                    outcome=rng.choice(["EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL"]),
                    score_overall=rng.randint(40, 99),
                    beneficiaries=rng.randint(10, 3000),
                    evaluator_ids=[f"{prefix}-X-{rng.randint(1, 5)}"],
                    occurred_at=_stamp(rng),
                )
            )
        for _ in range(rng.randint(3, 7)):
            docs.append(
                doc(
                    "ProjectFunded",
                    project_id=f"{prefix}-P-{rng.randint(1, 5)}",
                    programme=rng.choice(PROGRAMMES),
                    amount=f"{rng.randint(1000, 900000)}.00",
                    currency=currency,
                    occurred_at=_stamp(rng),
                )
            )
        for n in range(rng.randint(4, 8)):
            docs.append(
                doc(
                    "ServiceDelivered",
                    service_id=f"{prefix}-S-{n}",
                    service_area=rng.choice(["SOCIAL_ASSISTANCE", "ELDERLY", "YOUTH"]),
                    project_id=rng.choice([None, f"{prefix}-P-{rng.randint(1, 3)}"]),
                    person_times=rng.randint(1, 500),
                    volunteer_count=rng.randint(0, 9),
                    occurred_at=_stamp(rng),
                )
            )
        for n in range(rng.randint(1, 4)):
            docs.append(
                doc(
                    "TrainingHeld",
                    training_id=f"{prefix}-T-{n}",
                    participants=rng.randint(5, 90),
                    occurred_at=_stamp(rng),
                )
            )
        for _ in range(rng.randint(3, 8)):
            docs.append(
                doc(
                    "WorkerCertified",
                    worker_id=f"{prefix}-W-{rng.randint(1, 6)}",
                    level=rng.choice(LEVELS),
                    occurred_at=_stamp(rng),
                )
            )
        for n in range(rng.randint(2, 9)):
            docs.append(doc("VolunteerRegistered", volunteer_id=f"{prefix}-VOL-{n}", occurred_at=_stamp(rng)))
    # An event on 2026-03-31T17:30Z is on 1 April in Asia/Shanghai: quarter 2, and the April HKD rate.
    docs.append(
        valid_event_doc(
            "DonationReceived",
            region="HK",
            district="hk-sham-shui-po",
            station=None,
            donation_id="HK-D-edge",
            amount="1000.00",
            currency="HKD",
            donor_type="INDIVIDUAL",
            beneficiaries=None,
            occurred_at="2026-03-31T17:30:00Z",
        )
    )
    docs += _contradictions(seed)
    return docs


def _contradictions(seed: int) -> list[Doc]:
    """Per district, closings the hub must set aside and count (from a generator of their own): two cases
    closed in a month before the one they were opened in, and one closing whose opening never arrives."""
    rng = random.Random(f"contradictions {seed}")
    out: list[Doc] = []
    for district, (region, stations, _, _) in PLACES.items():
        place = {"region": region, "district": district, "station": rng.choice(stations)}
        prefix = district[:2].upper()
        for c in range(2):
            case_id = f"{prefix}-X-{c}"
            opened = rng.randint(3, 11)
            out.append(
                valid_event_doc(
                    "CaseOpened",
                    **place,
                    case_id=case_id,
                    occurred_at=_stamp(rng, opened),
                    vulnerable_groups=[],
                    client_id_number=None,
                    client_phone=None,
                )
            )
            out.append(valid_event_doc("CaseClosed", **place, case_id=case_id, occurred_at=_stamp(rng, opened - 2)))
        out.append(valid_event_doc("CaseClosed", **place, case_id=f"{prefix}-X-orphan", occurred_at=_stamp(rng)))
    return out


def load(engine: Engine, docs: Iterable[Doc], *, seed: int | None = 3, batch: int = 97, suffix: str = "") -> int:
    """Apply ``docs`` through the gateway's crossing and the projection rules, with offsets, in batches.

    With ``seed`` the records are shuffled first (the order a test wants to be irrelevant); with
    ``seed=None`` they are applied in stream order as they are made, never all held at once (the demo
    stream). ``suffix`` selects the table set (a rebuild's ``__shadow``). Returns the records applied.
    """
    records: Iterable[SourceRecord] = _crossed(docs)
    if seed is not None:
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        records = shuffled
    pending: list[SourceRecord] = []
    applied = 0
    for record in records:
        pending.append(SourceRecord(record.topic, 0, applied, record.changes))
        applied += 1
        if len(pending) == batch:
            apply_batch(engine, "read_models", pending, suffix=suffix)
            pending = []
    if pending:
        apply_batch(engine, "read_models", pending, suffix=suffix)
    return applied


@contextmanager
def known_database(folder: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated SQLite read-model database in ``folder`` holding the known stream: its URL and an engine.

    The indicators are not refreshed: the first report (or ``ensure_fresh``) computes them.
    """
    url = f"sqlite:///{folder}/hub.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    load(engine, known_stream())
    try:
        yield url, engine
    finally:
        engine.dispose()


def _crossed(docs: Iterable[Doc]) -> Iterator[SourceRecord]:
    """The shared records of ``docs``: validated, crossed for each zone, projected (offsets not yet set)."""
    ags = agreements()
    ctx = context()
    for raw in docs:
        event = validate_event(raw)
        crossing = apply(ags[event.region], TEST_KEY, event.event_type, event.record)
        for zone in crossing.zones:
            changes = project(zone, crossing.event_type, crossing.shared_record, ctx)
            yield SourceRecord(f"shared.{zone}.test", 0, 0, changes)


# -- the expected values, from the raw documents -------------------------------------------------------
def local_day(doc: Doc) -> date:
    return datetime.fromisoformat(doc["occurred_at"].replace("Z", "+00:00")).astimezone(SHANGHAI).date()


def periods_of_day(day: date) -> dict[str, str]:
    return {"month": f"{day:%Y-%m}", "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}", "year": str(day.year)}


def period_end(kind: str, period: str) -> date:
    year = int(period[:4])
    if kind == "year":
        return date(year, 12, 31)
    month = int(period[-1]) * 3 if kind == "quarter" else int(period[5:7])
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def to_cny(doc: Doc) -> Decimal:
    day = local_day(doc)
    rate = [r for since, r in RATES[doc["currency"]] if since <= day][-1]
    return (Decimal(doc["amount"]) * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def all_periods() -> list[tuple[str, str]]:
    months = [("month", f"2026-{m:02d}") for m in range(1, 13)]
    return [*months, *(("quarter", f"2026-Q{q}") for q in range(1, 5)), ("year", "2026")]


def expected(docs: Iterable[Doc], zone: str) -> dict[Key, Decimal]:
    """Every non-zero indicator of ``zone`` (each scope and period), computed from the raw documents."""
    mine = [d for d in docs if zone in PLACES[d["district"]][3]]
    scopes: dict[tuple[str, str], Callable[[Doc], bool]] = {("*", "*"): lambda d: True}
    for district, (region, *_rest) in PLACES.items():
        if zone in PLACES[district][3]:
            scopes[(region, "*")] = partial(_field_is, "region", region)
            scopes[(region, district)] = partial(_field_is, "district", district)
    out: dict[Key, Decimal] = {}
    for (region, district), member in scopes.items():
        docs_here = [d for d in mine if member(d)]
        for kind, period in all_periods():
            values = _indicators(docs_here, kind, period)
            for name, value in values.items():
                if value:
                    out[(region, district, kind, period, name)] = value
    return out


def _field_is(field: str, value: str, doc: Doc) -> bool:
    return bool(doc[field] == value)


def _indicators(docs: list[Doc], kind: str, period: str) -> dict[str, Decimal]:
    def within(d: Doc) -> bool:
        return periods_of_day(local_day(d))[kind] == period

    def of(event_type: str) -> list[Doc]:
        return [d for d in docs if d["type"] == event_type and within(d)]

    def ids(items: Iterable[Doc], field: str) -> set[tuple[str, str]]:
        return {(d["district"], d[field]) for d in items if d.get(field) is not None}

    end = period_end(kind, period)
    v: dict[str, Decimal] = defaultdict(Decimal)
    openings = {(d["district"], d["case_id"]): d for d in docs if d["type"] == "CaseOpened"}
    closings = {(d["district"], d["case_id"]): d for d in docs if d["type"] == "CaseClosed"}
    opened = of("CaseOpened")
    v["cases_opened"] = Decimal(len(opened))
    v["cases_opened_hardship"] = Decimal(
        sum(1 for d in opened if {"LOW_INCOME", "SPECIAL_HARDSHIP"} & set(d["vulnerable_groups"]))
    )
    v["stations_with_cases"] = Decimal(len(ids(opened, "station")))

    def when(d: Doc) -> datetime:
        return datetime.fromisoformat(d["occurred_at"].replace("Z", "+00:00"))

    def before_opening(d: Doc) -> bool:  # a closing dated before its case's opening
        opening = openings.get((d["district"], d["case_id"]))
        return opening is not None and when(d) < when(opening)

    closed = of("CaseClosed")
    v["cases_closed"] = Decimal(
        sum(1 for d in closed if (d["district"], d["case_id"]) in openings and not before_opening(d))
    )
    v["closures_set_aside"] = Decimal(sum(1 for d in closed if before_opening(d)))
    v["closures_awaiting_opening"] = Decimal(sum(1 for d in closed if (d["district"], d["case_id"]) not in openings))
    still_open = [
        key
        for key, d in openings.items()
        if local_day(d) <= end
        and not (key in closings and not before_opening(closings[key]) and local_day(closings[key]) <= end)
    ]
    v["cases_open"] = Decimal(len(still_open))
    reopened = [key for key in still_open if key in closings and before_opening(closings[key])]
    v["cases_open_reopened"] = Decimal(len(reopened))
    visits = of("VisitMade")
    v["visits"] = Decimal(len(visits))
    v["home_visits"] = Decimal(sum(1 for d in visits if d["visit_type"] == "HOME"))
    services = of("ServiceDelivered")
    v["services"] = Decimal(len(services))
    v["service_person_times"] = Decimal(sum(d["person_times"] for d in services))
    v["service_person_times_SOCIAL_ASSISTANCE"] = Decimal(
        sum(d["person_times"] for d in services if d["service_area"] == "SOCIAL_ASSISTANCE")
    )
    v["service_projects"] = Decimal(len(ids(services, "project_id")))
    v["volunteer_participations"] = Decimal(sum(d["volunteer_count"] for d in visits + services))
    donations = of("DonationReceived")
    v["donations_count"] = Decimal(len(donations))
    for cur in ("CNY", "HKD", "MOP"):
        these = [d for d in donations if d["currency"] == cur]
        v[f"donations_count_{cur}"] = Decimal(len(these))
        v[f"donations_amount_{cur}"] = sum((Decimal(d["amount"]) for d in these), Decimal("0.00"))
    v["donations_amount_reporting"] = sum((to_cny(d) for d in donations), Decimal("0.00"))
    for donor in DONOR_TYPES:
        given = [d for d in donations if d["donor_type"] == donor]
        v[f"donations_count_{donor}"] = Decimal(len(given))
        v[f"donations_amount_reporting_{donor}"] = sum((to_cny(d) for d in given), Decimal("0.00"))
    v["donation_beneficiaries"] = Decimal(sum(d["beneficiaries"] or 0 for d in donations))
    evaluations = of("ProjectEvaluated")
    v["evaluations"] = Decimal(len(evaluations))
    for outcome in OUTCOMES:
        v[f"evaluations_{outcome}"] = Decimal(sum(1 for d in evaluations if d["outcome"] == outcome))
    v["projects_evaluated"] = Decimal(len(ids(evaluations, "project_id")))
    v["projects_rated_excellent"] = Decimal(
        len(ids([d for d in evaluations if d["outcome"] == "EXCELLENT"], "project_id"))
    )
    v["evaluation_beneficiaries"] = Decimal(sum(d["beneficiaries"] for d in evaluations))
    if evaluations:
        passed = sum(1 for d in evaluations if d["outcome"] in ("EXCELLENT", "PASS"))
        v["evaluation_pass_rate"] = (Decimal(passed) / len(evaluations)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
        mean = Decimal(sum(d["score_overall"] for d in evaluations)) / len(evaluations)
        v["evaluation_mean_overall_score"] = mean.quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    if v["cases_open"]:
        v["visits_per_open_case"] = (v["visits"] / v["cases_open"]).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    trainings = of("TrainingHeld")
    v["trainings"] = Decimal(len(trainings))
    v["training_person_times"] = Decimal(sum(d["participants"] for d in trainings))
    # A worker certified twice at one level counts once, in the period of the first certification.
    firsts: dict[tuple[str, str, str], Doc] = {}
    for d in docs:
        if d["type"] == "WorkerCertified":
            key = (d["district"], d["worker_id"], d["level"])
            if key not in firsts or (d["occurred_at"], d["event_id"]) < (
                firsts[key]["occurred_at"],
                firsts[key]["event_id"],
            ):
                firsts[key] = d
    certified = [d for d in firsts.values() if within(d)]
    for level in LEVELS:
        v[f"certifications_{level}"] = Decimal(sum(1 for d in certified if d["level"] == level))
    v["certifications_total"] = Decimal(len(certified))
    v["licensed_social_workers"] = Decimal(
        len(ids([d for d in certified if d["level"] in ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR")], "worker_id"))
    )
    fundings = of("ProjectFunded")
    v["fundings"] = Decimal(len(fundings))
    v["projects_funded"] = Decimal(len(ids(fundings, "project_id")))
    v["funding_amount_reporting"] = sum((to_cny(d) for d in fundings), Decimal("0.00"))
    for prog in PROGRAMMES:
        these = [d for d in fundings if d["programme"] == prog]
        v[f"projects_funded_{prog}"] = Decimal(len(ids(these, "project_id")))
        v[f"funding_amount_reporting_{prog}"] = sum((to_cny(d) for d in these), Decimal("0.00"))
    v["volunteers_registered"] = Decimal(len(of("VolunteerRegistered")))
    return dict(v)
