"""Reusable builders of valid events in the JSON ingest form (see docs/events.md).

``valid_event_doc("CaseOpened")`` returns a fresh, valid document (new
``event_id`` each call) with realistic values from Shenzhen Nanshan, station
``ns-shekou``. Keyword overrides replace fields; pass :data:`DROP` to remove
one, e.g. ``valid_event_doc("VisitMade", notes=DROP)``.

``event_records(event_type)`` is a hypothesis strategy of valid Avro-ready raw
records (the values ``validate_event(...).record`` holds), for property tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st

from hub import models
from hub.catalogue import EVENT_TYPES
from hub.kafka_clients import security_protocol
from hub.orgunits import org_units
from hub.schemas import load_schema
from hub.settings import HubSettings


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""Override value that removes the field from the document."""

ENVELOPE: Final[dict[str, Any]] = {
    "occurred_at": "2026-03-02T09:30:00+08:00",
    "region": "GD",
    "district": "shenzhen-nanshan",
    "station": "ns-shekou",
}


def _case_opened() -> dict[str, Any]:
    return {
        "case_id": "NS-2026-000123",
        "service_area": "ELDERLY",
        "risk_level": "MEDIUM",
        "client_id": "NS-P-0045821",
        "client_name": "陈秀英",
        "client_id_number": "440305194803120021",
        "client_phone": "+86 138 0013 8000",
        "client_birth_year": 1948,
        "client_gender": "F",
        "vulnerable_groups": ["ELDERLY_ALONE", "LOW_INCOME"],
        "worker_id": "NS-SW-0107",
        "referral_source": "社区居委会",
    }


def _visit_made() -> dict[str, Any]:
    return {
        "visit_id": "NS-V-2026-004518",
        "case_id": "NS-2026-000123",
        "worker_id": "NS-SW-0107",
        "visit_type": "HOME",
        "duration_minutes": 45,
        "volunteer_count": 2,
        "notes": "入户走访：老人独居，需要助餐服务。",
    }


def _donation_received() -> dict[str, Any]:
    return {
        "donation_id": "NS-D-2026-0311",
        "amount": "50000.00",
        "currency": "CNY",
        "donor_type": "ENTERPRISE",
        "donor_name": "深圳某科技有限公司",
        "project_id": "NS-PRJ-041",
        "beneficiaries": 320,
    }


def _project_evaluated() -> dict[str, Any]:
    return {
        "evaluation_id": "NS-E-2026-017",
        "project_id": "NS-PRJ-041",
        "project_name": "家有好邻-邻里互助计划",
        "service_area": "COMMUNITY_BUILDING",
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
        "evaluator_ids": ["EXP-003", "EXP-017", "EXP-029"],
        "score_professional": 88,
        "score_effectiveness": 91,
        "score_financial": 85,
        "score_overall": 89,
        "outcome": "EXCELLENT",
        "beneficiaries": 1460,
    }


def _case_closed() -> dict[str, Any]:
    return {"case_id": "NS-2026-000123", "outcome": "GOAL_MET", "worker_id": "NS-SW-0107"}


def _service_delivered() -> dict[str, Any]:
    return {
        "service_id": "NS-S-2026-2231",
        "service_area": "SOCIAL_ASSISTANCE",
        "project_id": "NS-PRJ-041",
        "person_times": 120,
        "volunteer_count": 8,
    }


def _project_funded() -> dict[str, Any]:
    return {
        "project_id": "NS-PRJ-041",
        "project_name": "暖心相伴，从爱出发—社区高龄长者服务项目",
        "programme": "VENTURE_PHILANTHROPY",
        "amount": "150000.00",
        "currency": "CNY",
    }


def _training_held() -> dict[str, Any]:
    return {"training_id": "NS-T-2026-008", "topic": "个案管理与危机干预", "participants": 60, "hours": 6}


def _worker_certified() -> dict[str, Any]:
    return {"worker_id": "NS-SW-0107", "level": "INTERMEDIATE"}


def _volunteer_registered() -> dict[str, Any]:
    return {"volunteer_id": "NS-VOL-12045", "volunteer_name": "李志强"}


_BODIES: Final[dict[str, Callable[[], dict[str, Any]]]] = {
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
assert set(_BODIES) == set(EVENT_TYPES), "factories must cover every event type"


def valid_event_doc(event_type: str, **overrides: Any) -> dict[str, Any]:
    """A valid JSON-form document of ``event_type``; ``overrides`` replace fields (``DROP`` removes one)."""
    doc: dict[str, Any] = {"type": event_type, "event_id": str(uuid.uuid4()), **ENVELOPE, **_BODIES[event_type]()}
    for name, value in overrides.items():
        if value is DROP:
            doc.pop(name, None)
        else:
            doc[name] = value
    return doc


# -- hypothesis: valid Avro-ready records of any type ----------------------------------
def _envelope_places() -> list[tuple[str, str, tuple[str, ...]]]:
    return [(d.region, d.code, d.stations) for d in org_units().districts.values()]


_ID_ALPHABET: Final = st.characters(categories=("L", "N"), include_characters="-_/.:#")


def _string_strategy(name: str) -> st.SearchStrategy[str]:
    kind = models.STRING_KINDS[name]
    if kind == "currency":
        return st.sampled_from(models.CURRENCIES)
    if kind == "text":
        return st.text(max_size=models.MAX_TEXT_LENGTH)
    limit = models.MAX_NAME_LENGTH if kind == "name" else models.MAX_ID_LENGTH
    alphabet = None if kind == "name" else _ID_ALPHABET
    text = st.text(min_size=1, max_size=limit) if alphabet is None else st.text(alphabet, min_size=1, max_size=limit)
    return text.filter(lambda s: bool(s.strip()))


def _value_strategy(name: str, avro: Any) -> st.SearchStrategy[Any]:
    if isinstance(avro, list):
        inner = next(b for b in avro if b != "null")
        return st.none() | _value_strategy(name, inner)
    if isinstance(avro, str):
        avro = {"type": avro}
    logical = avro.get("logicalType")
    if logical == "timestamp-millis":
        return st.datetimes(
            min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59), timezones=st.just(UTC)
        ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
    if logical == "date":
        return st.dates(min_value=models.EARLIEST_DATE, max_value=models.LATEST_DATE)
    if logical == "decimal":
        return st.decimals(
            min_value=Decimal("0.01"), max_value=Decimal("9999999999999999.99"), places=2, allow_nan=False
        )
    kind = avro["type"]
    if kind == "string":
        return _string_strategy(name)
    if kind in ("int", "long"):
        low, high = models.INT_RANGES[name]
        return st.integers(low, high)
    if kind == "enum":
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        low, high = models.ARRAY_LIMITS[name]
        return st.lists(_value_strategy(name, avro["items"]), min_size=low, max_size=high)
    raise AssertionError(f"no strategy for {name}: {avro!r}")


@st.composite
def event_records(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    """A valid Avro-ready raw record of ``event_type`` (what ``validate_event(...).record`` returns)."""
    region, district, stations = draw(st.sampled_from(_envelope_places()))
    record: dict[str, Any] = {}
    for spec in load_schema("raw", event_type)["fields"]:
        record[spec["name"]] = draw(_value_strategy(spec["name"], spec["type"]))
    record["event_id"] = str(draw(st.uuids()))
    record["region"], record["district"] = region, district
    if stations:
        record["station"] = draw(st.none() | st.sampled_from(stations))
    if "period_start" in record and record["period_end"] < record["period_start"]:
        record["period_start"], record["period_end"] = record["period_end"], record["period_start"]
    return record


def kafka_env(settings: HubSettings) -> dict[str, str]:
    """The ``HUB_*`` variables that reach ``settings``' cluster and log in to it, for a CLI run in a subprocess."""
    env = {"HUB_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    if settings.kafka_sasl_username:
        env |= {
            "HUB_KAFKA_SECURITY_PROTOCOL": security_protocol(settings),
            "HUB_KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
            "HUB_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password.get_secret_value(),
        }
    return env
