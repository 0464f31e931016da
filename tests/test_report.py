"""Reports: rendering, suppression in every output, and the demo data's seed facts in the gba and mainland reports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from demo.coverage import FactCoverage
from demo.districts import JINJIANG, NANSHAN, TINGHU
from demo.seed_check import FACT_INDICATOR, NOT_IN_REPORTS, carried_facts, check_report
from demo.stream import generate
from hub.sql import make_engine
from hub.zones import ZONES
from projections import indicator_store, migrations
from projections.fx import AppliedRate
from projections.indicators import ALL, BY_NAME, INDICATORS, IndicatorValue, splits
from projections.period_suppression import period_suppression, published_pattern
from projections.periods import parse_period
from projections.report import Report, build_report
from projections.report_queries import NotFound, ReportService
from projections.report_render import CSV_COLUMNS, metadata_lines, render, render_csv, report_document
from projections.suppression import Policy
from tests.indicator_stream import load


# -- rendering a small report --------------------------------------------------------------------------------
def _values() -> list[IndicatorValue]:
    districts = [
        ("GD", "shenzhen-nanshan", "visits", "120"),
        ("GD", "shenzhen-nanshan", "cases_open", "40"),
        ("GD", "shenzhen-nanshan", "visits_per_open_case", "3.00"),
        ("GD", "guangzhou-tianhe", "visits", "3"),
        ("HK", "hk-sham-shui-po", "visits", "50"),
        ("GD", "shenzhen-nanshan", "donations_amount_reporting", "1234567.89"),
        ("GD", "shenzhen-nanshan", "donations_count", "12"),
        ("GD", "shenzhen-nanshan", "donations_count_CNY", "12"),
        ("GD", "shenzhen-nanshan", "donations_amount_CNY", "1234567.89"),
        # Every split of a total sums to it: donations by donor type too.
        ("GD", "shenzhen-nanshan", "donations_count_FOUNDATION", "12"),
        ("GD", "shenzhen-nanshan", "donations_amount_reporting_FOUNDATION", "1234567.89"),
    ]
    totals: dict[tuple[str, str, str], Decimal] = {}
    for region, _, name, value in districts:
        if BY_NAME[name].additive:
            for key in ((region, ALL, name), (ALL, ALL, name)):
                totals[key] = totals.get(key, Decimal(0)) + Decimal(value)
    rows = [(r, d, n, Decimal(v)) for r, d, n, v in districts] + [(r, d, n, v) for (r, d, n), v in totals.items()]
    return [IndicatorValue("gba", r, d, "year", "2026", name, v) for r, d, name, v in rows]


def _small_report(**kwargs: object) -> Report:
    rate = AppliedRate("HKD", "CNY", Decimal("0.91500000"), date(2026, 1, 1))
    return build_report(
        "gba",
        parse_period("2026"),
        _values(),
        reporting_currency="CNY",
        places=[("MO", "mo-taipa")],
        rates=[rate],
        fx_source="test rates",
        caveats=["Illustrative data: the figures of guangzhou-tianhe are invented demo data."],
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_report_has_every_scope_zero_filled_and_marks_small_counts() -> None:
    report = _small_report()
    assert [(r.level, r.region, r.district) for r in report.rows] == [
        ("zone", "*", "*"),
        ("region", "GD", "*"),
        ("district", "GD", "guangzhou-tianhe"),
        ("district", "GD", "shenzhen-nanshan"),
        ("region", "HK", "*"),
        ("district", "HK", "hk-sham-shui-po"),
        ("region", "MO", "*"),
        ("district", "MO", "mo-taipa"),
    ]
    tianhe = report.row("GD", "guangzhou-tianhe").cells
    nanshan = report.row("GD", "shenzhen-nanshan").cells
    assert tianhe["visits"].mark == "primary" and tianhe["visits"].shown(report.policy) == "<5"
    # 123 - 120 would give Tianhe away: Nanshan's visits (the smallest other part) are withheld too.
    assert nanshan["visits"].mark == "complementary" and nanshan["visits"].shown(report.policy) == "x"
    assert nanshan["visits_per_open_case"].mark == "dependent"
    assert report.row("MO", "mo-taipa").cells["visits"].value == 0
    assert report.row("MO", "mo-taipa").cells["visits_per_open_case"].shown(report.policy) == "-"
    assert nanshan["donations_amount_reporting"].published() == Decimal("1234567.89")


def test_a_region_or_district_view_is_part_of_the_same_pattern() -> None:
    full = _small_report()
    for view in (_small_report(region="GD"), _small_report(district="shenzhen-nanshan")):
        assert view.rows
        for row in view.rows:
            assert row.cells == full.row(row.region, row.district).cells


def test_unsuppressed_shows_everything_and_says_so() -> None:
    report = _small_report(suppressed=False)
    assert report.row("GD", "guangzhou-tianhe").cells["visits"].shown(report.policy) == "3"
    assert "UNSUPPRESSED" in render(report, "table")


def test_table_csv_and_json_carry_currency_rates_marks_and_caveats() -> None:
    report = _small_report()
    table = render(report, "table")
    for text in (
        "Report of zone gba",
        "amounts in CNY",
        "1 HKD = 0.91500000 CNY valid from 2026-01-01",
        "<5",
        "Illustrative data",
    ):
        assert text in table
    assert "1,234,567.89" in table
    text = render(report, "csv")
    assert text.startswith(",".join(CSV_COLUMNS) + "\n")  # plain CSV: the FX rates are in its metadata
    assert "1 HKD = 0.91500000 CNY valid from 2026-01-01" in [line.strip() for line in metadata_lines(report)]
    assert json.loads(render(report, "metadata"))["fx"]["rates_used"][0]["rate"] == "0.91500000"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(report.rows) * len(INDICATORS)
    tianhe = next(r for r in rows if r["district"] == "guangzhou-tianhe" and r["indicator"] == "visits")
    assert (tianhe["value"], tianhe["flag"]) == ("", "<5")
    amount = next(
        r for r in rows if r["district"] == "shenzhen-nanshan" and r["indicator"] == "donations_amount_reporting"
    )
    assert (amount["value"], amount["unit"]) == ("1234567.89", "CNY")
    doc = json.loads(render(report, "json"))
    assert doc == json.loads(json.dumps(report_document(report)))
    assert doc["reporting_currency"] == "CNY" and doc["fx"]["rates_used"][0]["rate"] == "0.91500000"
    zone = doc["rows"][0]
    assert zone["values"]["visits"] == 173 and "visits" not in zone["flags"]
    district = next(r for r in doc["rows"] if r["district"] == "guangzhou-tianhe")
    assert district["values"]["visits"] is None and district["flags"]["visits"] == "<5"
    nanshan = next(r for r in doc["rows"] if r["district"] == "shenzhen-nanshan")
    assert nanshan["values"]["donations_amount_reporting"] == "1234567.89"


# -- an independent attacker on published outputs ---------------------------------------------------------
Key = tuple[str, ...]
"""(region, district, indicator), or with the period after them when periods are attacked together."""


def _published(report_csv: str) -> dict[Key, str]:
    """(region, district, indicator) -> the value or the flag, from a CSV output."""
    rows = csv.DictReader(io.StringIO(report_csv))
    return {(r["region"], r["district"], r["indicator"]): r["value"] or r["flag"] for r in rows}


def _equations(cells: Mapping[Key, str]) -> list[tuple[Key, Sequence[Key]]]:
    """What any reader knows: a region is the sum of its districts, the zone of its regions, a total of its parts."""
    places = {(k[0], k[1]) for k in cells}
    regions = sorted({r for r, _ in places if r != ALL})
    out: list[tuple[Key, Sequence[Key]]] = []
    for spec in INDICATORS:
        if spec.kind == "ratio":
            continue
        n = spec.name
        out.append(((ALL, ALL, n), [(r, ALL, n) for r in regions]))
        for r in regions:
            out.append(((r, ALL, n), [(r, d, n) for rr, d in places if rr == r and d != ALL]))
        for total in {s.part_of for s in INDICATORS if s.part_of}:
            for parts in splits(total).values():  # donations_count is split two ways: two equations
                for r, d in places:
                    out.append(((r, d, total), [(r, d, p) for p in parts]))
    return out


def recoverable(
    cells: Mapping[Key, str],
    equations: Sequence[tuple[Key, Sequence[Key]]] | None = None,
    truth: Mapping[Key, str] | None = None,
) -> dict[Key, Decimal]:
    """Withheld figures one equation pins down: by subtraction, or by the bounds of the marks.

    ``equations`` (total, parts): default, those of one report (:func:`_equations`). An ``x`` is at
    least 5 (0.01 for an amount); with ``truth`` (the unsuppressed figures) the attacker also knows
    which ``x`` hides a zero or a small total shown without its bound, and gives those 0.
    """
    found: dict[Key, Decimal] = {}
    for total, parts in _equations(cells) if equations is None else equations:
        members = [(total, 1), *((p, -1) for p in parts)]
        if any(k not in cells for k, _ in members):
            continue
        hidden = [(k, c) for k, c in members if cells[k] in ("<5", "x")]
        if not hidden:
            continue
        known = sum((Decimal(cells[k]) * c for k, c in members if cells[k] not in ("<5", "x")), Decimal(0))
        cent = BY_NAME[total[2]].kind == "amount"
        floor = Decimal("0.01") if cent else Decimal(5)
        bounds = {
            k: (Decimal(1), Decimal(4))
            if cells[k] == "<5"
            else (floor if truth is None or Decimal(truth[k]) >= floor else Decimal(0), None)
            for k, _ in hidden
        }
        for key, coefficient in hidden:
            # coefficient * x = -(known + the other hidden terms)
            low: Decimal | None = -known
            high: Decimal | None = -known
            for other, c in hidden:
                if other == key:
                    continue
                lo, hi = bounds[other]
                low = (
                    None
                    if low is None
                    else (low - c * hi if c > 0 and hi is not None else (low - c * lo if c < 0 else None))
                )
                high = (
                    None if high is None else (high - c * lo if c > 0 else (high - c * hi if hi is not None else None))
                )
            if coefficient < 0:
                low, high = (None if high is None else -high), (None if low is None else -low)
            lo, hi = bounds[key]
            low = lo if low is None else max(low, lo)
            high = hi if high is None else (high if hi is None else min(high, hi))
            if high is not None and low == high:
                found[key] = low
    return found


def test_the_attacker_recovers_a_figure_that_was_withheld_alone() -> None:
    cells: dict[Key, str] = {
        (ALL, ALL, "visits"): "173",
        ("GD", ALL, "visits"): "123",
        ("GD", "a", "visits"): "<5",
        ("GD", "b", "visits"): "120",
    }
    cells[("HK", ALL, "visits")] = "50"
    cells[("HK", "c", "visits")] = "50"
    assert recoverable(cells) == {("GD", "a", "visits"): Decimal(3)}
    cells[("GD", "b", "visits")] = "x"
    assert recoverable(cells) == {}


# -- the demo data ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The whole demo stream (seed 42) through the gateway's crossing, the rules and the store, on SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    load(engine, generate(42), seed=None, batch=5000)
    try:
        yield engine
    finally:
        engine.dispose()


def _carried() -> list[FactCoverage]:
    return carried_facts()


def test_every_carried_seed_fact_has_an_indicator_or_a_stated_reason() -> None:
    carried = {(f.district, f.metric) for f in _carried()}
    assert carried == set(FACT_INDICATOR) | set(NOT_IN_REPORTS)
    assert set(FACT_INDICATOR.values()) <= set(BY_NAME)


@pytest.mark.parametrize(
    ("zone", "districts"), [("gba", (NANSHAN,)), ("mainland", (NANSHAN, TINGHU, JINJIANG))], ids=["gba", "mainland"]
)
def test_the_reports_reproduce_the_seed_facts(demo_db: Engine, zone: str, districts: tuple[str, ...]) -> None:
    service = ReportService(demo_db, reporting_currency="CNY", fx_source="test rates")
    report = service.report(zone, "2026")
    checked = 0
    for fact in _carried():
        key = (fact.district, fact.metric)
        if fact.district not in districts or key in NOT_IN_REPORTS:
            continue
        name = FACT_INDICATOR[key]
        region = next(r.region for r in report.rows if r.district == fact.district)
        cell = report.row(region, fact.district).cells[name]
        assert cell.value == Decimal(fact.value), f"{fact.district}.{fact.metric} via {name}"
        shown = cell.shown(report.policy)
        if cell.mark is None:
            assert Decimal(shown) == fact.value
        else:  # withheld in a cross-region output: as "<5" only when it is a small count
            assert (shown == "<5") == (cell.mark == "primary")
            assert cell.mark != "primary" or fact.value < 5
        checked += 1
    assert checked == sum(1 for f in _carried() if f.district in districts and (f.district, f.metric) in FACT_INDICATOR)
    assert any("Illustrative data" in c and "hk-sham-shui-po" in c for c in report.caveats) == (zone == "gba")


@pytest.mark.parametrize("zone", ["gba", "mainland"])
def test_the_seed_check_the_demo_prints_passes(demo_db: Engine, zone: str) -> None:
    report = ReportService(demo_db, reporting_currency="CNY").report(zone, "2026")
    checks = check_report(report, zone)
    districts = {"gba": {NANSHAN}, "mainland": {NANSHAN, TINGHU, JINJIANG}}[zone]
    assert {c.fact.district for c in checks} == districts
    assert len(checks) == sum(1 for k in FACT_INDICATOR if k[0] in districts)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_the_unsuppressed_operator_view_shows_every_seed_fact(demo_db: Engine) -> None:
    service = ReportService(demo_db, reporting_currency="CNY")
    report = service.report("mainland", "2026", suppressed=False)
    for fact in _carried():
        if (fact.district, fact.metric) in FACT_INDICATOR:
            region = next(r.region for r in report.rows if r.district == fact.district)
            cell = report.row(region, fact.district).cells[FACT_INDICATOR[(fact.district, fact.metric)]]
            assert cell.mark is None and cell.value == fact.value


@pytest.mark.parametrize("zone", ["gba", "mainland"])
def test_no_published_output_of_the_demo_gives_a_withheld_figure_away(demo_db: Engine, zone: str) -> None:
    service = ReportService(demo_db, reporting_currency="CNY", policy=Policy(5))
    periods = ["2026", *(f"2026-Q{q}" for q in range(1, 5)), *(f"2026-{m:02d}" for m in range(1, 13))]
    for period in periods:
        full = service.report(zone, period)
        published = _published(render_csv(full))
        assert recoverable(published) == {}, period
        if period in ("2026", "2026-Q1", "2026-03"):  # the attack above had something to attack
            assert any(v in ("<5", "x") for v in published.values()), f"{zone} {period}: the demo has small counts"
        for key, value in published.items():
            assert value != "<5" or BY_NAME[key[2]].kind == "count"
        if period not in ("2026", "2026-Q2", "2026-07"):
            continue
        # Every region and district view shows the same figures and marks as the full report.
        for row in full.rows[1:]:
            district = row.district if row.level == "district" else None
            view = service.report(zone, period, region=row.region, district=district)
            for key, value in _published(render_csv(view)).items():
                assert published[key] == value


def test_a_period_without_facts_is_an_empty_report(demo_db: Engine) -> None:
    report = ReportService(demo_db, reporting_currency="CNY").report("gba", "2031-Q2")
    assert report.row(ALL).cells["visits"].value == 0


def test_a_zone_the_jurisdictions_database_does_not_hold_is_not_found_not_an_empty_report(demo_db: Engine) -> None:
    service = ReportService(demo_db, reporting_currency="CNY", held_zones=("gba",), cluster="hk")
    assert service.report("gba", "2026").rows
    with pytest.raises(NotFound, match="zone mainland is not held by cluster hk, which holds gba only"):
        service.report("mainland", "2026")


def test_a_district_in_two_zones_is_shown_the_same_in_both_and_their_union_gives_nothing_away(
    demo_db: Engine,
) -> None:
    """Bay Area districts of Guangdong are in gba and mainland: one report must not show what the other hides."""
    service = ReportService(demo_db, reporting_currency="CNY", policy=Policy(5))
    periods = ["2026", *(f"2026-Q{q}" for q in range(1, 5)), *(f"2026-{m:02d}" for m in range(1, 13))]
    compared, withheld, differing = 0, 0, []
    for period in periods:
        shown = {z: _published(render_csv(service.report(z, period))) for z in ("gba", "mainland")}
        raw = {z: _published(render_csv(service.report(z, period, suppressed=False))) for z in ("gba", "mainland")}
        shared = {
            k
            for k in shown["gba"].keys() & shown["mainland"].keys()
            if k[1] != ALL and raw["gba"][k] == raw["mainland"][k]
        }
        for key in shared:
            compared += 1
            withheld += shown["gba"][key] in ("<5", "x")
            if shown["gba"][key] != shown["mainland"][key]:
                differing.append((period, key, shown["gba"][key], shown["mainland"][key]))
        # the attacker holding both: mainland's withheld cells filled in from gba wherever gba shows them
        merged = dict(shown["mainland"])
        merged.update({k: shown["gba"][k] for k in shared})
        assert recoverable(merged) == {}, period
    assert compared > 1000 and withheld > 0  # the demo's Bay Area districts, with small counts among them
    assert differing == []


def test_the_mainland_pattern_is_audited_against_both_zones_and_nothing_is_left_unresolved(demo_db: Engine) -> None:
    service = ReportService(demo_db, reporting_currency="CNY")
    service.report("gba", "2026")  # computes the indicators
    nanshan_jan = ("GD", NANSHAN, "month", "2026-01", "certifications_total")
    apart = 0
    for text in ["2026", *(f"2026-Q{q}" for q in range(1, 5)), *(f"2026-{m:02d}" for m in range(1, 13))]:
        period = parse_period(text)
        values = {
            z: indicator_store.read_values(demo_db, z, period_kind=period.kind, period=period.value) for z in ZONES
        }
        places = {z: indicator_store.known_places(demo_db, z) for z in ZONES}
        gba = published_pattern("gba", values["gba"], period, places["gba"])
        joint = period_suppression(values["mainland"], period, places["mainland"], zone="mainland", published=[gba])
        alone = period_suppression(values["mainland"], period, places["mainland"])
        assert gba.unresolved == () and joint.unresolved == [], text
        shared = [k for k in gba.cells if k[0] == "GD" and k[1] != ALL]
        assert [k for k in shared if joint.marks.get(k) != gba.marks.get(k)] == [], text
        apart += sum(1 for k in shared if alone.marks.get(k) != gba.marks.get(k))
        if text == "2026-01":  # decided apart, mainland withheld as a complement what gba shows
            assert (alone.marks.get(nanshan_jan), gba.marks.get(nanshan_jan)) == ("complementary", None)
    assert apart > 10  # the two zones' patterns decided apart disagree (38 cells at seed 42)


@pytest.mark.parametrize("zone", ["gba", "mainland"])
def test_no_combination_of_the_years_periods_gives_a_withheld_figure_away(demo_db: Engine, zone: str) -> None:
    """The year, its quarters and its months together: a flow's year is the sum of its quarters (and a
    quarter of its months), a stock's year is its fourth quarter's figure and a quarter its last month's."""
    service = ReportService(demo_db, reporting_currency="CNY", policy=Policy(5))
    quarters = [f"2026-Q{q}" for q in range(1, 5)]
    months = {q: [f"2026-{m:02d}" for m in range(3 * i + 1, 3 * i + 4)] for i, q in enumerate(quarters)}
    shown: dict[Key, str] = {}
    truth: dict[Key, str] = {}
    for period in ["2026", *quarters, *(m for ms in months.values() for m in ms)]:
        shown.update({(*k, period): v for k, v in _published(render_csv(service.report(zone, period))).items()})
        raw = _published(render_csv(service.report(zone, period, suppressed=False)))
        truth.update({(*k, period): v or "0" for k, v in raw.items()})
    equations: list[tuple[Key, Sequence[Key]]] = []
    for r, d, name, _ in [k for k in shown if k[3] == "2026"]:
        over_time = BY_NAME[name].over_time
        for parent, children in [("2026", quarters), *months.items()]:
            if over_time == "sum":
                equations.append(((r, d, name, parent), [(r, d, name, c) for c in children]))
            elif over_time == "end":
                equations.append(((r, d, name, parent), [(r, d, name, children[-1])]))
    withheld = {k for k, v in shown.items() if v in ("<5", "x")}
    assert len(equations) > 2000 and len(withheld) > 100
    assert recoverable(shown, equations, truth) == {}
