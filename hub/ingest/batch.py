"""Pure logic of the HTTP ingest edge: limits, body parsing, district checks, per-event outcomes.

Knows HTTP status codes but no web framework; :mod:`hub.ingest.app` is the
FastAPI adapter around it. A request refused as a whole raises
:class:`hub.http_api.ApiError`, the error shape the hub's APIs share; the bearer
token is read by :func:`hub.http_api.authenticate`, the body bounded by
:func:`hub.http_api.check_declared_length` and :class:`hub.http_app.BodyLimit`.

Districts are checked per event (:func:`prepare`): an event the token may not
publish (another district's) is refused with field ``district`` and the rule,
never published, and the valid events beside it are published as usual. A
request in which nothing is accepted and some event was another district's is
403 ``forbidden_district``; otherwise the status is the batch's (202, 207, 422,
503). Only the validated coordinates (:meth:`hub.tokens.TokenEntry.may_publish_for`)
let an event through.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hub.errors import ValidationError
from hub.http_api import ApiError, require_role
from hub.models import json_type
from hub.orgunits import OrgUnits, org_units
from hub.rate_limit import RateLimit
from hub.tokens import PUBLISHING_ROLES, TokenEntry
from hub.validation import ValidatedEvent, validate_event

DEFAULT_MAX_BODY_BYTES: Final = 5 * 1024 * 1024
DEFAULT_MAX_EVENTS: Final = 1000
DEFAULT_RATE_LIMIT: Final = RateLimit(per_second=10, burst=50)
"""Requests per publisher token: 10 per second sustained, bursts of 50 (each up to 1000 events)."""

Status = Literal["accepted", "rejected", "failed"]
FieldErrors = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Limits:
    """Bounds of one ingest request."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_events: int = DEFAULT_MAX_EVENTS

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.max_events < 1:
            raise ValueError("ingest limits must be positive")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one event of a request (``forbidden``: rejected because it is another district's)."""

    index: int
    event_id: str | None
    status: Status
    errors: tuple[tuple[str, str], ...] = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    forbidden: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "event_id": self.event_id, "status": self.status}
        if self.status == "accepted":
            out.update(topic=self.topic, partition=self.partition, offset=self.offset)
        else:
            out["errors"] = [{"field": f, "message": m} for f, m in self.errors]
        return out


def rejected(index: int, event_id: str | None, errors: FieldErrors) -> Outcome:
    return Outcome(index, event_id, "rejected", tuple(errors))


def failed(index: int, event_id: str | None, message: str) -> Outcome:
    return Outcome(index, event_id, "failed", (("event", message),))


def forbidden(index: int, event_id: str | None, entry: TokenEntry, region: str, district: str) -> Outcome:
    """The event names ``region``/``district``, which ``entry`` may not publish for."""
    why = f"{region}/{district} is not this token's district: token {entry.id} may publish only events of {entry.scope}"
    return Outcome(index, event_id, "rejected", (("district", why),), forbidden=True)


# -- the request as a whole ------------------------------------------------------


def check_content_type(header: str | None) -> None:
    """Accept ``application/json`` (or ``application/*+json``), UTF-8 only."""
    media, _, params = (header or "").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        got = f"got {header!r}" if header else "no Content-Type was sent"
        raise ApiError(415, "unsupported_media_type", f"Content-Type must be application/json; {got}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", f"JSON must be UTF-8; got charset={value.strip()}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # at C speed; only an object with a repeated key is walked again, to name the key
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in one JSON object")
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, limits: Limits) -> tuple[list[object], bool]:
    """The events of a body and whether it was a batch.

    One event is a JSON object; a batch is a JSON array of up to
    ``limits.max_events`` events. Items are not checked here: a non-object item
    becomes a per-event rejection later.
    """
    if not body.strip():
        raise ApiError(400, "empty_body", "empty body: send one event (a JSON object) or a batch (a JSON array)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_json", f"body is not UTF-8 (byte {exc.start}): JSON must be UTF-8") from exc
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "malformed_json", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise ApiError(400, "malformed_json", "malformed JSON: nested too deeply") from exc
    if isinstance(doc, dict):
        return [doc], False
    if not isinstance(doc, list):
        raise ApiError(
            422,
            "invalid_body",
            f"body must be one event (a JSON object) or a batch (a JSON array), got {json_type(doc)}",
        )
    if not doc:
        raise ApiError(422, "empty_batch", "the batch is empty: send at least one event")
    if len(doc) > limits.max_events:
        raise ApiError(
            413,
            "too_many_events",
            f"the batch has {len(doc)} events; at most {limits.max_events} are allowed per request",
        )
    return doc, True


def event_id_of(item: object) -> str | None:
    value = item.get("event_id") if isinstance(item, Mapping) else None
    return value if isinstance(value, str) else None


# -- authentication and authorisation ---------------------------------------------


def check_may_publish(entry: TokenEntry) -> None:
    """Only publisher tokens publish (403 ``forbidden_role``); who the caller is, :func:`hub.http_api.authenticate`."""
    require_role(entry, PUBLISHING_ROLES, "publish events")


# -- validation ------------------------------------------------------------------


@dataclass
class Prepared:
    """Events of a request after validation: valid ones (with their request index) and rejections."""

    valid: list[tuple[int, ValidatedEvent]] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)


def _foreign_district(entry: TokenEntry, item: Mapping[str, Any], units: OrgUnits) -> tuple[str, str] | None:
    """``(region, district)`` of an invalid item that names a known district other than the token's."""
    district = item.get("district")
    if not isinstance(district, str) or district == entry.scope.district:
        return None
    unit = units.district(district)
    return None if unit is None else (unit.region, unit.code)


def prepare(items: Sequence[object], entry: TokenEntry) -> Prepared:
    """Validate every item and check it is the publisher ``entry``'s district; nothing is sent here.

    A valid event goes through only if the token may publish for its (validated)
    region and district; any other district's event is :func:`forbidden`. An
    invalid event that names another known district is forbidden too, rather
    than listed with its field errors: this token may not send it whatever its
    content. A district that is not a known code, or a region that does not
    match the district, is nobody's district: a validation error, as in the SDK.
    """
    out = Prepared()
    units = org_units()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            out.outcomes[index] = rejected(index, None, [("event", f"must be a JSON object, not {json_type(item)}")])
            continue
        try:
            event = validate_event(item)
        except ValidationError as exc:
            other = _foreign_district(entry, item, units)
            out.outcomes[index] = (
                forbidden(index, event_id_of(item), entry, *other)
                if other is not None
                else rejected(index, event_id_of(item), exc.errors)
            )
            continue
        if entry.may_publish_for(event.region, event.district):
            out.valid.append((index, event))
        else:
            out.outcomes[index] = forbidden(index, event.event_id, entry, event.region, event.district)
    return out


# -- the response ----------------------------------------------------------------


def status_of(outcomes: Sequence[Outcome]) -> int:
    """202 all accepted; 207 some accepted, the rest refused; 503 any failed by the hub's fault.

    None accepted: 403 if any was another district's, else 422.
    """
    statuses = {o.status for o in outcomes}
    if "failed" in statuses:
        return 503
    if statuses == {"accepted"}:
        return 202
    if "accepted" not in statuses:
        return 403 if any(o.forbidden for o in outcomes) else 422
    return 207


def response_body(outcomes: Sequence[Outcome], failure: tuple[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """HTTP status and body of a request whose events were each handled.

    ``failure`` is ``(code, message)`` of what stopped the ``failed`` events
    (``broker_unavailable``, ``registry_unavailable``).
    """
    ordered = sorted(outcomes, key=lambda o: o.index)
    counts = dict.fromkeys(("accepted", "rejected", "failed"), 0)
    for outcome in ordered:  # one pass, not one per status
        counts[outcome.status] += 1
    status = status_of(ordered)
    body: dict[str, Any] = {**counts, "results": [o.as_dict() for o in ordered]}
    if status == 503:
        code, why = failure or ("unavailable", "the hub could not publish them")
        body["error"] = ApiError(
            503,
            code,
            f"{counts['failed']} of {len(ordered)} events were not published: {why}; "
            "retry them (re-sending an accepted event_id is harmless)",
        ).as_dict()
    elif status == 403:
        others = [o for o in ordered if o.forbidden]
        listed = ", ".join(str(o.index) for o in others[:10]) + (", …" if len(others) > 10 else "")
        body["error"] = ApiError(
            403,
            "forbidden_district",
            f"nothing was published: event(s) {listed} name a district this token may not publish for; "
            "see results[].errors",
            details=[(o.index, field, message) for o in others for field, message in o.errors],
        ).as_dict()
    elif status == 422:
        body["error"] = ApiError(
            422, "all_rejected", f"none of the {len(ordered)} events is valid; see results[].errors"
        ).as_dict()
    return status, body


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_RATE_LIMIT",
    "Limits",
    "Outcome",
    "Prepared",
    "check_content_type",
    "check_may_publish",
    "event_id_of",
    "failed",
    "forbidden",
    "parse_body",
    "prepare",
    "rejected",
    "response_body",
    "status_of",
]
