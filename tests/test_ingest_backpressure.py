"""Backpressure at HTTP ingest: a burst ten times the sustained rate is answered 202, 429 or 503, never a crash.

The admission limit (:class:`hub.http_app.InFlightLimit`, at most N requests
served at once across tokens) is tested alone, on fake ASGI apps: it never
admits more than N, it answers the next one 503 ``overloaded`` with
``Retry-After`` in the hub's error shape, ``/healthz`` passes whatever the
count, and a request leaves the count however it ends (answered, raised,
cancelled, its client gone). Then the ingest app is served on loopback
(uvicorn, :class:`hub.serving.BackgroundServer`) against the session's real,
secured broker and registry: its sustained rate is measured, a concurrent
burst of ten times that many requests across several tokens follows, and
every event of a 202 is then read back from the raw topics exactly once and
no event of a refused request at all. Nothing here asserts on time or memory.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from starlette.types import Message, Receive, Scope, Send

from hub import tokens
from hub.errors import ConfigError, PublishError
from hub.http_api import RETRY_AFTER_S
from hub.http_app import InFlight, InFlightLimit
from hub.ingest.app import create_ingest_app
from hub.ingest.batch import Limits
from hub.kafka_clients import connection_config
from hub.publishing.publisher import Publisher
from hub.rate_limit import RateLimit, RateLimiter
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer
from hub.serving import BackgroundServer
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenEntry, TokenSet
from tests.conftest import free_port
from tests.factories import valid_event_doc

DISTRICTS = {
    "shenzhen-nanshan": "raw.gd.shenzhen-nanshan.case-opened",
    "guangzhou-tianhe": "raw.gd.guangzhou-tianhe.case-opened",
}
WAIT_S = 30.0


def _wait_until(condition: Any, what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f}s: {what}"
        time.sleep(0.02)


# -- the counter, pure -------------------------------------------------------------------------------------------
def test_the_counter_never_admits_more_than_its_limit_and_counts_every_leave() -> None:
    counter = InFlight(3)
    assert [counter.enter() for _ in range(5)] == [True, True, True, False, False]
    assert (counter.current, counter.peak) == (3, 3)
    counter.leave()
    assert counter.enter() and not counter.enter()
    for _ in range(3):
        counter.leave()
    assert (counter.current, counter.peak) == (0, 3)
    with pytest.raises(RuntimeError):
        counter.leave()
    with pytest.raises(ConfigError, match="positive"):
        InFlight(0)


# -- the middleware, on fake apps ------------------------------------------------------------------------------
def _scope(path: str = "/v1/events") -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Held:
    """A fake ASGI app whose requests wait until released, then answer 200 (raise on ``/fail``; see a disconnect)."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started += 1
        await self.release.wait()
        if scope["path"] == "/fail":
            raise RuntimeError("the app failed")
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode().lower(): v.decode() for k, v in self.messages[0]["headers"]}

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_request_past_the_limit_is_503_overloaded_with_retry_after_and_healthz_passes() -> None:
    async def scenario() -> None:
        app = _Held()
        counter = InFlight(2)
        limited = InFlightLimit(app, counter)
        answers = [_Recorder() for _ in range(2)]
        held = [asyncio.create_task(limited(_scope(), _no_body, a)) for a in answers]
        await _settle()
        assert (app.started, counter.current) == (2, 2)
        refused = _Recorder()
        await limited(_scope(), _no_body, refused)  # answered at once, the app never sees it
        assert app.started == 2 and refused.status == 503
        assert refused.headers["retry-after"] == str(RETRY_AFTER_S)
        assert refused.headers["content-type"] == "application/json"
        error = refused.body["error"]
        assert (error["status"], error["code"]) == (503, "overloaded") and "2 requests" in error["message"]
        health = asyncio.create_task(limited(_scope("/healthz"), _no_body, _Recorder()))
        await _settle()
        assert app.started == 3 and counter.current == 2  # served, and not counted
        app.release.set()
        await asyncio.gather(*held, health)
        assert [a.status for a in answers] == [200, 200]
        assert (counter.current, counter.peak) == (0, 2)

    asyncio.run(scenario())


def test_the_count_is_released_when_the_app_raises_is_cancelled_or_its_client_goes_away() -> None:
    async def disconnected() -> Message:
        return {"type": "http.disconnect"}

    async def scenario() -> None:
        app = _Held()
        counter = InFlight(3)
        limited = InFlightLimit(app, counter)
        failing = asyncio.create_task(limited(_scope("/fail"), _no_body, _Recorder()))
        cancelled = asyncio.create_task(limited(_scope(), _no_body, _Recorder()))
        gone = asyncio.create_task(limited(_scope(), disconnected, _Recorder()))
        await _settle()
        assert counter.current == 3
        cancelled.cancel()
        await _settle()
        assert counter.current == 2
        app.release.set()
        with pytest.raises(RuntimeError, match="the app failed"):
            await failing
        await gone
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert counter.current == 0
        ok = _Recorder()
        await limited(_scope(), _no_body, ok)
        assert ok.status == 200 and counter.current == 0

    asyncio.run(scenario())


def test_a_client_that_leaves_mid_body_frees_its_place_on_a_real_server(tmp_path: Path) -> None:
    """Served by uvicorn: a request whose client closes the socket before its body is complete stops counting."""

    def no_publisher() -> Publisher:
        raise PublishError("not needed: no request of this test completes")

    _, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    app = create_ingest_app(
        load_settings(env_file=None, data_dir=tmp_path), no_publisher, TokenSet((entry,)), max_in_flight=1
    )
    counter: InFlight = app.state.in_flight
    with BackgroundServer(app, "127.0.0.1", free_port()) as server:
        with socket.create_connection((server.host, server.port)) as sock:
            sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n[{\"type\": ")  # fmt: skip
            _wait_until(lambda: counter.current == 1, "the half-sent request is counted")
            busy = httpx.post(f"{server.url}/v1/events", content=b"[]", timeout=WAIT_S)
            assert busy.status_code == 503 and busy.json()["error"]["code"] == "overloaded"
            assert httpx.get(f"{server.url}/healthz", timeout=WAIT_S).status_code == 200
        _wait_until(lambda: counter.current == 0, "the abandoned request leaves the count")
        after = httpx.post(f"{server.url}/v1/events", content=b"[]", timeout=WAIT_S)
        assert after.status_code == 401  # admitted again (and refused for its missing token)


# -- a burst against the real broker ------------------------------------------------------------------------------
MAX_IN_FLIGHT = 4
BURST_TOKENS = {"shenzhen-nanshan": 3, "guangzhou-tianhe": 2}
EVENTS_PER_REQUEST = 2
RATE_PER_TOKEN, TOKEN_BURST = 1.0, 5
BURST_S = 1


@pytest.fixture(scope="module")
def settings(topics: HubSettings, registry: str) -> HubSettings:
    return topics.model_copy(update={"schema_registry_url": registry})


def _issue(district: str, n: int) -> list[tuple[str, TokenEntry, str]]:
    return [(*tokens.issue("publisher", district=district), district) for _ in range(n)]


def _batch(district: str) -> list[dict[str, Any]]:
    station = "ns-shekou" if district == "shenzhen-nanshan" else None
    tag = uuid.uuid4().hex[:10].upper()
    return [
        valid_event_doc("CaseOpened", district=district, station=station, case_id=f"BP-{tag}-{i}")
        for i in range(EVENTS_PER_REQUEST)
    ]


async def _post_at(url: str, jobs: list[tuple[str, list[dict[str, Any]]]], per_second: float) -> Any:
    """Send ``jobs`` open-loop, one every 1/``per_second`` s whatever the answers, with a ``/healthz`` every tenth.

    Returns the answers to the posts and to the health checks.
    """
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=url, timeout=120.0, limits=limits) as client:

        async def post(i: int, token: str, body: list[dict[str, Any]]) -> httpx.Response:
            await asyncio.sleep(i / per_second)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            return await client.post("/v1/events", content=json.dumps(body).encode(), headers=headers)

        async def check(i: int) -> httpx.Response:
            await asyncio.sleep(i / per_second)
            return await client.get("/healthz")

        posts = [post(i, token, body) for i, (token, body) in enumerate(jobs)]
        checks = [check(i) for i in range(0, len(jobs), 10)]
        answers = await asyncio.gather(*posts, *checks)
        return answers[: len(posts)], answers[len(posts) :]


def _sustained_rate(url: str, district_tokens: list[tuple[str, TokenEntry, str]], per_token: int) -> float:
    """Requests answered per second when ``MAX_IN_FLIGHT`` clients send one request after another."""

    async def client(token: str, district: str) -> int:
        async with httpx.AsyncClient(base_url=url, timeout=120.0) as http:
            for _ in range(per_token):
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                response = await http.post("/v1/events", content=json.dumps(_batch(district)).encode(), headers=headers)
                assert response.status_code in (202, 429, 503), response.text
        return per_token

    async def run() -> int:
        return sum(await asyncio.gather(*(client(t, d) for t, _, d in district_tokens)))

    started = time.monotonic()
    answered = asyncio.run(run())
    return answered / max(time.monotonic() - started, 1e-3)


def _end_offsets(consumer: KafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    parts = consumer.partitions_for_topic(topic)
    assert parts, f"topic {topic} does not exist"
    ends: dict[TopicPartition, int] = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
    return ends


def _event_ids_between(
    settings: HubSettings, deserializer: AvroDeserializer, starts: dict[TopicPartition, int]
) -> Counter[str]:
    """How many times each event id occurs in the records from ``starts`` to the current end offsets."""
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        ends: dict[TopicPartition, int] = {}
        for topic in DISTRICTS.values():
            ends.update(_end_offsets(consumer, topic))
        consumer.assign(list(ends))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        seen: Counter[str] = Counter()
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "could not read the raw topics back within 60s"
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.offset < ends[TopicPartition(record.topic, record.partition)]:
                        seen[deserializer.decode(record.value)[1]["event_id"]] += 1
        return seen
    finally:
        consumer.close()


@pytest.mark.kafka
def test_a_burst_ten_times_the_sustained_rate_is_202_429_or_503_and_every_accepted_event_lands_once(
    settings: HubSettings, registry: str
) -> None:
    warming = _issue("shenzhen-nanshan", 1) + _issue("guangzhou-tianhe", 1)
    measuring = [t for d in DISTRICTS for t in _issue(d, MAX_IN_FLIGHT // 2)]
    bursting = [t for d, n in BURST_TOKENS.items() for t in _issue(d, n)]
    store = TokenSet(tuple(entry for _, entry, _ in warming + measuring + bursting))
    app = create_ingest_app(
        settings,
        lambda: Publisher(settings, RegistryClient(settings.schema_registry_url, settings.request_timeout_s)),
        store,
        limits=Limits(max_body_bytes=16 * 1024, max_events=EVENTS_PER_REQUEST),
        rate_limiter=RateLimiter(RateLimit(per_second=RATE_PER_TOKEN, burst=TOKEN_BURST)),
        max_in_flight=MAX_IN_FLIGHT,
    )
    counter: InFlight = app.state.in_flight
    deserializer = AvroDeserializer(RegistryClient(registry))
    with BackgroundServer(app, "127.0.0.1", free_port()) as server:
        # Warm up (the publisher, the schema subjects), then measure what the server completes per second.
        # (within each token's burst: nothing is refused while measuring).
        _sustained_rate(server.url, warming, per_token=2)
        rate = _sustained_rate(server.url, measuring, per_token=TOKEN_BURST)
        # Ten times that rate, open-loop, for BURST_S seconds: at least ten times the requests of a second.
        burst = max(50, math.ceil(10 * rate * BURST_S))
        consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
        try:
            starts = {tp: end for topic in DISTRICTS.values() for tp, end in _end_offsets(consumer, topic).items()}
        finally:
            consumer.close()
        jobs = [(bursting[i % len(bursting)][0], _batch(bursting[i % len(bursting)][2])) for i in range(burst)]
        answers, health = asyncio.run(_post_at(server.url, jobs, per_second=10 * rate))
        assert counter.current == 0 and counter.peak <= MAX_IN_FLIGHT

    statuses = Counter(r.status_code for r in answers)
    print(f"sustained {rate:.1f} requests/s; {burst} requests at {10 * rate:.0f}/s: {dict(statuses)}")
    assert set(statuses) <= {202, 429, 503}, statuses
    # The burst did meet both limits (a burst that met none would prove nothing) and some requests got through.
    assert statuses[202] > 0 and statuses[503] > 0 and statuses[429] > 0, statuses
    assert [r.status_code for r in health] == [200] * len(health)
    accepted: list[str] = []
    refused: list[str] = []
    for response, (_, body) in zip(answers, jobs, strict=True):
        ids = [doc["event_id"] for doc in body]
        if response.status_code == 202:
            payload = response.json()
            assert payload["accepted"] == len(ids), payload
            assert [r["event_id"] for r in payload["results"]] == ids
            accepted += ids
            continue
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["retry-after"]) >= 1, response.headers
        error = response.json()["error"]
        code = {429: "rate_limited", 503: "overloaded"}[response.status_code]
        assert (error["status"], error["code"]) == (response.status_code, code), error
        assert "Traceback" not in response.text
        refused += ids

    seen = _event_ids_between(settings, deserializer, starts)
    assert {event_id: seen[event_id] for event_id in accepted} == dict.fromkeys(accepted, 1)
    assert not [event_id for event_id in refused if event_id in seen]
