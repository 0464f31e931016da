"""FastAPI adapter of the HTTP ingest edge: ``POST /v1/events``, ``GET /healthz``.

Thin: the body is read raw (bounded by :class:`hub.http_app.BodyLimit`), parsed
and checked by :mod:`hub.ingest.batch`, and the valid events go through a real
:class:`~hub.publishing.publisher.Publisher`. The caller is read from its bearer
token (refused when expired), limited per token id
(:class:`hub.rate_limit.RateLimiter`), and must be a district publisher; every
event must be of the token's district before anything is produced. Every error
has the one JSON shape of the hub's APIs (``{"error": {"status", "code",
"message", "details"?}}``), from :mod:`hub.http_api`; see ``docs/ingest.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub.catalogue import EVENT_TYPES
from hub.errors import PublishError, SchemaRegistryError, SerializationError
from hub.http_api import RETRY_AFTER_S, ApiError, admit, authenticate
from hub.http_app import DEFAULT_MAX_IN_FLIGHT, install_error_handlers, limit_body, limit_in_flight
from hub.ingest.batch import (
    DEFAULT_RATE_LIMIT,
    Limits,
    Outcome,
    check_content_type,
    check_may_publish,
    failed,
    parse_body,
    prepare,
    rejected,
    response_body,
)
from hub.publishing.publisher import Ack, Publisher
from hub.rate_limit import RateLimiter
from hub.settings import HubSettings
from hub.tokens import TokenEntry, TokenSource
from hub.validation import ValidatedEvent

log = logging.getLogger("hub.ingest")

EXAMPLE_CASE_OPENED: dict[str, Any] = {
    "type": "CaseOpened",
    "event_id": "0b7e3f5c-2a8d-4f57-9a54-3f1d6f0c9a21",
    "occurred_at": "2026-03-02T09:30:00+08:00",
    "region": "GD",
    "district": "shenzhen-nanshan",
    "station": "ns-shekou",
    "case_id": "NS-2026-000123",
    "service_area": "ELDERLY",
    "risk_level": "MEDIUM",
    "client_id": "NS-P-000987",
    "client_name": "陈阿姨",
    "client_birth_year": 1948,
    "client_gender": "F",
    "vulnerable_groups": ["ELDERLY_ALONE"],
    "worker_id": "NS-W-0042",
    "referral_source": "community",
}
EXAMPLE_DONATION: dict[str, Any] = {
    "type": "DonationReceived",
    "event_id": "5d1c9e0a-7b3f-4c2e-8f61-2a9b0c4d7e13",
    "occurred_at": "2026-03-02T10:05:00+08:00",
    "region": "GD",
    "district": "shenzhen-nanshan",
    "station": None,
    "donation_id": "NS-D-2026-0007",
    "amount": "1250.00",
    "currency": "CNY",
    "donor_type": "ENTERPRISE",
    "donor_name": "Nanshan Tech Co.",
    "project_id": "NS-PRJ-011",
    "beneficiaries": 40,
}


# -- documentation models (responses are built as plain dicts) --------------------


class FieldErrorDoc(BaseModel):
    field: str
    message: str


class ResultDoc(BaseModel):
    index: int
    event_id: str | None
    status: Literal["accepted", "rejected", "failed"]
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    errors: list[FieldErrorDoc] | None = None


class ErrorDetailDoc(BaseModel):
    index: int | None
    field: str
    message: str


class ErrorDoc(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetailDoc] | None = None


class IngestResponseDoc(BaseModel):
    accepted: int
    rejected: int
    failed: int
    results: list[ResultDoc]
    error: ErrorDoc | None = None


class ErrorResponseDoc(BaseModel):
    error: ErrorDoc


def _request_body_doc(limits: Limits) -> dict[str, Any]:
    event = {
        "type": "object",
        "description": "One event in the flat JSON ingest form (docs/events.md): `type` plus the record's fields.",
        "required": ["type", "event_id", "occurred_at", "region", "district"],
        "properties": {
            "type": {"type": "string", "enum": list(EVENT_TYPES)},
            "event_id": {"type": "string", "format": "uuid"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "region": {"type": "string", "enum": ["GD", "HK", "MO", "JS", "FJ"]},
            "district": {"type": "string", "example": "shenzhen-nanshan"},
            "station": {"type": ["string", "null"]},
        },
        "additionalProperties": True,
    }
    return {
        "requestBody": {
            "required": True,
            "description": (
                f"One event (a JSON object) or a batch (a JSON array of 1..{limits.max_events} events); "
                f"at most {limits.max_body_bytes} bytes."
            ),
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            event,
                            {"type": "array", "items": event, "minItems": 1, "maxItems": limits.max_events},
                        ]
                    },
                    "examples": {
                        "one event": {"summary": "A single CaseOpened", "value": EXAMPLE_CASE_OPENED},
                        "batch": {"summary": "A batch of two events", "value": [EXAMPLE_CASE_OPENED, EXAMPLE_DONATION]},
                    },
                }
            },
        }
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": IngestResponseDoc, "description": "Every event is on Kafka."},
    207: {
        "model": IngestResponseDoc,
        "description": "Some events are on Kafka; the others were invalid (see results).",
    },
    400: {"model": ErrorResponseDoc, "description": "Malformed JSON, empty body or bad Content-Length."},
    401: {"model": ErrorResponseDoc, "description": "Missing, unknown, revoked or expired bearer token."},
    403: {
        "model": IngestResponseDoc,
        "description": "Not a publisher token (`error` only), or nothing accepted and some event of a district "
        "the token may not publish for (per-event results, `error` `forbidden_district`).",
    },
    413: {"model": ErrorResponseDoc, "description": "Body over the byte limit or batch over the event limit."},
    415: {"model": ErrorResponseDoc, "description": "Content-Type is not application/json."},
    422: {
        "model": IngestResponseDoc,
        "description": "No event is valid (per-event, per-field errors), or the body is neither an object nor an "
        "array, or the batch is empty (`error` only).",
    },
    429: {"model": ErrorResponseDoc, "description": "The token is over its rate limit: wait `Retry-After` seconds."},
    503: {
        "model": IngestResponseDoc,
        "description": "Broker or schema registry unavailable: retry the `failed` events. Also (`error` only) when "
        "the token store cannot be read, or when the API is serving its most requests at once (`overloaded`): "
        "retry after `Retry-After` seconds.",
    },
}


# -- the adapter -------------------------------------------------------------------


class _PublisherHolder:
    """One publisher per app, created on first use so the app starts while Kafka is down."""

    def __init__(self, factory: Callable[[], Publisher]) -> None:
        self._factory = factory
        self._publisher: Publisher | None = None
        self._lock = threading.Lock()

    def get(self) -> Publisher:
        with self._lock:
            if self._publisher is None:
                self._publisher = self._factory()
            return self._publisher

    def close(self) -> None:
        with self._lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None


def _registry_problem(publisher: Publisher, valid: Sequence[tuple[int, ValidatedEvent]]) -> str | None:
    """Register each topic's writer schema before anything is sent; the registry's error if it fails."""
    first = {(ev.record["region"], ev.record["district"], ev.event_type): ev for _, ev in reversed(valid)}
    for event in first.values():
        try:
            publisher.register(event)  # cached per subject: a registry call only for a topic's first event
        except SchemaRegistryError as exc:
            return str(exc)
        except SerializationError:
            pass  # a schema that does not parse is reported by publish_many with each of its events
    return None


def ingest(holder: _PublisherHolder, entry: TokenEntry, items: Sequence[object]) -> tuple[int, dict[str, Any]]:
    """Validate, check districts, publish; blocking (run it in a worker thread)."""
    prepared = prepare(items, entry)
    outcomes: dict[int, Outcome] = dict(prepared.outcomes)
    failure: tuple[str, str] | None = None
    if prepared.valid:
        try:
            publisher = holder.get()
            problem = _registry_problem(publisher, prepared.valid)
        except PublishError as exc:
            failure = ("broker_unavailable", str(exc))
        else:
            if problem is not None:
                failure = ("registry_unavailable", f"schema registry: {problem}")
        if failure is not None:
            for index, ev in prepared.valid:
                outcomes[index] = failed(index, ev.event_id, failure[1])
        else:
            results = publisher.publish_many([ev for _, ev in prepared.valid])
            for (index, ev), result in zip(prepared.valid, results, strict=True):
                if isinstance(result, Ack):
                    outcomes[index] = Outcome(
                        index,
                        ev.event_id,
                        "accepted",
                        topic=result.topic,
                        partition=result.partition,
                        offset=result.offset,
                    )
                elif result.phase in ("publish", "registry"):
                    outcomes[index] = failed(index, ev.event_id, result.message)
                    failure = failure or ("broker_unavailable", result.message)
                else:
                    outcomes[index] = rejected(index, ev.event_id, result.errors)
    status, body = response_body(list(outcomes.values()), failure)
    log.info(
        "ingest token=%s status=%d accepted=%d rejected=%d failed=%d",
        entry.id,
        status,
        body["accepted"],
        body["rejected"],
        body["failed"],
    )
    return status, body


def create_ingest_app(
    settings: HubSettings,
    publisher_factory: Callable[[], Publisher],
    tokens: TokenSource,
    *,
    limits: Limits | None = None,
    rate_limiter: RateLimiter | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> FastAPI:
    """The ingest API.

    ``publisher_factory`` builds the :class:`Publisher` on first use (so the app
    starts while Kafka is down); ``tokens`` is a :class:`TokenSet` or a callable
    returning the current one (e.g. :class:`hub.tokens.TokenFile`, which
    re-reads the file so revocations apply at once). ``limits`` bound a request
    (default 5 MiB, 1000 events); ``rate_limiter`` limits each token (default
    :data:`hub.ingest.batch.DEFAULT_RATE_LIMIT`). At most ``max_in_flight``
    requests are served at once, across tokens (one more is 503 ``overloaded``
    with ``Retry-After``; ``/healthz`` always answers), so the request bodies
    held at once are at most ``max_in_flight`` × ``limits.max_body_bytes``
    (:class:`hub.http_app.InFlightLimit`).
    """
    limits = limits or Limits()
    limiter = rate_limiter if rate_limiter is not None else RateLimiter(DEFAULT_RATE_LIMIT)
    holder = _PublisherHolder(publisher_factory)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(holder.close)

    app = FastAPI(
        title="Social-work exchange hub: ingest API",
        version="1",
        description="Publish district events to the hub's raw topics. See docs/ingest.md.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.limits = limits
    app.state.rate_limiter = limiter
    limit_body(app, limits.max_body_bytes, hint="; split it into smaller batches")
    limit_in_flight(app, max_in_flight)

    install_error_handlers(
        app,
        log=log,
        api_name="ingest API",
        internal_message="internal error; nothing about it is your fault (see the server log)",
        request_error=lambda _: ApiError(400, "bad_request", "the request does not match the API"),
    )

    @app.get("/healthz", summary="Liveness", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up (it does not probe Kafka: publishing reports 503 when Kafka is down)."""
        return {"status": "ok"}

    @app.post(
        "/v1/events",
        summary="Publish one event or a batch",
        tags=["events"],
        status_code=202,
        responses=_RESPONSES,
        openapi_extra=_request_body_doc(limits),
    )
    async def post_events(request: Request) -> JSONResponse:
        """Validate every event, then publish the valid ones, each as one Kafka record on
        `raw.<region>.<district>.<event>` keyed by its aggregate id. Only a publisher token
        publishes, and only events of its own district.

        202 all accepted; 207 some accepted and the rest refused; 422 none valid;
        403 none accepted and some of another district; 503 broker or registry
        unavailable (per-event results say which made it).
        """
        entry = authenticate(tokens, request.headers.get("authorization"))
        admit(limiter, entry)
        check_may_publish(entry)
        check_content_type(request.headers.get("content-type"))
        items, _ = parse_body(await request.body(), limits)
        status, payload = await run_in_threadpool(ingest, holder, entry, items)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        return JSONResponse(payload, status_code=status, headers=headers)

    return app
