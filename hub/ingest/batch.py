"""Pure logic of the HTTP ingest edge: limits, body parsing, district checks, per-event outcomes.

Knows HTTP status codes but no web framework; :mod:`hub.ingest.app` is the
FastAPI adapter around it. A request refused as a whole raises
:class:`hub.http_api.ApiError`, the error shape the hub's APIs share; the bearer
token is read by :func:`hub.http_api.authenticate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hub.errors import ValidationError
from hub.http_api import ApiError, require_role
from hub.models import json_type
from hub.orgunits import org_units
from hub.tokens import PUBLISHING_ROLES, TokenEntry
from hub.validation import ValidatedEvent, validate_event

DEFAULT_MAX_BODY_BYTES: Final = 5 * 1024 * 1024
DEFAULT_MAX_EVENTS: Final = 1000

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


@dataclass(frozen=True)
class Outcome:
    """What happened to one event of a request."""

    index: int
    event_id: str | None
    status: Status
    errors: tuple[tuple[str, str], ...] = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

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


# -- the request as a whole ------------------------------------------------------


def human_bytes(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def body_too_large(limits: Limits, declared: int | None = None) -> ApiError:
    size = f" (Content-Length {declared})" if declared is not None else ""
    limit = human_bytes(limits.max_body_bytes)
    limit = f"{limits.max_body_bytes} bytes" + (f" ({limit})" if not limit.endswith(" bytes") else "")
    return ApiError(
        413, "body_too_large", f"request body exceeds the limit of {limit}{size}; split it into smaller batches"
    )


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


def check_declared_length(header: str | None, limits: Limits) -> None:
    """Refuse early when the client announces a body over the limit."""
    if header is None:
        return
    text = header.strip()
    if not text.isdigit():
        raise ApiError(400, "invalid_content_length", f"Content-Length must be a non-negative integer, got {header!r}")
    declared = int(text)
    if declared > limits.max_body_bytes:
        raise body_too_large(limits, declared)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in one JSON object")
        out[key] = value
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


def check_districts(entry: TokenEntry, coordinates: Iterable[tuple[int, object]]) -> None:
    """Refuse the whole request if any event names a known district other than the token's.

    ``coordinates`` are ``(index, district)`` as sent. A district that is not a
    string or not a known code is left to validation (it is invalid, not
    someone else's), and so is a region that does not match the district.
    """
    units = org_units()
    details: list[tuple[int | None, str, str]] = [
        (index, "district", f"{district!r} is not the token's district {entry.scope.district!r}")
        for index, district in coordinates
        if isinstance(district, str) and district != entry.scope.district and units.district(district) is not None
    ]
    if details:
        listed = ", ".join(str(i) for i, _, _ in details[:10]) + (", …" if len(details) > 10 else "")
        raise ApiError(
            403,
            "forbidden_district",
            f"token {entry.id} may publish only for {entry.scope}; event(s) {listed} name another district; "
            "nothing was published",
            details=details,
        )


def raw_coordinates(items: Sequence[object]) -> list[tuple[int, object]]:
    """``(index, district)`` of every object item, as sent."""
    return [(i, item.get("district")) for i, item in enumerate(items) if isinstance(item, Mapping)]


# -- validation ------------------------------------------------------------------


@dataclass
class Prepared:
    """Events of a request after validation: valid ones (with their request index) and rejections."""

    valid: list[tuple[int, ValidatedEvent]] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)


def prepare(items: Sequence[object]) -> Prepared:
    """Validate every item; nothing is sent here."""
    out = Prepared()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            out.outcomes[index] = rejected(index, None, [("event", f"must be a JSON object, not {json_type(item)}")])
            continue
        try:
            out.valid.append((index, validate_event(item)))
        except ValidationError as exc:
            out.outcomes[index] = rejected(index, event_id_of(item), exc.errors)
    return out


# -- the response ----------------------------------------------------------------


def status_of(outcomes: Sequence[Outcome]) -> int:
    """202 all accepted; 207 some accepted, the rest invalid; 422 none valid; 503 any failed by the hub's fault."""
    statuses = {o.status for o in outcomes}
    if "failed" in statuses:
        return 503
    if statuses == {"accepted"}:
        return 202
    if "accepted" not in statuses:
        return 422
    return 207


def response_body(outcomes: Sequence[Outcome], failure: tuple[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """HTTP status and body of a request whose events were each handled.

    ``failure`` is ``(code, message)`` of what stopped the ``failed`` events
    (``broker_unavailable``, ``registry_unavailable``).
    """
    ordered = sorted(outcomes, key=lambda o: o.index)
    counts = {s: sum(1 for o in ordered if o.status == s) for s in ("accepted", "rejected", "failed")}
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
    elif status == 422:
        body["error"] = ApiError(
            422, "all_rejected", f"none of the {len(ordered)} events is valid; see results[].errors"
        ).as_dict()
    return status, body


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_EVENTS",
    "Limits",
    "Outcome",
    "Prepared",
    "body_too_large",
    "check_content_type",
    "check_declared_length",
    "check_districts",
    "check_may_publish",
    "event_id_of",
    "failed",
    "human_bytes",
    "parse_body",
    "prepare",
    "raw_coordinates",
    "rejected",
    "response_body",
    "status_of",
]
