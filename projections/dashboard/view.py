"""The dashboard document of a zone, period and scope: tiles, comparison, trend, composition, FX, freshness.

Pure: :func:`dashboard_view` turns reports the caller has built
(:class:`~projections.report.Report`, each a view of its period's one
suppression pattern) into the JSON document the page draws. It computes
nothing a report does not already hold but the change of a headline figure
against the previous period, and that only between two published figures: a
withheld figure (``<5``, ``x``) is never an input to a number on screen, so the
page cannot reveal by a percentage what a cell withholds. Every figure is
written as :func:`projections.report_render.json_value` writes it for the API
(an int for a count, a string with two decimals for an amount, a float for a
ratio, None when withheld or not applicable, with its flag beside it), so the
page, the API's JSON and the downloads agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from hub.reporting_time import REPORTING_TZ_NAME
from projections.indicators import ALL, BY_NAME, DONOR_TYPES, OUTCOMES
from projections.periods import Period
from projections.report import COMPLEMENTARY_LABEL, DATA_QUALITY, Report, ReportRow
from projections.report_render import json_value

HEADLINE: Final[tuple[str, ...]] = (
    "cases_opened",
    "cases_open",
    "visits",
    "service_person_times",
    "volunteer_participations",
    "donations_amount_reporting",
    "evaluations",
    "evaluation_pass_rate",
)
"""The indicators of the headline tiles, in order; the comparison chart offers the same."""
TREND: Final[tuple[str, ...]] = ("cases_opened", "visits", "donations_amount_reporting")
"""The indicators of the month-by-month lines."""


@dataclass(frozen=True)
class Freshness:
    """How far behind the stream the figures are (see :func:`freshness`)."""

    offsets_behind: int | None
    """Records of the shared topics not applied yet; None when the lag was not measured."""
    seconds_behind: float | None
    """Age of the oldest record not applied yet (0 when caught up); None when not measured."""
    as_of: datetime | None
    """Kafka timestamp of the newest record the projections applied; None before the first."""


def freshness(last_record_ms: Iterable[int | None], lag: Iterable[Mapping[str, Any]] | None) -> Freshness:
    """Freshness from the stored offsets' last record timestamps and, when measured, the lag per partition.

    ``lag`` holds ``offsets_behind`` / ``seconds_behind`` per partition (what ``hub status`` measures);
    a partition whose seconds are not known (NaN) leaves the seconds unknown rather than understated.
    """
    stamps = [ms for ms in last_record_ms if ms is not None]
    as_of = datetime.fromtimestamp(max(stamps) / 1000, UTC) if stamps else None
    if lag is None:
        return Freshness(None, None, as_of)
    parts = list(lag)
    if not parts or any("offsets_behind" not in p for p in parts):
        return Freshness(None, None, as_of)
    behind = sum(int(p["offsets_behind"]) for p in parts)
    seconds = [float(p.get("seconds_behind", 0.0)) for p in parts]
    known = all(s == s for s in seconds)  # NaN: not known
    return Freshness(behind, max(seconds, default=0.0) if known else None, as_of)


def _figure(report: Report, row: ReportRow, name: str) -> dict[str, Any]:
    spec = BY_NAME[name]
    cell = row.cells[name]
    withheld = cell.mark is not None or cell.value is None
    return {"value": json_value(spec, cell), "flag": cell.shown(report.policy) if withheld else None}


def _change(current: ReportRow, previous: ReportRow | None, name: str) -> dict[str, Any]:
    """The relative change of a published figure against the previous period's, or why there is none."""
    if previous is None:
        return {"change": None, "reason": "no_previous"}
    now, before = current.cells[name].published(), previous.cells[name].published()
    if now is None or before is None:
        return {"change": None, "reason": "withheld"}
    if before == 0:
        return {"change": None, "reason": "zero" if now else "same"}
    return {"change": float(((now - before) / before).quantize(Decimal("0.0001"))), "reason": None}


def _row_of(report: Report, region: str, district: str) -> ReportRow | None:
    try:
        return report.row(region, district)
    except KeyError:
        return None


def _place(row: ReportRow) -> dict[str, Any]:
    code = row.district if row.level == "district" else row.region if row.level == "region" else "*"
    return {"level": row.level, "region": row.region, "district": row.district, "code": code, "name": row.name}


def _compared(report: Report, region: str, district: str) -> list[ReportRow]:
    if region == ALL:
        return [r for r in report.rows if r.level == "region"]
    return [r for r in report.rows if r.level == "district" and r.region == region]


def dashboard_view(
    current: Report,
    *,
    region: str | None = None,
    district: str | None = None,
    district_region: str | None = None,
    previous: Report | None = None,
    previous_period: Period | None = None,
    months: Sequence[Report] = (),
    years: Sequence[str] = (),
    zones: Sequence[str] = (),
    fresh: Freshness | None = None,
    illustrative: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The dashboard document of ``current`` (a whole-zone report) narrowed to a region or a district.

    ``district_region`` is the region of ``district``. ``previous`` is the zone's report of the period
    before (``previous_period``; None when that period has no figures), ``months`` its reports of the
    twelve months of the period's year (the trend), ``years`` the years with figures (the period
    choices), ``zones`` the zones the database holds and ``illustrative`` the districts whose figures
    are demo data.
    """
    scope_region = district_region if district is not None else region
    key = (scope_region or ALL, district or ALL)
    row = current.row(*key)
    before = _row_of(previous, *key) if previous is not None else None
    compared = _compared(current, key[0], key[1])
    period = current.period
    figures = [*HEADLINE, *TREND]

    def tile(name: str) -> dict[str, Any]:
        spec = BY_NAME[name]
        return {
            "indicator": name,
            "unit": current.unit(spec),
            "kind": spec.kind,
            **_figure(current, row, name),
            "previous": _figure(previous, before, name) if previous is not None and before is not None else None,
            **_change(row, before, name),
        }

    trend: dict[str, Any] = {"months": [m.period.value for m in months], "series": {}}
    for name in TREND:
        points = []
        for month in months:
            month_row = _row_of(month, *key)
            points.append(_figure(month, month_row, name) if month_row is not None else {"value": 0, "flag": None})
        trend["series"][name] = points

    return {
        "zone": current.zone,
        "period": _period(period, previous.period if previous is not None else previous_period),
        "years": list(years),
        "zones": list(zones) or [current.zone],
        "scope": {**_place(row), "selected": district or region},
        "reporting_currency": current.reporting_currency,
        "places": {
            "regions": [_place(r) for r in current.rows if r.level == "region"],
            "districts": [_place(r) for r in current.rows if r.level == "district"],
        },
        "tiles": [tile(name) for name in HEADLINE],
        "comparison": {
            "indicators": list(HEADLINE),
            "rows": [
                {
                    **_place(r),
                    "figures": {n: _figure(current, r, n) for n in figures},
                    "selected": r.district == district,
                }
                for r in compared
            ],
        },
        "trend": trend,
        "donors": [
            {
                "donor_type": t,
                "count": _figure(current, row, f"donations_count_{t}"),
                "amount": _figure(current, row, f"donations_amount_reporting_{t}"),
            }
            for t in DONOR_TYPES
        ],
        "outcomes": [{"outcome": o, "count": _figure(current, row, f"evaluations_{o}")} for o in OUTCOMES],
        "quality": [
            {"indicator": name, "unit": current.unit(BY_NAME[name]), **_figure(current, row, name)}
            for name in DATA_QUALITY
        ],
        "fx": {
            "source": current.fx_source,
            "rates": [
                {
                    "currency": r.currency,
                    "to": r.to,
                    "rate": str(r.rate),
                    "valid_from": None if r.valid_from.year == 1 else r.valid_from.isoformat(),
                }
                for r in current.rates
            ],
        },
        "suppression": {
            "applied": current.suppressed,
            "threshold": current.policy.threshold,
            "primary_label": current.policy.label,
            "complementary_label": COMPLEMENTARY_LABEL,
        },
        "caveats": [{"key": "illustrative", "districts": sorted(illustrative)}] if illustrative else [],
        "freshness": {
            "offsets_behind": fresh.offsets_behind if fresh else None,
            "seconds_behind": fresh.seconds_behind if fresh else None,
            "as_of": _iso(fresh.as_of) if fresh and fresh.as_of else None,
        },
        "generated_at": _iso(generated_at or datetime.now(UTC)),
    }


def _period(period: Period, previous: Period | None) -> dict[str, Any]:
    return {
        "kind": period.kind,
        "value": period.value,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "time_zone": REPORTING_TZ_NAME,
        "previous": previous.value if previous is not None else None,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["HEADLINE", "TREND", "Freshness", "dashboard_view", "freshness"]
