"""The HTTP ingest API, driven over ASGI, with a real Publisher, broker and schema registry behind it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition

from hub import naming, tokens
from hub.errors import ValidationError
from hub.ingest.app import EXAMPLE_CASE_OPENED, EXAMPLE_DONATION, create_ingest_app
from hub.ingest.batch import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENTS, Limits
from hub.kafka_clients import connection_config
from hub.publishing.publisher import Publisher
from hub.rate_limit import RateLimit, RateLimiter
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenEntry, TokenFile, TokenSet
from hub.validation import validate_event
from tests.bad_inputs import BAD
from tests.conftest import free_port
from tests.factories import valid_event_doc

NANSHAN_CASES = "raw.gd.shenzhen-nanshan.case-opened"
TIANHE_CASES = "raw.gd.guangzhou-tianhe.case-opened"


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(topics: HubSettings, registry: str) -> HubSettings:
    """The session broker's settings (with whatever credentials they carry) and the running registry."""
    return topics.model_copy(update={"schema_registry_url": registry})


@pytest.fixture(scope="module")
def creds() -> dict[str, tuple[str, TokenEntry]]:
    """Bearer token and entry per role; ``nanshan`` and ``tianhe`` are district publishers."""
    return {
        "nanshan": tokens.issue("publisher", district="shenzhen-nanshan"),
        "tianhe": tokens.issue("publisher", district="guangzhou-tianhe"),
        "analyst": tokens.issue("analyst"),
        "partner": tokens.issue("partner", partner="hk"),
        "admin": tokens.issue("admin"),
        "expired": tokens.issue(
            "publisher",
            district="shenzhen-nanshan",
            now=datetime(2026, 1, 1, tzinfo=UTC),
            expires_at=datetime(2026, 1, 2, tzinfo=UTC),
        ),
    }


@pytest.fixture(scope="module")
def store(creds: dict[str, tuple[str, TokenEntry]]) -> TokenSet:
    return TokenSet(tuple(entry for _, entry in creds.values()))


def _client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:  # runs the lifespan: the publisher is closed at the end
        yield client


def _real_publisher(settings: HubSettings) -> Publisher:
    return Publisher(settings, RegistryClient(settings.schema_registry_url, settings.request_timeout_s))


@pytest.fixture(scope="module")
def api(settings: HubSettings, store: TokenSet) -> Iterator[TestClient]:
    yield from _client(create_ingest_app(settings, lambda: _real_publisher(settings), store))


@pytest.fixture(scope="module")
def small_api(settings: HubSettings, store: TokenSet) -> Iterator[TestClient]:
    """The same API with tiny limits, to exercise them without megabytes of JSON."""
    limits = Limits(max_body_bytes=2048, max_events=2)
    yield from _client(create_ingest_app(settings, lambda: _real_publisher(settings), store, limits=limits))


@pytest.fixture(scope="module")
def deserializer(registry: str) -> AvroDeserializer:
    return AvroDeserializer(RegistryClient(registry))


# -- helpers -----------------------------------------------------------------------


def _post(
    client: TestClient,
    body: Any,
    token: str | None,
    *,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    content = raw if raw is not None else json.dumps(body).encode()
    response: httpx.Response = client.post("/v1/events", content=content, headers=headers)
    return response


def _read(settings: HubSettings, topic: str, partition: int, offset: int) -> tuple[bytes, bytes]:
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    if rec.offset == offset:
                        return rec.key, rec.value
        raise AssertionError(f"no record at {topic}[{partition}]@{offset}")
    finally:
        consumer.close()


def _end_offsets(settings: HubSettings, *topics: str) -> dict[str, int]:
    """Sum of end offsets per topic: grows by one per record written."""
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        out = {}
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            assert parts, f"topic {topic} does not exist"
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            out[topic] = sum(ends.values())
        return out
    finally:
        consumer.close()


def _assert_landed(
    settings: HubSettings, deserializer: AvroDeserializer, result: dict[str, Any], doc: dict[str, Any]
) -> dict[str, Any]:
    """The accepted result points at a record holding ``doc`` under its aggregate key; returns the record."""
    validated = validate_event(doc)
    assert result["status"] == "accepted", result
    assert result["event_id"] == doc["event_id"]
    assert result["topic"] == naming.raw_topic(doc["region"], doc["district"], doc["type"])
    key, value = _read(settings, result["topic"], result["partition"], result["offset"])
    assert key == validated.key.encode()
    schema_id, record = deserializer.decode(value)
    assert schema_id > 0
    assert record == validated.record
    return record


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"]["status"] == status and body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    return dict(body["error"])


# -- publishing ------------------------------------------------------------------


def test_one_event_is_202_and_lands_on_its_raw_topic_with_its_key(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, deserializer: AvroDeserializer
) -> None:
    doc = valid_event_doc("CaseOpened")
    response = _post(api, doc, creds["nanshan"][0])
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["failed"]) == (1, 0, 0)
    assert "error" not in body
    [result] = body["results"]
    assert result["index"] == 0 and result["topic"] == NANSHAN_CASES
    record = _assert_landed(settings, deserializer, result, doc)
    assert record["case_id"] == "NS-2026-000123" and record["client_name"] == doc["client_name"]


def test_a_batch_is_202_with_one_result_per_event_in_order(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, deserializer: AvroDeserializer
) -> None:
    docs = [
        valid_event_doc(t)
        for t in ("CaseOpened", "VisitMade", "DonationReceived", "ProjectEvaluated", "TrainingHeld", "VisitMade")
    ]
    response = _post(api, docs, creds["nanshan"][0])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == len(docs)
    assert [r["index"] for r in body["results"]] == list(range(len(docs)))
    for result, doc in zip(body["results"], docs, strict=True):
        _assert_landed(settings, deserializer, result, doc)
    visits = [r for r in body["results"] if r["topic"].endswith(".visit-made")]
    assert visits[1]["offset"] > visits[0]["offset"]  # same aggregate, same partition, in order
    assert visits[1]["partition"] == visits[0]["partition"]


def test_another_district_publishes_with_its_own_token(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, deserializer: AvroDeserializer
) -> None:
    doc = valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None, case_id="TH-2026-000001")
    response = _post(api, doc, creds["tianhe"][0])
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["topic"] == TIANHE_CASES
    _assert_landed(settings, deserializer, response.json()["results"][0], doc)


def test_a_mixed_batch_publishes_the_valid_events_and_reports_the_others_as_207(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, deserializer: AvroDeserializer
) -> None:
    good1, good2 = valid_event_doc("DonationReceived"), valid_event_doc("CaseOpened")
    bad = valid_event_doc("DonationReceived", amount="-5.00", currency="USD")
    response = _post(api, [good1, bad, 42, good2], creds["nanshan"][0])
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["failed"]) == (2, 2, 0)
    assert "error" not in body
    results = body["results"]
    _assert_landed(settings, deserializer, results[0], good1)
    _assert_landed(settings, deserializer, results[3], good2)
    assert results[1]["status"] == "rejected" and results[1]["event_id"] == bad["event_id"]
    assert {e["field"] for e in results[1]["errors"]} == {"amount", "currency"}
    assert any("greater than 0" in e["message"] for e in results[1]["errors"])
    assert "topic" not in results[1]
    assert results[2] == {
        "index": 2,
        "event_id": None,
        "status": "rejected",
        "errors": [{"field": "event", "message": "must be a JSON object, not number"}],
    }


def test_an_all_invalid_request_is_422_and_writes_nothing(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings
) -> None:
    topic = "raw.gd.shenzhen-nanshan.donation-received"
    before = _end_offsets(settings, topic)
    response = _post(
        api,
        [valid_event_doc("DonationReceived", amount="0.00"), valid_event_doc("DonationReceived", amount=12.5)],
        creds["nanshan"][0],
    )
    body = response.json()
    assert _error(response, 422, "all_rejected")["message"].startswith("none of the 2 events is valid")
    assert [r["errors"][0]["field"] for r in body["results"]] == ["amount", "amount"]
    single = _post(api, valid_event_doc("VisitMade", duration_minutes=0), creds["nanshan"][0])
    assert single.status_code == 422
    assert single.json()["results"][0]["errors"][0]["field"] == "duration_minutes"
    assert _end_offsets(settings, topic) == before


def test_http_rejects_the_sdk_bad_corpus_with_the_same_field_errors(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]]
) -> None:
    # the corpus also holds Python-only values (tuples, NaN); JSON can carry only the others
    cases = [(valid_event_doc(t, **overrides), field, rule) for t, overrides, field, rule in BAD]
    cases = [(doc, field, rule) for doc, field, rule in cases if json.loads(json.dumps(doc)) == doc]
    assert len(cases) >= 25
    docs = [doc for doc, _, _ in cases]
    response = _post(api, docs, creds["nanshan"][0])
    assert response.status_code == 422, response.text
    results = response.json()["results"]
    for (doc, field, rule), result in zip(cases, results, strict=True):
        with pytest.raises(ValidationError) as sdk:
            validate_event(doc)
        expected = [{"field": f, "message": m} for f, m in sdk.value.errors]
        assert result["status"] == "rejected"
        assert result["errors"] == expected
        assert result["errors"][0]["field"] == field and rule in result["errors"][0]["message"]


def test_the_openapi_examples_are_accepted(api: TestClient, creds: dict[str, tuple[str, TokenEntry]]) -> None:
    one = _post(api, EXAMPLE_CASE_OPENED, creds["nanshan"][0])
    assert one.status_code == 202, one.text
    batch = _post(api, [EXAMPLE_CASE_OPENED, EXAMPLE_DONATION], creds["nanshan"][0])
    assert batch.status_code == 202, batch.text


# -- refused requests ------------------------------------------------------------


def test_too_many_events_is_413(
    api: TestClient, small_api: TestClient, creds: dict[str, tuple[str, TokenEntry]]
) -> None:
    err = _error(_post(api, [{}] * (DEFAULT_MAX_EVENTS + 1), creds["nanshan"][0]), 413, "too_many_events")
    assert f"at most {DEFAULT_MAX_EVENTS}" in err["message"]
    docs = [valid_event_doc("TrainingHeld") for _ in range(3)]
    assert "at most 2" in _error(_post(small_api, docs, creds["nanshan"][0]), 413, "too_many_events")["message"]


def test_a_body_over_the_limit_is_413(api: TestClient, creds: dict[str, tuple[str, TokenEntry]]) -> None:
    raw = b"[" + b" " * DEFAULT_MAX_BODY_BYTES + b"]"
    err = _error(_post(api, None, creds["nanshan"][0], raw=raw), 413, "body_too_large")
    assert "5 MiB" in err["message"]


def test_the_body_limit_is_checked_before_the_token(small_api: TestClient) -> None:
    err = _error(_post(small_api, None, None, raw=b"[" + b" " * 4096 + b"]"), 413, "body_too_large")
    assert "2048 bytes (2 KiB)" in err["message"] and "split it into smaller batches" in err["message"]


def test_the_limit_holds_when_content_length_lies_or_is_absent(
    small_api: TestClient, creds: dict[str, tuple[str, TokenEntry]]
) -> None:
    raw = json.dumps([valid_event_doc("VisitMade", notes="入户走访" * 300)] * 2, ensure_ascii=False).encode()
    assert len(raw) > 2048
    headers = {"Authorization": f"Bearer {creds['nanshan'][0]}", "Content-Type": "application/json"}
    lying = small_api.post("/v1/events", content=raw, headers={**headers, "Content-Length": "100"})
    assert lying.request.headers["content-length"] == "100"
    _error(lying, 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 512):
            yield raw[i : i + 512]

    chunked = small_api.post("/v1/events", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in chunked.request.headers}
    _error(chunked, 413, "body_too_large")


def test_malformed_json_is_400(api: TestClient, creds: dict[str, tuple[str, TokenEntry]]) -> None:
    err = _error(
        _post(api, None, creds["nanshan"][0], raw=b'{"type": "CaseOpened",\n "amount": }'), 400, "malformed_json"
    )
    assert "line 2 column" in err["message"]
    _error(_post(api, None, creds["nanshan"][0], raw=b""), 400, "empty_body")
    _error(_post(api, "just a string", creds["nanshan"][0]), 422, "invalid_body")


def test_a_wrong_content_type_is_415(api: TestClient, creds: dict[str, tuple[str, TokenEntry]]) -> None:
    doc = valid_event_doc("CaseOpened")
    err = _error(_post(api, doc, creds["nanshan"][0], content_type="text/plain"), 415, "unsupported_media_type")
    assert "application/json" in err["message"]
    _error(_post(api, doc, creds["nanshan"][0], content_type=None), 415, "unsupported_media_type")


def test_no_token_or_a_wrong_one_is_401_with_a_bearer_challenge(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]]
) -> None:
    doc = valid_event_doc("CaseOpened")
    missing = _post(api, doc, None)
    _error(missing, 401, "missing_token")
    assert missing.headers["www-authenticate"] == 'Bearer realm="hub"'
    wrong = _post(api, doc, creds["nanshan"][0][::-1])
    _error(wrong, 401, "invalid_token")
    assert wrong.headers["www-authenticate"] == 'Bearer realm="hub", error="invalid_token"'
    hashed = _post(api, doc, creds["nanshan"][1].hash)
    _error(hashed, 401, "invalid_token")


def test_an_event_of_another_district_is_refused_and_its_own_district_events_are_published(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, deserializer: AvroDeserializer
) -> None:
    before = _end_offsets(settings, NANSHAN_CASES, TIANHE_CASES)
    own = valid_event_doc("CaseOpened")
    other = valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None)
    response = _post(api, [own, other], creds["nanshan"][0])
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["failed"]) == (1, 1, 0) and "error" not in body
    _assert_landed(settings, deserializer, body["results"][0], own)
    token_id = creds["nanshan"][1].id
    assert body["results"][1] == {
        "index": 1,
        "event_id": other["event_id"],
        "status": "rejected",
        "errors": [
            {
                "field": "district",
                "message": f"GD/guangzhou-tianhe is not this token's district: token {token_id} may publish only "
                "events of GD/shenzhen-nanshan",
            }
        ],
    }
    assert _end_offsets(settings, NANSHAN_CASES, TIANHE_CASES) == {
        NANSHAN_CASES: before[NANSHAN_CASES] + 1,
        TIANHE_CASES: before[TIANHE_CASES],
    }


def test_a_request_of_only_another_districts_events_is_403_and_writes_nothing(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings
) -> None:
    before = _end_offsets(settings, NANSHAN_CASES, TIANHE_CASES)
    other = valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None)
    response = _post(api, other, creds["nanshan"][0])
    err = _error(response, 403, "forbidden_district")
    assert err["message"].startswith("nothing was published: event(s) 0 name a district this token may not")
    assert [(d["index"], d["field"]) for d in err["details"]] == [(0, "district")]
    assert response.json()["results"][0]["status"] == "rejected"
    nanshan = valid_event_doc("CaseOpened")
    invalid = valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None, risk_level="EXTREME")
    theirs = _post(api, [nanshan, invalid], creds["tianhe"][0])  # one not its district, one invalid
    err = _error(theirs, 403, "forbidden_district")
    assert [d["index"] for d in err["details"]] == [0]
    assert theirs.json()["results"][1]["errors"][0]["field"] == "risk_level"
    assert _end_offsets(settings, NANSHAN_CASES, TIANHE_CASES) == before


@pytest.mark.parametrize("role", ["analyst", "partner", "admin"])
def test_tokens_without_the_publisher_role_are_403(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings, role: str
) -> None:
    before = _end_offsets(settings, NANSHAN_CASES)
    err = _error(_post(api, valid_event_doc("CaseOpened"), creds[role][0]), 403, "forbidden_role")
    assert err["message"] == f"token {creds[role][1].id} has role {role}; only publisher tokens may publish events"
    assert _end_offsets(settings, NANSHAN_CASES) == before


def test_the_only_route_a_token_reaches_is_publishing(api: TestClient) -> None:
    app = api.app
    assert isinstance(app, FastAPI)
    paths = {route.path for route in app.routes if isinstance(route, APIRoute)}
    assert paths == {"/v1/events", "/healthz"}  # a new route must be added to the role tests above


def test_an_expired_token_is_401_saying_when_and_publishes_nothing(
    api: TestClient, creds: dict[str, tuple[str, TokenEntry]], settings: HubSettings
) -> None:
    before = _end_offsets(settings, NANSHAN_CASES)
    response = _post(api, valid_event_doc("CaseOpened"), creds["expired"][0])
    err = _error(response, 401, "expired_token")
    assert err["message"].startswith("the bearer token expired at 2026-01-02T00:00:00Z")
    assert creds["expired"][1].id not in err["message"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert _end_offsets(settings, NANSHAN_CASES) == before


def test_a_token_over_its_rate_is_429_with_retry_after(
    settings: HubSettings, creds: dict[str, tuple[str, TokenEntry]], store: TokenSet
) -> None:
    clock = [0.0]
    limiter = RateLimiter(RateLimit(per_second=0.2, burst=2), lambda: clock[0])
    app = create_ingest_app(settings, lambda: _real_publisher(settings), store, rate_limiter=limiter)
    for client in _client(app):
        for _ in range(2):
            assert _post(client, valid_event_doc("TrainingHeld"), creds["nanshan"][0]).status_code == 202
        before = _end_offsets(settings, "raw.gd.shenzhen-nanshan.training-held")
        refused = _post(client, valid_event_doc("TrainingHeld"), creds["nanshan"][0])
        err = _error(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "5" and "retry in 5 s" in err["message"]
        assert creds["nanshan"][1].id in err["message"]
        assert _end_offsets(settings, "raw.gd.shenzhen-nanshan.training-held") == before
        tianhe = valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None, case_id="TH-2026-000002")
        assert _post(client, tianhe, creds["tianhe"][0]).status_code == 202  # another token has its own bucket
        clock[0] += 5.0
        assert _post(client, valid_event_doc("TrainingHeld"), creds["nanshan"][0]).status_code == 202


def test_a_revoked_token_is_refused_at_its_next_request(settings: HubSettings, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    tokens.add_token(path, entry)
    app = create_ingest_app(settings, lambda: _real_publisher(settings), TokenFile(path))
    for client in _client(app):
        assert _post(client, valid_event_doc("WorkerCertified"), token).status_code == 202
        tokens.revoke_token(path, entry.id)
        _error(_post(client, valid_event_doc("WorkerCertified"), token), 401, "invalid_token")
        path.write_text('{"tokens": 5}', encoding="utf-8")
        err = _error(_post(client, valid_event_doc("WorkerCertified"), token), 503, "tokens_unavailable")
        assert str(path) not in err["message"]  # operators read the log; clients get no file paths


# -- the hub's side is down ------------------------------------------------------


def test_broker_unreachable_is_503_with_per_event_results(
    settings: HubSettings, creds: dict[str, tuple[str, TokenEntry]], store: TokenSet, tmp_path: Path
) -> None:
    nowhere = load_settings(
        env_file=None,
        data_dir=tmp_path,
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        schema_registry_url=settings.schema_registry_url,
    )
    app = create_ingest_app(
        nowhere, lambda: Publisher(nowhere, RegistryClient(nowhere.schema_registry_url), timeout_s=1.0), store
    )
    for client in _client(app):
        good = valid_event_doc("CaseOpened")
        bad = valid_event_doc("CaseOpened", risk_level="EXTREME")
        response = _post(client, [good, bad], creds["nanshan"][0])
        err = _error(response, 503, "broker_unavailable")
        assert "1 of 2 events were not published" in err["message"] and "Kafka" in err["message"]
        assert response.headers["retry-after"] == "5"
        body = response.json()
        assert (body["accepted"], body["rejected"], body["failed"]) == (0, 1, 1)
        failed, rejected = body["results"]
        assert failed["status"] == "failed" and failed["event_id"] == good["event_id"]
        assert failed["errors"][0]["field"] == "event" and "Kafka" in failed["errors"][0]["message"]
        assert rejected["status"] == "rejected" and rejected["errors"][0]["field"] == "risk_level"


def test_registry_unreachable_is_503_and_nothing_is_sent(
    settings: HubSettings, creds: dict[str, tuple[str, TokenEntry]], store: TokenSet
) -> None:
    dead_registry = f"http://127.0.0.1:{free_port()}"
    app = create_ingest_app(
        settings, lambda: Publisher(settings, RegistryClient(dead_registry, 1.0), timeout_s=5.0), store
    )
    before = _end_offsets(settings, NANSHAN_CASES)
    for client in _client(app):
        response = _post(client, [valid_event_doc("CaseOpened"), valid_event_doc("CaseOpened")], creds["nanshan"][0])
        err = _error(response, 503, "registry_unavailable")
        assert "schema registry" in err["message"] and dead_registry in err["message"]
        assert [r["status"] for r in response.json()["results"]] == ["failed", "failed"]
    assert _end_offsets(settings, NANSHAN_CASES) == before


# -- documentation and operations ------------------------------------------------


def test_openapi_documents_post_v1_events_with_examples(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/v1/events"]["post"]
    media = post["requestBody"]["content"]["application/json"]
    assert set(media["examples"]) == {"one event", "batch"}
    assert media["examples"]["one event"]["value"]["type"] == "CaseOpened"
    assert len(media["examples"]["batch"]["value"]) == 2
    batch_schema = media["schema"]["oneOf"][1]
    assert batch_schema["type"] == "array" and batch_schema["maxItems"] == DEFAULT_MAX_EVENTS
    assert {"202", "207", "400", "401", "403", "413", "415", "422", "429", "503"} <= set(post["responses"])
    assert "/healthz" in spec["paths"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_healthz_and_unknown_routes(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    _error(api.get("/v1/nothing"), 404, "not_found")
    _error(api.get("/v1/events"), 405, "method_not_allowed")
