"""Property-based fuzzing of the hub's HTTP APIs against their own OpenAPI documents (schemathesis).

The promise proved: no request an API's document describes, valid or not, is answered 5xx, and every 4xx
carries the hub's error shape ``{"error": {"status", "code", "message", "field"?}}`` (:mod:`hub.http_api`)
with the response's own status, a code and a non-empty message.

How: schemathesis's Python API (``schemathesis.openapi.from_asgi`` and each operation's
``as_strategy``, not its pytest plugin, which the suite turns off) draws requests from the document
an app serves at ``/openapi.json`` and sends them to the app object in process over ASGI (no server),
with a valid bearer token (an analyst for the query API, the Nanshan district publisher for ingest) so
the fuzz gets past authentication, and a rate limit far above the fuzz's pace. Per operation:

- a positive pass (requests the document allows) and a negative one (requests it forbids);
- a pass of the parameters' own grammar, since the documents type them loosely: known and unknown
  zones, regions, districts, formats and indicators, periods of every shape (any Unicode digit
  included); for ingest, valid events of every type with one to three fields broken, alone or batched;
- a few requests without a token, with a wrong one or with a token of a role the API does not serve
  (401 or 403, whatever the parameters).

Settings, so a run is bounded and a failure replays: ``max_examples=60`` per pass (10 for the token
passes), ``derandomize=True`` (the examples are drawn from a seed fixed by the test itself, the same on
every run), ``database=None`` (nothing is kept between runs), ``deadline=None`` (the first report of a
period computes the indicators). The query API passes take about 25 s; the ingest ones about 10 s
plus the session broker (they are marked ``kafka``: a real Publisher on the session's secured broker
and registry, so an event that stays valid is published like those of tests/test_ingest_api.py).

Covered: the query API (:func:`projections.api.create_query_app`, on a SQLite database holding the known
stream of :mod:`tests.indicator_stream`) with its dashboard data route, and the HTTP ingest API
(:func:`hub.ingest.app.create_ingest_app`). The dashboard's page routes are not in the document: plain
tests check that odd names under ``/dashboard/static/`` (dot segments, encoded or not, NUL, very long
names) are 404 or 400 in the error shape and never reach a file outside the static folder. The embedded
schema registry (:mod:`hub.registry.server`) publishes no OpenAPI document and answers in Confluent's
error shape, not the hub's, so it is not fuzzed here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, Response
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema

from hub.catalogue import EVENT_TYPES
from hub.ingest.app import create_ingest_app
from hub.orgunits import org_units
from hub.publishing.publisher import Publisher
from hub.rate_limit import RateLimit, RateLimiter
from hub.registry.client import RegistryClient
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenSet, issue
from hub.zones import ZONE_REGIONS, ZONES
from projections.api import create_query_app
from projections.dashboard.routes import STATIC
from projections.indicators import NAMES
from tests.factories import valid_event_doc
from tests.indicator_stream import known_database

MAX_EXAMPLES = 60
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
AnyCase = Case[Any]
Operation = APIOperation[Any, Any, Any, Any]
UNLIMITED = RateLimit(per_second=100_000, burst=1_000_000)
"""Far above the fuzz's pace: a 429 would stop the fuzz at the rate limit instead of the parameters."""


def assert_hub_answer(response: httpx.Response | Response, request: str = "") -> None:
    """No 5xx; a 4xx is ``{"error": {"status", "code", "message", "field"?}}`` with its own status."""
    status = response.status_code
    said = f"{request} -> {status}: {response.content[:2000]!r}"
    assert status < 500, said
    if status < 400:
        return
    content_type = response.headers.get("content-type") or ""
    if isinstance(content_type, list):  # schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), f"{said} ({content_type})"
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), said
    error = body["error"]
    assert error.get("status") == status, said
    assert isinstance(error.get("code"), str) and error["code"], said
    assert isinstance(error.get("message"), str) and error["message"].strip(), said
    if "field" in error:
        assert isinstance(error["field"], str) and error["field"], said


def described(case: AnyCase) -> str:
    """The request of ``case`` as a line of a failure report."""
    return f"{case.method} {case.formatted_path} query={case.query!r} headers={case.headers!r} body={case.body!r}"


# -- the query API (SQLite, no Kafka) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def query_tokens() -> dict[str, Any]:
    made = {"analyst": issue("analyst"), "publisher": issue("publisher", district="shenzhen-nanshan")}
    return {"set": TokenSet(tuple(entry for _, entry in made.values())), **{k: t for k, (t, _) in made.items()}}


@pytest.fixture(scope="module")
def query_app(tmp_path_factory: pytest.TempPathFactory, query_tokens: dict[str, Any]) -> Iterator[FastAPI]:
    with known_database(tmp_path_factory.mktemp("fuzz-db")) as (_, engine):
        settings_ = load_settings(env_file=None, data_dir=tmp_path_factory.mktemp("fuzz-state"))
        yield create_query_app(settings_, engine, query_tokens["set"], rate_limiter=RateLimiter(UNLIMITED))


@pytest.fixture(scope="module")
def query_schema(query_app: FastAPI) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", query_app)


def fuzz(operation: Operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Run :data:`FUZZ`'s examples of ``operation`` in ``mode``, each sent with ``headers``."""

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: AnyCase) -> None:
        assert_hub_answer(case.call(headers=headers), described(case))

    run()


QUERY_OPERATIONS = [
    "GET /healthz",
    "GET /v1/reports/{zone}",
    "GET /v1/indicators",
    "GET /v1/projections/status",
    "GET /v1/dashboard/{zone}",
]
WITHOUT_PARAMETERS = {"GET /healthz", "GET /v1/projections/status"}
"""Operations with nothing to negate: the negative mode has no case to give them."""
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def operation_of(schema: BaseSchema, label: str) -> Operation:
    method, path = label.split(" ", 1)
    found: Operation = schema[path][method]
    return found


def labels(schema: BaseSchema) -> set[str]:
    """``METHOD /path`` of every operation of the document (one it cannot read fails the test)."""
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results
    return {f"{r.ok().method.upper()} {r.ok().path}" for r in results if isinstance(r, Ok)}


def test_the_query_fuzz_covers_every_documented_operation(query_schema: BaseSchema) -> None:
    assert labels(query_schema) == set(QUERY_OPERATIONS)


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        (label, mode)
        for label in QUERY_OPERATIONS
        for mode in MODES
        if not (mode.is_negative and label in WITHOUT_PARAMETERS)
    ],
)
def test_the_query_api_answers_every_request_without_5xx_and_in_the_error_shape(
    query_schema: BaseSchema, query_tokens: dict[str, Any], label: str, mode: GenerationMode
) -> None:
    fuzz(operation_of(query_schema, label), mode, {"Authorization": f"Bearer {query_tokens['analyst']}"})


# The document types every parameter as a plain string, so the fuzz above rarely names a known zone or a
# well-formed period and stops at the first check. The pass below draws the same schemathesis cases, then
# gives them values of the parameters' own grammar (known and unknown zones, regions, districts, formats,
# indicators; periods of every shape, with any Unicode digit where the grammar has a digit) to reach the
# reports, indicators and dashboard themselves.
def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four, else ``odd``: most cases pass the first checks and reach the next."""
    return st.integers(1, 4).flatmap(lambda n: odd if n == 4 else usual)


PERIODS = mostly(
    st.sampled_from(["2026", "2026-Q1", "2026-Q2", "2026-03", "2025-12", "0001", "0001-01", "9999-Q4", " 2026 "]),
    st.one_of(
        st.sampled_from(["0000", "2026-00", "2026-13", "2026-Q5", "2026-1", "٢٠٢٦", "２０２６-Q1", "2026-٠٣"]),
        st.from_regex(r"\d{1,5}(-Q\d|-\d{1,2})?", fullmatch=True),  # \d is any Unicode digit: 2026 or ٢٠٢٦
        st.text(max_size=12),
    ),
)


@st.composite
def scopes(draw: st.DrawFn) -> tuple[str, str | None, str | None]:
    """``(zone, region, district)``: mostly a scope that exists (a zone, one of its regions, one of their
    districts, with or without its region), else a name that does not or a pair that does not match."""
    zone = draw(mostly(st.sampled_from(ZONES), st.sampled_from(["GBA", "", "hk", "gba\x00"]) | st.text()))
    regions = sorted(ZONE_REGIONS.get(zone, ZONE_REGIONS["gba"]))
    districts = sorted(d.code for d in org_units().districts.values() if d.region in regions)
    region = draw(st.none() | st.sampled_from(regions))
    own = [d for d in districts if region is None or org_units().districts[d].region == region]
    district = draw(st.none() | st.sampled_from(own))
    odd = st.sampled_from(["gd", "*", "", "JS", "HK"]), st.sampled_from([*districts[:3], "*", "", "yancheng-tinghu"])
    return zone, draw(mostly(st.just(region), odd[0])), draw(mostly(st.just(district), odd[1]))


FORMATS = mostly(st.sampled_from(["json", "csv", "xlsx", "metadata"]), st.sampled_from(["JSON", ""]) | st.text())
INDICATORS = st.none() | st.lists(mostly(st.sampled_from(NAMES), st.sampled_from(["", "*", ",", "nope"])), max_size=3)
SHAPED = ["GET /v1/reports/{zone}", "GET /v1/indicators", "GET /v1/dashboard/{zone}"]


@pytest.mark.parametrize("label", SHAPED)
def test_the_query_api_answers_parameters_of_their_own_grammar_without_5xx_and_in_the_error_shape(
    query_schema: BaseSchema, query_tokens: dict[str, Any], label: str
) -> None:
    operation = operation_of(query_schema, label)
    headers = {"Authorization": f"Bearer {query_tokens['analyst']}"}

    @FUZZ
    @given(
        case=operation.as_strategy(),
        scope=scopes(),
        period=PERIODS if "{zone}" in operation.path else mostly(PERIODS, st.none()),
        format_=FORMATS,
        indicator=INDICATORS,
    )
    def run(
        case: AnyCase,
        scope: tuple[str, str | None, str | None],
        period: str | None,
        format_: str,
        indicator: list[str] | None,
    ) -> None:
        zone, region, district = scope
        query: dict[str, Any] = {"period": period, "region": region, "district": district}
        if "{zone}" in operation.path:
            case.path_parameters = {"zone": zone}
            query["format"] = format_ if label.startswith("GET /v1/reports") else None
        else:
            query.update(zone=zone, indicator=indicator)
        case.query = {k: v for k, v in query.items() if v is not None}
        assert_hub_answer(case.call(headers=headers), described(case))

    run()


# A few cases without a valid reading token: refused before any parameter is read, in the error shape.
REFUSED = [
    ({}, 401, "missing_token"),
    ({"Authorization": "Bearer not-a-token"}, 401, "invalid_token"),
    ({"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, 401, "missing_token"),
    ({"Authorization": "Bearer "}, 401, "missing_token"),
]
READ_ROUTES = [label for label in QUERY_OPERATIONS if label != "GET /healthz"]


def assert_refused(operation: Any, refused: list[tuple[dict[str, str], int, str]]) -> None:
    """Every case of ``operation``, valid or not, gets the status and error code of each refused header set."""

    @settings(FUZZ, max_examples=10)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE) | operation.as_strategy())
    def run(case: AnyCase) -> None:
        for headers, status, code in refused:
            response = case.call(headers=headers)
            assert_hub_answer(response, described(case))
            assert response.status_code == status, described(case)
            assert json.loads(response.content)["error"]["code"] == code, described(case)

    run()


@pytest.mark.parametrize("label", READ_ROUTES)
def test_the_query_api_refuses_requests_without_a_reading_token_whatever_their_parameters(
    query_schema: BaseSchema, query_tokens: dict[str, Any], label: str
) -> None:
    operation = operation_of(query_schema, label)
    refused = [*REFUSED, ({"Authorization": f"Bearer {query_tokens['publisher']}"}, 403, "forbidden_role")]

    assert_refused(operation, refused)


# -- the dashboard's static files (not in the document) ------------------------------------------------------


async def _asgi_get(app: FastAPI, target: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """GET ``target`` as a server hands it to the app: ``raw_path`` as sent, ``path`` percent-decoded, no
    normalisation of ``..`` (an HTTP client would resolve it before sending)."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[MutableMapping[str, Any]] = []
    done = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # a file response listens for the client going away
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


ODD_STATIC = [
    "/dashboard/static/../../../pyproject.toml",
    "/dashboard/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/dashboard/static/..%2f..%2f..%2fpyproject.toml",
    "/dashboard/static/%2E%2E%2F%2E%2E%2F%2E%2E%2Fpyproject.toml",
    "/dashboard/static/..\\..\\..\\pyproject.toml",
    "/dashboard/static/%c0%ae%c0%ae/%c0%ae%c0%ae/pyproject.toml",
    "/dashboard/static/%2fetc%2fpasswd",
    "/dashboard/static//etc/passwd",
    "/dashboard/static/vendor/../../../../../../etc/passwd",
    "/dashboard/static/dashboard.js%00.png",
    "/dashboard/static/x%00y",
    "/dashboard/static/%ff%fe",
    "/dashboard/static/" + "a" * 5000,
    "/dashboard/static/" + "a/" * 3000 + "index.html",
    "/dashboard/static/",
    "/dashboard/static/vendor",
    "/dashboard/static/nothing-here.js",
]


@pytest.mark.parametrize("target", ODD_STATIC, ids=lambda t: t[len("/dashboard/static/") :][:40] or "folder")
def test_odd_names_under_the_static_folder_are_404_or_400_and_never_reach_a_file_outside_it(
    query_app: FastAPI, target: str
) -> None:
    status, headers, body = asyncio.run(_asgi_get(query_app, target))
    assert status in (400, 404), (status, body[:200])
    error = json.loads(body)["error"]
    assert error["status"] == status and error["code"] and error["message"].strip()
    assert headers[b"content-type"].startswith(b"application/json")


def test_a_dot_segment_that_stays_inside_the_static_folder_serves_that_folders_file(query_app: FastAPI) -> None:
    status, _, body = asyncio.run(_asgi_get(query_app, "/dashboard/static/vendor/../index.html"))
    assert status == 200 and body == (STATIC / "index.html").read_bytes()
    assert (
        asyncio.run(_asgi_get(query_app, "/dashboard/static/dashboard.js"))[2] == (STATIC / "dashboard.js").read_bytes()
    )


# -- the HTTP ingest API (a real Publisher on the session's secured broker and registry) -------------------------


@pytest.fixture(scope="module")
def ingest_tokens() -> dict[str, Any]:
    made = {
        "nanshan": issue("publisher", district="shenzhen-nanshan"),
        "tianhe": issue("publisher", district="guangzhou-tianhe"),
        "analyst": issue("analyst"),
    }
    return {"set": TokenSet(tuple(entry for _, entry in made.values())), **{k: t for k, (t, _) in made.items()}}


@pytest.fixture(scope="module")
def ingest_app(topics: HubSettings, registry: str, ingest_tokens: dict[str, Any]) -> Iterator[FastAPI]:
    settings_ = topics.model_copy(update={"schema_registry_url": registry})

    def publisher() -> Publisher:
        return Publisher(settings_, RegistryClient(settings_.schema_registry_url, settings_.request_timeout_s))

    app = create_ingest_app(settings_, publisher, ingest_tokens["set"], rate_limiter=RateLimiter(UNLIMITED))
    with TestClient(app):  # runs the lifespan: the publisher is closed at the end
        yield app


@pytest.fixture(scope="module")
def ingest_schema(ingest_app: FastAPI) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", ingest_app)


INGEST_OPERATIONS = ["GET /healthz", "POST /v1/events"]


@pytest.mark.kafka
def test_the_ingest_fuzz_covers_every_documented_operation(ingest_schema: BaseSchema) -> None:
    assert labels(ingest_schema) == set(INGEST_OPERATIONS)


@pytest.mark.kafka
@pytest.mark.parametrize(
    ("label", "mode"),
    [("GET /healthz", GenerationMode.POSITIVE), *(("POST /v1/events", mode) for mode in MODES)],
)
def test_the_ingest_api_answers_every_request_without_5xx_and_in_the_error_shape(
    ingest_schema: BaseSchema, ingest_tokens: dict[str, Any], label: str, mode: GenerationMode
) -> None:
    fuzz(operation_of(ingest_schema, label), mode, {"Authorization": f"Bearer {ingest_tokens['nanshan']}"})


# As for the query API, the document's event schema is loose (five envelope fields, anything else), so the
# pass below starts from valid events of every type (tests.factories) and breaks one to three of their
# fields at a time (dropped, another JSON type, empty, long, NUL, out-of-range numbers, unknown fields), in
# a single event or a batch, so the validation of each field and the publishing path are reached.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "\x00", "x" * 5000, "2026-02-30T09:30:00+08:00", "1e309", "-0", "NaN"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
DROPPED = object()


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    doc = valid_event_doc(draw(st.sampled_from(EVENT_TYPES)))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(doc)) | st.sampled_from(["nickname", "", "type "]))
        value = draw(st.just(DROPPED) | JSON_VALUES)
        if value is DROPPED:
            doc.pop(name, None)
        else:
            doc[name] = value
    return doc


@pytest.mark.kafka
def test_the_ingest_api_answers_broken_events_without_5xx_and_in_the_error_shape(
    ingest_schema: BaseSchema, ingest_tokens: dict[str, Any]
) -> None:
    operation = operation_of(ingest_schema, "POST /v1/events")
    token = st.sampled_from([ingest_tokens["nanshan"], ingest_tokens["nanshan"], ingest_tokens["tianhe"]])

    @FUZZ
    @given(
        case=operation.as_strategy(),
        body=broken_events() | st.lists(broken_events(), min_size=1, max_size=3),
        token=token,
    )
    def run(case: AnyCase, body: Any, token: str) -> None:
        case.body = body
        assert_hub_answer(case.call(headers={"Authorization": f"Bearer {token}"}), described(case))

    run()


@pytest.mark.kafka
def test_the_ingest_api_refuses_requests_without_a_publishing_token_whatever_their_body(
    ingest_schema: BaseSchema, ingest_tokens: dict[str, Any]
) -> None:
    operation = operation_of(ingest_schema, "POST /v1/events")
    refused = [*REFUSED, ({"Authorization": f"Bearer {ingest_tokens['analyst']}"}, 403, "forbidden_role")]

    assert_refused(operation, refused)
