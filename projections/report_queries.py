"""Reports and indicator queries over the read-model database: what ``hub report`` and the query API call.

A thin adapter between the SQL store (:mod:`projections.indicator_store`) and
the pure report (:mod:`projections.report`): it checks the request (zone,
period, region, district, indicators) with errors naming the parameter,
refreshes the indicators when they are behind the facts, and computes the
suppression pattern of each period (cached until the indicators change).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from sqlalchemy import Engine

from hub.errors import ValidationError
from hub.orgunits import org_units
from hub.provenance import ILLUSTRATIVE_MARK, ILLUSTRATIVE_REFERRAL
from hub.reporting_time import PERIOD_KINDS
from hub.zones import ZONE_REGIONS, ZONES
from projections import fact_queries, indicator_store
from projections.fx import load_rates
from projections.indicators import ALL, BY_NAME, IndicatorValue, indicator
from projections.period_suppression import CellKey, Published, year_patterns
from projections.periods import Period, parse_period
from projections.report import COMPLEMENTARY_LABEL, Report, build_report, illustrative_caveat
from projections.suppression import Mark, Policy

_CACHE_SIZE: Final = 64


class NotFound(ValidationError):
    """The request names something that does not exist (e.g. a zone): HTTP 404."""


class BadParameter(ValidationError):
    """A parameter is malformed (e.g. a period string): HTTP 400. Other ValidationErrors are 422."""


@dataclass(frozen=True)
class Scope:
    """A checked request scope."""

    zone: str
    region: str | None = None
    district: str | None = None


def check_scope(zone: str, region: str | None = None, district: str | None = None) -> Scope:
    """Check that ``zone`` exists and that ``region`` / ``district`` belong to it."""
    if zone not in ZONES:
        raise NotFound([("zone", f"unknown zone {zone!r}; known: {', '.join(ZONES)}")])
    regions = ZONE_REGIONS[zone]
    if region is not None and region not in regions:
        raise ValidationError(
            [("region", f"region {region!r} is not in zone {zone}; its regions: {', '.join(sorted(regions))}")]
        )
    if district is not None:
        unit = org_units().district(district)
        if unit is None:
            raise ValidationError([("district", f"unknown district {district!r}")])
        if unit.region not in regions:
            raise ValidationError([("district", f"district {district} ({unit.region}) is not in zone {zone}")])
        if region is not None and unit.region != region:
            raise ValidationError([("district", f"district {district} is in region {unit.region}, not {region}")])
    return Scope(zone, region, district)


def check_period(text: str) -> Period:
    """Parse a period string; :class:`BadParameter` on the field ``period``.

    Its digits must be ASCII: a year in other digits (``٢٠٢٦``, ``２０２６``) would parse as 2026 but keep
    that text as the period's value, which is then no canonical period and no file name of a download.
    """
    if isinstance(text, str) and not text.isascii():
        raise BadParameter(
            [("period", f"unrecognised period {text!r}; write it in ASCII digits: 2026, 2026-Q1 or 2026-03")]
        )
    try:
        return parse_period(text)
    except ValidationError as exc:
        raise BadParameter(exc.errors) from exc


def check_indicators(names: Sequence[str] | None) -> list[str] | None:
    """Known indicator names (comma-separated items are split); ValidationError on ``indicator``."""
    if not names:
        return None
    out: list[str] = []
    for item in names:
        for name in item.split(","):
            if name.strip():
                out.append(indicator(name.strip()).name)
    return out or None


class _PeriodView(NamedTuple):
    values: list[IndicatorValue]
    places: list[tuple[str, str]]
    marks: Mapping[CellKey, Mark]


@dataclass
class ReportService:
    """Reports and indicator queries of one database, with the suppression patterns cached."""

    engine: Engine
    reporting_currency: str = "CNY"
    policy: Policy = field(default_factory=Policy)
    refresh: bool = True
    """Refresh the indicators first when they are behind the facts."""
    refresh_interval_s: float = 0.0
    """At most one staleness check (and refresh) per this many seconds: a busy API under a busy worker
    then serves figures at most this old instead of refreshing before every request."""
    fx_source: str = field(default_factory=lambda: load_rates().source)
    held_zones: tuple[str, ...] = ZONES
    """The zones this database holds: a jurisdiction's cluster (``hub --cluster hk``) holds only the zones
    with a region homed there; asking for another zone is a 404 naming the cluster's zones, never an
    empty report that looks like no activity."""
    cluster: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cache: dict[
        tuple[Any, ...], dict[str, tuple[list[IndicatorValue], list[tuple[str, str]], dict[str, Published]]]
    ] = field(default_factory=dict, repr=False)
    _checked_at: float | None = field(default=None, repr=False)

    def _scope(self, zone: str, region: str | None, district: str | None) -> Scope:
        scope = check_scope(zone, region, district)
        if zone not in self.held_zones:
            where = f"cluster {self.cluster}" if self.cluster else "this database"
            raise NotFound(
                [("zone", f"zone {zone} is not held by {where}, which holds {', '.join(self.held_zones)} only")]
            )
        return scope

    def ensure_fresh(self) -> None:
        """Refresh the indicators if the facts moved since they were computed (one refresher at a time)."""
        if not self.refresh:
            return
        with self._lock:
            now = time.monotonic()
            if self._checked_at is not None and now - self._checked_at < self.refresh_interval_s:
                return
            indicator_store.ensure_fresh(self.engine, reporting_currency=self.reporting_currency)
            self._checked_at = time.monotonic()

    def _view(self, zone: str, period: Period) -> _PeriodView:
        """The zone's values, places and pattern of ``period``, from ONE read of its year.

        The pattern is a part of the year's, decided with the zones before this one; the values shown
        beside it are the ones it was computed from, so a refresh between two reads can never pair a
        figure with a mark computed for another.
        """
        year = parse_period(period.value[:4])
        zones = tuple(z for z in ZONES[: ZONES.index(zone) + 1] if z in self.held_zones or z == zone)
        stamps = tuple(indicator_store.zone_stamp(self.engine, z) for z in zones)
        key = (year.value, zones, self.policy, stamps)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            inputs = [(z, *self._year_values(z, year)) for z in zones]
            decided = year_patterns(year, inputs, self.policy)
            cached = {z: (values, places, decided[z]) for z, values, places in inputs}
            with self._lock:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = cached
        values, places, patterns = cached[zone]
        shown = [v for v in values if (v.period_kind, v.period) == (period.kind, period.value)]
        return _PeriodView(shown, places, patterns[period.value].marks)

    def _year_values(self, zone: str, year: Period) -> tuple[list[IndicatorValue], list[tuple[str, str]]]:
        values = [v for v in indicator_store.read_values(self.engine, zone) if v.period[:4] == year.value]
        return values, list(indicator_store.known_places(self.engine, zone))

    def report(
        self,
        zone: str,
        period_text: str,
        *,
        region: str | None = None,
        district: str | None = None,
        suppressed: bool = True,
    ) -> Report:
        """The report of ``zone`` for a period (``2026``, ``2026-Q1``, ``2026-03``), or a part of it."""
        scope = self._scope(zone, region, district)
        period = check_period(period_text)
        self.ensure_fresh()
        marks: Mapping[CellKey, Mark] | None = None
        if suppressed:
            values, places, marks = self._view(zone, period)
        else:
            values = indicator_store.read_values(self.engine, zone, period_kind=period.kind, period=period.value)
            places = indicator_store.known_places(self.engine, zone)
        caveat = illustrative_caveat(self.illustrative_districts(zone))
        report = build_report(
            zone,
            period,
            values,
            reporting_currency=self.reporting_currency,
            places=places,
            rates=fact_queries.rates_used(self.engine, zone, period, region=region, district=district),
            fx_source=self.fx_source,
            policy=self.policy,
            suppressed=suppressed,
            marks=marks,
            caveats=[caveat] if caveat else [],
            region=scope.region,
            district=scope.district,
        )
        return report

    def illustrative_districts(self, zone: str) -> list[str]:
        """The districts of ``zone`` whose figures are illustrative demo data (the report's caveat)."""
        return sorted(
            fact_queries.illustrative_districts(
                self.engine, zone, referral=ILLUSTRATIVE_REFERRAL, mark=ILLUSTRATIVE_MARK
            )
        )

    def years(self, zone: str) -> list[str]:
        """The years with indicator values in ``zone``, oldest first."""
        self._scope(zone, None, None)
        self.ensure_fresh()
        return sorted({v.period for v in indicator_store.read_values(self.engine, zone, period_kind="year")})

    def indicators(
        self,
        zone: str,
        *,
        period_text: str | None = None,
        region: str | None = None,
        district: str | None = None,
        indicators: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Long-form indicator rows (suppression applied), filtered; zero values are not listed."""
        self._scope(zone, region, district)
        period = check_period(period_text) if period_text is not None else None
        names = check_indicators(indicators)
        self.ensure_fresh()
        values = indicator_store.read_values(
            self.engine,
            zone,
            period_kind=period.kind if period else None,
            period=period.value if period else None,
        )
        found = {(v.period_kind, v.period) for v in values}
        out: list[dict[str, Any]] = []
        order = {k: i for i, k in enumerate(PERIOD_KINDS)}
        for _, value in sorted(found, key=lambda kv: (order[kv[0]], kv[1])):
            shown, _places, marks = self._view(zone, parse_period(value))
            for v in shown:
                if region is not None and v.region != region:
                    continue
                if district is not None and v.district != district:
                    continue
                if names is not None and v.indicator not in names:
                    continue
                mark = marks.get((v.region, v.district, v.period_kind, v.period, v.indicator))
                out.append(_row(v, mark, self.policy, self.reporting_currency))
        return out


def _row(v: IndicatorValue, mark: Mark | None, policy: Policy, currency: str) -> dict[str, Any]:
    spec = BY_NAME[v.indicator]
    level = "zone" if v.region == ALL else "region" if v.district == ALL else "district"
    shown: Any
    if mark is None:
        shown = int(v.value) if spec.kind == "count" else str(v.value) if spec.kind == "amount" else float(v.value)
    else:
        shown = None
    flag = None if mark is None else policy.label if mark == "primary" else COMPLEMENTARY_LABEL
    return {
        "zone": v.zone,
        "region": v.region,
        "district": v.district,
        "level": level,
        "period_kind": v.period_kind,
        "period": v.period,
        "indicator": v.indicator,
        "unit": currency if spec.unit == "reporting" else spec.unit,
        "value": shown,
        "flag": flag,
    }


__all__ = ["BadParameter", "NotFound", "ReportService", "Scope", "check_indicators", "check_period", "check_scope"]
