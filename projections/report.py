"""The report of a zone and period: its figures, their suppression marks, the FX rates used and its caveats.

Pure: no SQL, no files but the org-unit names shipped with the hub
(:func:`hub.orgunits.org_units`, read once). :func:`build_report` turns the
zone's indicator values of one period into a :class:`Report`, every figure
marked by the ONE suppression pattern of that zone and period
(:mod:`projections.period_suppression`), so a region's or a district's part of
the report is a view of the same pattern and no combination of views reveals
what one of them withholds. This is the only meaning of "report" in the hub.
How a report is written out (table, CSV, JSON) is :mod:`projections.report_render`;
where its inputs come from is :mod:`projections.report_queries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from hub.orgunits import org_units
from projections.fx import AppliedRate
from projections.indicators import ALL, INDICATORS, REPORTING, Indicator, IndicatorValue
from projections.period_suppression import CellKey, Level, PlaceKey, period_suppression, scopes
from projections.periods import Period
from projections.suppression import Mark, Policy

COMPLEMENTARY_LABEL: Final = "x"
"""How a complementary or dependent suppression is shown (a primary one shows :attr:`Policy.label`, ``<5``)."""
NOT_APPLICABLE: Final = "-"
"""How a figure without a value is shown (a rate with nothing to divide by)."""


@dataclass(frozen=True)
class ReportCell:
    """One figure: ``value`` (None when not applicable, e.g. a rate of nothing) and its suppression mark."""

    value: Decimal | None
    mark: Mark | None = None

    def shown(self, policy: Policy) -> str:
        """The figure as published: the value, ``<5``, ``x`` or ``-``."""
        if self.mark == "primary":
            return policy.label
        if self.mark is not None:
            return COMPLEMENTARY_LABEL
        if self.value is None:
            return NOT_APPLICABLE
        return str(self.value)

    def published(self) -> Decimal | None:
        """The value when it may be published, else None."""
        return None if self.mark is not None else self.value


@dataclass(frozen=True)
class ReportRow:
    """The indicators of one scope: the zone, a region or a district."""

    level: Level
    region: str
    district: str
    name: str
    cells: Mapping[str, ReportCell] = field(hash=False)


@dataclass(frozen=True)
class Report:
    """A zone's report for one period (or a region's or district's part of it)."""

    zone: str
    period: Period
    reporting_currency: str
    rows: tuple[ReportRow, ...]
    indicators: tuple[Indicator, ...]
    rates: tuple[AppliedRate, ...]
    fx_source: str
    policy: Policy
    suppressed: bool
    caveats: tuple[str, ...]
    region: str | None = None
    district: str | None = None

    def row(self, region: str, district: str = ALL) -> ReportRow:
        """The row of a scope (``row(ALL)`` is the zone, ``row("GD")`` a region)."""
        for r in self.rows:
            if (r.region, r.district) == (region, district):
                return r
        raise KeyError(f"no row for region {region!r} district {district!r} in the {self.zone} report")

    def unit(self, spec: Indicator) -> str:
        """The unit of ``spec`` as this report states it (amounts in its reporting currency)."""
        return self.reporting_currency if spec.unit == REPORTING else spec.unit


def _name(region: str, district: str, zone: str) -> str:
    if region == ALL:
        return f"{zone} (all regions)"
    if district == ALL:
        info = org_units().regions.get(region, {})
        return f"{region} {info.get('name_en', '')}".strip()
    unit = org_units().district(district)
    return unit.name_en if unit is not None else district


def build_report(
    zone: str,
    period: Period,
    values: Sequence[IndicatorValue],
    *,
    reporting_currency: str,
    places: Iterable[PlaceKey] = (),
    rates: Sequence[AppliedRate] = (),
    fx_source: str = "",
    policy: Policy | None = None,
    suppressed: bool = True,
    marks: Mapping[CellKey, Mark] | None = None,
    caveats: Sequence[str] = (),
    region: str | None = None,
    district: str | None = None,
) -> Report:
    """The report of ``zone`` for ``period`` from the zone's indicator values of that period.

    ``places`` lists every (region, district) of the zone, so that a district without figures in
    the period still shows its zeros. The suppression pattern is computed over the whole zone and
    period, then ``region`` / ``district`` narrow the rows shown (a part of the report is a view of
    the same pattern). With ``suppressed=False`` nothing is withheld: an operator's view, never a
    cross-region output. ``marks`` is the pattern when already computed (e.g. cached).
    """
    policy = policy or Policy()
    values = [v for v in values if (v.period_kind, v.period) == (period.kind, period.value)]
    all_places = set(places) | {(v.region, v.district) for v in values}
    if not suppressed:
        marks = {}
    elif marks is None:
        marks = period_suppression(values, period, all_places, policy).marks
    here = {(v.region, v.district, v.indicator): v.value for v in values}
    shown = scopes(all_places)
    if district is not None:
        shown = [s for s in shown if s[2] == district]
    elif region is not None:
        shown = [s for s in shown if s[1] == region]
    rows: list[ReportRow] = []
    for level, r, d in shown:
        cells: dict[str, ReportCell] = {}
        for spec in INDICATORS:
            value = here.get((r, d, spec.name))
            if value is None and spec.kind != "ratio":
                value = Decimal(0).quantize(Decimal(1).scaleb(-spec.places))
            cells[spec.name] = ReportCell(value, marks.get((r, d, period.kind, period.value, spec.name)))
        rows.append(ReportRow(level, r, d, _name(r, d, zone), cells))
    quality = data_quality_caveat(rows[0], policy) if rows else None
    return Report(
        zone=zone,
        period=period,
        reporting_currency=reporting_currency,
        rows=tuple(rows),
        indicators=INDICATORS,
        rates=tuple(rates),
        fx_source=fx_source,
        policy=policy,
        suppressed=suppressed,
        caveats=(*caveats, *([quality] if quality else [])),
        region=region,
        district=district,
    )


DATA_QUALITY: Final[tuple[str, ...]] = ("closures_set_aside", "closures_awaiting_opening", "cases_open_reopened")
"""The data-quality indicators: facts a rule set aside rather than count them as they stand."""


def data_quality_caveat(row: ReportRow, policy: Policy) -> str | None:
    """What the rules set aside in the scope of ``row`` (its published figures only), or None if nothing."""
    said = {
        "closures_set_aside": "closing(s) of the period dated before their case's opening, left out of "
        "cases_closed (each such case counts as opened again after that closing)",
        "cases_open_reopened": "of the cases open at the period's end are such cases",
        "closures_awaiting_opening": "closing(s) of the period whose case's opening has not arrived, left out "
        "of cases_closed until it does",
    }
    parts = [
        f"{row.cells[name].shown(policy)} {text}"
        for name, text in said.items()
        if row.cells[name].mark is not None or row.cells[name].value
    ]
    return "Data quality: " + "; ".join(parts) + "." if parts else None


def illustrative_caveat(districts: Iterable[str]) -> str | None:
    """The caveat naming districts whose data is illustrative demo data (None if there are none)."""
    names = sorted(districts)
    if not names:
        return None
    return (
        "Illustrative data: the figures of "
        + ", ".join(names)
        + " are invented demo data (no source reports figures for them), not reported statistics."
    )


__all__ = [
    "COMPLEMENTARY_LABEL",
    "DATA_QUALITY",
    "NOT_APPLICABLE",
    "Report",
    "ReportCell",
    "ReportRow",
    "build_report",
    "data_quality_caveat",
    "illustrative_caveat",
]
