"""The projection logic: one shared event in, the row changes it implies out.

Pure: no SQL here. :func:`project` dispatches on the event type and returns
:class:`Upsert` and :class:`Refresh` values that :mod:`projections.store`
applies; :func:`derive_case` states how a case's derived columns (visit
counts, last visit, status) follow from its facts, and the store only
executes it. Why the result does not depend on the order events arrive in:

- every fact row is keyed by ``(zone, district, natural id)`` and every event
  type writes only its own group of columns, guarded by that group's version
  ``(occurred_at ms, event_id)``: the store keeps the greatest version (or the
  smallest, for "first seen" facts), which is the same whatever the order;
- an equal version is the same event again, so a re-published event changes
  nothing;
- derived values (a case's visit counts and status) are never incremented:
  they are recomputed from the facts (:class:`Refresh`, :func:`derive_case`)
  whenever a case or
  one of its visits arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from hub import reporting_time
from hub.errors import ProjectionError, ValidationError
from hub.orgunits import org_units
from projections.fx import FxTable, apply_rate, load_rates

Keep = Literal["latest", "earliest"]

#: Version columns of a table's main column group (the envelope).
MAIN_VERSION: Final = ("occurred_ms", "event_id")
#: Version columns of the columns a CaseClosed writes.
CLOSED_VERSION: Final = ("closed_ms", "closed_event_id")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Upsert:
    """Insert a row, or update the ``values`` columns of an existing one if this version wins.

    ``version`` is ``(occurred_at epoch ms, event_id)`` and is stored in the
    two ``version_columns`` (part of ``values``). With ``keep="latest"`` an
    update needs a strictly greater version than the stored one, with
    ``"earliest"`` a strictly smaller one; a stored NULL version always loses.
    ``insert_values`` are written only when the row is new.
    """

    table: str
    key: Mapping[str, Any] = field(hash=False)
    values: Mapping[str, Any] = field(hash=False)
    version: tuple[int, str]
    version_columns: tuple[str, str] = MAIN_VERSION
    keep: Keep = "latest"
    insert_values: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Refresh:
    """Recompute the derived columns of one row of ``table`` from the facts (today: ``cases``)."""

    table: str
    key: Mapping[str, Any] = field(hash=False)


RowChange = Upsert | Refresh


# -- derived columns ----------------------------------------------------------------------------------
#: The visit type of a home visit: the only type a case's ``home_visit_count`` counts.
HOME_VISIT: Final = "HOME"
#: The columns of ``cases`` that :func:`derive_case` computes (never written by an event directly).
CASE_DERIVED_COLUMNS: Final = ("status", "visit_count", "home_visit_count", "last_visit_at")

CaseStatus = Literal["open", "closed", "unknown"]


def is_home_visit(visit_type: str | None) -> bool:
    """Whether a visit of ``visit_type`` counts as a home visit."""
    return visit_type == HOME_VISIT


def case_status(opened_ms: int | None, closed_ms: int | None) -> CaseStatus:
    """A case's status from the versions (epoch ms) of its opening and its closing, whichever arrived.

    ``closed`` once a closing is known that is not older than the opening (an
    opening newer than the closing means the case was opened again);
    ``open`` once an opening is known; ``unknown`` before either.
    """
    if closed_ms is not None and (opened_ms is None or closed_ms >= opened_ms):
        return "closed"
    if opened_ms is not None:
        return "open"
    return "unknown"


@dataclass(frozen=True)
class VisitTally:
    """The stored visits of one case and one visit type: how many, and when the latest took place."""

    visit_type: str
    count: int
    last_at: datetime | None


@dataclass(frozen=True)
class CaseDerived:
    """The derived columns of one case (:data:`CASE_DERIVED_COLUMNS`)."""

    status: CaseStatus
    visit_count: int
    home_visit_count: int
    last_visit_at: datetime | None


def derive_case(opened_ms: int | None, closed_ms: int | None, visits: Iterable[VisitTally]) -> CaseDerived:
    """The derived columns of a case from its facts: its opening and closing versions and its visits.

    A function of the stored facts only, recomputed whenever one of them
    changes, so the result is the same whatever order the events came in.
    """
    tallies = [v for v in visits if v.count > 0]
    moments = [v.last_at for v in tallies if v.last_at is not None]
    return CaseDerived(
        status=case_status(opened_ms, closed_ms),
        visit_count=sum(v.count for v in tallies),
        home_visit_count=sum(v.count for v in tallies if is_home_visit(v.visit_type)),
        last_visit_at=max(moments) if moments else None,
    )


@dataclass(frozen=True)
class ProjectionContext:
    """What the rules need besides the event: the reporting currency and the dated FX rates."""

    reporting_currency: str = "CNY"
    fx: FxTable = field(default_factory=load_rates)


def project(zone: str, event_type: str, record: Mapping[str, Any], ctx: ProjectionContext) -> list[RowChange]:
    """The row changes one shared ``record`` of ``event_type``, read from zone ``zone``, implies.

    Raises :class:`ProjectionError` naming the field and rule when the record cannot be projected.
    """
    if not isinstance(zone, str) or not zone:
        raise ProjectionError("zone: must be a non-empty zone name such as gba")
    rule = _RULES.get(event_type)
    if rule is None:
        raise ProjectionError(f"type: no projection rule for event type {event_type!r}; known: {', '.join(_RULES)}")
    event = _Event(zone, event_type, record)
    return rule(event, ctx)


# -- reading a record -----------------------------------------------------------------------------
class _Event:
    """A shared record with checked accessors; every failure names ``<EventType>.<field>``."""

    def __init__(self, zone: str, event_type: str, record: Mapping[str, Any]) -> None:
        self.zone = zone
        self.type = event_type
        self.record = record
        self.event_id = self.text("event_id")
        self.district = self.text("district")
        try:
            self.moment = reporting_time.to_utc(self.get("occurred_at"))
        except ValidationError as exc:
            raise ProjectionError(f"{event_type}.occurred_at: {exc.errors[0][1]}") from exc
        self.ms = (self.moment - _EPOCH) // timedelta(milliseconds=1)
        self.local = reporting_time.periods_of(self.moment)
        district = org_units().district(self.district)
        # The shared region enum has a default for forward compatibility; the district is authoritative.
        self.region = district.region if district is not None else self.text("region")

    def fail(self, name: str, rule: str) -> ProjectionError:
        return ProjectionError(f"{self.type}.{name}: {rule}")

    def get(self, name: str) -> Any:
        if name not in self.record:
            raise self.fail(name, "is required but missing from the shared record")
        return self.record[name]

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"must be a non-empty string, got {value!r}")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self.record.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string or null, got {type(value).__name__}")
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.record.get(name, default) if default is not None else self.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be an integer, got {value!r}")
        return value

    def opt_integer(self, name: str) -> int | None:
        value = self.record.get(name)
        return None if value is None else self.integer(name)

    def day(self, name: str) -> date:
        value = self.get(name)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self.fail(name, f"must be a date, got {value!r}")
        return value

    def money(self, name: str) -> Decimal:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise self.fail(name, f"must be a decimal amount, got {type(value).__name__}")
        try:
            amount = Decimal(value)
        except InvalidOperation as exc:
            raise self.fail(name, f"{value!r} is not a decimal amount") from exc
        if not amount.is_finite() or amount <= 0:
            raise self.fail(name, f"must be a positive amount, got {value!r}")
        return amount

    def key(self, **natural: Any) -> dict[str, Any]:
        return {"zone": self.zone, "district": self.district, **natural}

    def envelope(self, key: Mapping[str, Any]) -> dict[str, Any]:
        """The columns every fact row carries, minus any that are part of ``key``."""
        values = {
            "event_id": self.event_id,
            "region": self.region,
            "station": self.opt_text("station"),
            "occurred_at": self.moment,
            "occurred_ms": self.ms,
            "local_date": self.local.local_date,
            "month": self.local.month,
            "quarter": self.local.quarter,
            "year": self.local.year,
        }
        return {k: v for k, v in values.items() if k not in key}

    @property
    def version(self) -> tuple[int, str]:
        return (self.ms, self.event_id)

    def fact(self, table: str, key: dict[str, Any], keep: Keep = "latest", **values: Any) -> Upsert:
        return Upsert(table, key, {**self.envelope(key), **values}, self.version, MAIN_VERSION, keep)


def _money_columns(event: _Event, ctx: ProjectionContext) -> dict[str, Any]:
    amount = event.money("amount")
    currency = event.text("currency")
    try:
        rate = ctx.fx.rate(currency, event.local.local_date, ctx.reporting_currency)
    except ProjectionError as exc:
        raise ProjectionError(f"{event.type}.{exc}") from exc
    return {
        "amount": amount,
        "currency": currency,
        "amount_reporting": apply_rate(amount, rate),
        "reporting_currency": ctx.reporting_currency,
        "fx_rate": rate.rate,
        "fx_valid_from": None if rate.currency == rate.to else rate.valid_from,
    }


# -- one rule per event type ------------------------------------------------------------------------
def _case_opened(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    key = e.key(case_ref=e.text("case_ref"))
    groups = e.get("vulnerable_groups")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise e.fail("vulnerable_groups", "must be a list of symbols")
    upsert = e.fact(
        "cases",
        key,
        service_area=e.text("service_area"),
        risk_level=e.text("risk_level"),
        client_ref=e.opt_text("client_ref"),
        client_age_band=e.opt_text("client_age_band"),
        client_gender=e.opt_text("client_gender"),
        vulnerable_groups=",".join(sorted(set(groups))),
        worker_ref=e.opt_text("worker_ref"),
        referral_source=e.opt_text("referral_source"),
    )
    return [upsert, Refresh("cases", key)]


def _case_closed(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    key = e.key(case_ref=e.text("case_ref"))
    values = {
        "closed_event_id": e.event_id,
        "closed_at": e.moment,
        "closed_ms": e.ms,
        "closed_local_date": e.local.local_date,
        "closed_month": e.local.month,
        "closed_quarter": e.local.quarter,
        "closed_year": e.local.year,
        "close_outcome": e.text("outcome"),
        "closed_worker_ref": e.opt_text("worker_ref"),
    }
    # A case first seen through its closing still needs its place; CaseOpened overwrites it.
    place = {"region": e.region, "station": e.opt_text("station")}
    upsert = Upsert("cases", key, values, e.version, CLOSED_VERSION, "latest", place)
    return [upsert, Refresh("cases", key)]


def _visit_made(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    case_ref = e.text("case_ref")
    upsert = e.fact(
        "visits",
        e.key(visit_id=e.text("visit_id")),
        case_ref=case_ref,
        worker_ref=e.opt_text("worker_ref"),
        visit_type=e.text("visit_type"),
        duration_minutes=e.integer("duration_minutes"),
        volunteer_count=e.integer("volunteer_count", default=0),
    )
    return [upsert, Refresh("cases", e.key(case_ref=case_ref))]


def _donation_received(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    return [
        e.fact(
            "donations",
            e.key(donation_id=e.text("donation_id")),
            **_money_columns(e, ctx),
            donor_type=e.text("donor_type"),
            donor_name=e.opt_text("donor_name"),
            project_id=e.opt_text("project_id"),
            beneficiaries=e.opt_integer("beneficiaries"),
        )
    ]


def _project_evaluated(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    evaluators = e.get("evaluator_refs")
    if not isinstance(evaluators, list):
        raise e.fail("evaluator_refs", "must be a list of pseudonyms")
    return [
        e.fact(
            "evaluations",
            e.key(evaluation_id=e.text("evaluation_id")),
            project_id=e.text("project_id"),
            project_name=e.text("project_name"),
            service_area=e.text("service_area"),
            period_start=e.day("period_start"),
            period_end=e.day("period_end"),
            score_professional=e.integer("score_professional"),
            score_effectiveness=e.integer("score_effectiveness"),
            score_financial=e.integer("score_financial"),
            score_overall=e.integer("score_overall"),
            outcome=e.text("outcome"),
            beneficiaries=e.integer("beneficiaries"),
            evaluator_count=len(set(evaluators)),
        )
    ]


def _project_funded(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    # ProjectFunded has no id of its own and a project may be funded more than once: each event is one grant.
    return [
        e.fact(
            "fundings",
            e.key(event_id=e.event_id),
            project_id=e.text("project_id"),
            project_name=e.text("project_name"),
            programme=e.text("programme"),
            **_money_columns(e, ctx),
        )
    ]


def _service_delivered(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    return [
        e.fact(
            "services",
            e.key(service_id=e.text("service_id")),
            service_area=e.text("service_area"),
            project_id=e.opt_text("project_id"),
            person_times=e.integer("person_times"),
            volunteer_count=e.integer("volunteer_count", default=0),
        )
    ]


def _training_held(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    return [
        e.fact(
            "trainings",
            e.key(training_id=e.text("training_id")),
            topic=e.text("topic"),
            participants=e.integer("participants"),
            hours=e.integer("hours"),
        )
    ]


def _worker_certified(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    # One row per worker and level; a repeated certification keeps the first date the level was reached.
    return [e.fact("certifications", e.key(worker_ref=e.text("worker_ref"), level=e.text("level")), "earliest")]


def _volunteer_registered(e: _Event, ctx: ProjectionContext) -> list[RowChange]:
    # One row per volunteer; a repeated registration keeps the first one.
    return [e.fact("volunteers", e.key(volunteer_ref=e.text("volunteer_ref")), "earliest")]


_RULES: Final[dict[str, Callable[[_Event, ProjectionContext], list[RowChange]]]] = {
    "CaseOpened": _case_opened,
    "VisitMade": _visit_made,
    "DonationReceived": _donation_received,
    "ProjectEvaluated": _project_evaluated,
    "CaseClosed": _case_closed,
    "ServiceDelivered": _service_delivered,
    "ProjectFunded": _project_funded,
    "TrainingHeld": _training_held,
    "WorkerCertified": _worker_certified,
    "VolunteerRegistered": _volunteer_registered,
}

#: The table each event type's facts go to.
TABLE_OF: Final[dict[str, str]] = {
    "CaseOpened": "cases",
    "CaseClosed": "cases",
    "VisitMade": "visits",
    "DonationReceived": "donations",
    "ProjectEvaluated": "evaluations",
    "ProjectFunded": "fundings",
    "ServiceDelivered": "services",
    "TrainingHeld": "trainings",
    "WorkerCertified": "certifications",
    "VolunteerRegistered": "volunteers",
}
