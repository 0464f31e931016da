"""What every hub API shares (hub.http_api, hub.http_app): the error shape, bearer authentication and expiry,
the per-token rate limit, the body limit, and the FastAPI handlers.

The ingest and query APIs are tested end to end in tests/test_ingest_api.py and tests/test_query_api.py;
here the shared pieces are tested on their own, the handlers and the body limit on small apps of this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from hub import tokens
from hub.errors import ConfigError
from hub.http_api import (
    ApiError,
    admit,
    authenticate,
    bearer_token,
    body_too_large,
    check_declared_length,
    human_bytes,
    require_role,
)
from hub.http_app import BodyLimit, install_error_handlers, limit_body
from hub.rate_limit import RateLimit, RateLimiter
from hub.tokens import PUBLISHING_ROLES, READING_ROLES, TokenFile, TokenSet

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _refused(info: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    return info.value.status, info.value.code


@pytest.mark.parametrize("header", ["Bearer abc", "bearer  abc ", "BEARER abc"])
def test_the_bearer_token_is_read_whatever_the_scheme_case_and_spaces(header: str) -> None:
    assert bearer_token(header) == "abc"


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   ", "abc"])
def test_no_bearer_token_is_401_missing_token(header: str | None) -> None:
    with pytest.raises(ApiError) as info:
        bearer_token(header)
    assert _refused(info) == (401, "missing_token")
    assert info.value.headers() == {"WWW-Authenticate": 'Bearer realm="hub"'}


def test_authenticate_finds_the_entry_or_answers_401_invalid_token() -> None:
    token, entry = tokens.issue("analyst")
    store = TokenSet((entry,))
    assert authenticate(store, f"Bearer {token}") == entry
    assert authenticate(lambda: store, f"Bearer {token}") == entry
    for wrong in (token + "x", entry.hash):
        with pytest.raises(ApiError) as info:
            authenticate(store, f"Bearer {wrong}")
        assert _refused(info) == (401, "invalid_token")
        assert info.value.headers() == {"WWW-Authenticate": 'Bearer realm="hub", error="invalid_token"'}


def test_an_unreadable_tokens_file_is_503_and_fails_closed(tmp_path: Path) -> None:
    token, entry = tokens.issue("analyst")
    path = tmp_path / "tokens.json"
    tokens.add_token(path, entry)
    source = TokenFile(path)
    assert authenticate(source, f"Bearer {token}") == entry
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ApiError) as info:
        authenticate(source, f"Bearer {token}")
    assert _refused(info) == (503, "tokens_unavailable")
    assert info.value.headers() == {"Retry-After": "5"}


def test_an_expired_token_is_401_saying_when_and_nothing_else() -> None:
    token, entry = tokens.issue(
        "publisher", district="jinjiang", name="jj-cms", expires_at=NOW + timedelta(hours=1), now=NOW
    )
    store = TokenSet((entry,))
    assert authenticate(store, f"Bearer {token}", now=NOW + timedelta(minutes=59, seconds=59)) == entry
    with pytest.raises(ApiError) as info:
        authenticate(store, f"Bearer {token}", now=NOW + timedelta(hours=1))
    assert _refused(info) == (401, "expired_token")
    assert "expired at 2026-03-01T09:00:00Z" in info.value.message
    for secret in (entry.id, entry.name, "publisher", "jinjiang"):
        assert secret not in info.value.message
    assert info.value.as_dict() == {"status": 401, "code": "expired_token", "message": info.value.message}
    assert info.value.headers() == {
        "WWW-Authenticate": 'Bearer realm="hub", error="invalid_token", error_description="the token expired"'
    }


def test_an_expired_token_is_refused_on_the_real_clock() -> None:
    token, entry = tokens.issue(
        "analyst", now=datetime(2020, 1, 1, tzinfo=UTC), expires_at=datetime(2020, 1, 2, tzinfo=UTC)
    )
    with pytest.raises(ApiError) as info:
        authenticate(TokenSet((entry,)), f"Bearer {token}")
    assert _refused(info) == (401, "expired_token")


def test_admit_answers_429_with_the_wait_once_a_token_is_over_its_rate() -> None:
    clock = [0.0]
    limiter = RateLimiter(RateLimit(per_second=0.25, burst=2), lambda: clock[0])
    _, busy = tokens.issue("analyst")
    _, other = tokens.issue("analyst")
    admit(limiter, busy)
    admit(limiter, busy)
    with pytest.raises(ApiError) as info:
        admit(limiter, busy)
    assert _refused(info) == (429, "rate_limited")
    assert info.value.message == (
        f"token {busy.id} is over its rate limit of 0.25 requests per second (bursts of 2); retry in 4 s"
    )
    assert info.value.headers() == {"Retry-After": "4"}
    admit(limiter, other)  # another token has its own bucket
    clock[0] += 4.0
    admit(limiter, busy)


def test_body_limits_refuse_early_and_name_the_limit() -> None:
    assert human_bytes(5 * 1024 * 1024) == "5242880 bytes (5 MiB)"
    assert human_bytes(64 * 1024) == "65536 bytes (64 KiB)"
    assert human_bytes(1000) == "1000 bytes"
    check_declared_length(None, 1000)
    check_declared_length("1000", 1000)
    with pytest.raises(ApiError) as info:
        check_declared_length("1001", 1000, hint="; send less")
    assert _refused(info) == (413, "body_too_large")
    assert info.value.message == "request body exceeds the limit of 1000 bytes (Content-Length 1001); send less"
    for garbage in ("-5", "ten", "1e3", ""):
        with pytest.raises(ApiError) as info:
            check_declared_length(garbage, 1000)
        assert _refused(info) == (400, "invalid_content_length")
    assert body_too_large(65536).message == "request body exceeds the limit of 65536 bytes (64 KiB)"


def test_require_role_names_the_role_and_who_may() -> None:
    _, publisher = tokens.issue("publisher", district="jinjiang")
    _, analyst = tokens.issue("analyst")
    require_role(publisher, PUBLISHING_ROLES, "publish events")
    require_role(analyst, READING_ROLES, "read")
    with pytest.raises(ApiError) as info:
        require_role(analyst, PUBLISHING_ROLES, "publish events")
    assert _refused(info) == (403, "forbidden_role")
    assert info.value.message == (f"token {analyst.id} has role analyst; only publisher tokens may publish events")
    with pytest.raises(ApiError) as info:
        require_role(publisher, READING_ROLES, "read")
    assert info.value.message == f"token {publisher.id} has role publisher; only analyst and admin tokens may read"
    assert info.value.headers() == {}


def test_the_error_body_has_field_and_details_only_when_given() -> None:
    assert ApiError(400, "bad", "no").as_dict() == {"status": 400, "code": "bad", "message": "no"}
    assert ApiError(404, "not_found", "zone: x", field="zone").as_dict() == {
        "status": 404,
        "code": "not_found",
        "message": "zone: x",
        "field": "zone",
    }
    assert ApiError(403, "forbidden_district", "m", details=[(1, "district", "other")]).as_dict() == {
        "status": 403,
        "code": "forbidden_district",
        "message": "m",
        "details": [{"index": 1, "field": "district", "message": "other"}],
    }


# -- the FastAPI handlers ----------------------------------------------------------------------------------
def _app() -> FastAPI:
    """An app answering every error in the hub's shape, as both APIs do."""
    app = FastAPI()
    install_error_handlers(
        app,
        log=logging.getLogger("tests.http_api"),
        api_name="test API",
        internal_message="internal error (test)",
        request_error=lambda exc: ApiError(422, "invalid_parameter", "n: not a number", field="n"),
    )
    return app


@pytest.fixture
def client() -> TestClient:
    app = _app()

    @app.get("/refused")
    async def refused() -> None:
        raise ApiError(401, "invalid_token", "unknown or revoked bearer token")

    @app.get("/number")
    async def number(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


def test_every_error_has_the_one_shape(client: TestClient) -> None:
    refused = client.get("/refused")
    assert refused.status_code == 401
    assert refused.json() == {
        "error": {"status": 401, "code": "invalid_token", "message": "unknown or revoked bearer token"}
    }
    assert refused.headers["www-authenticate"] == 'Bearer realm="hub", error="invalid_token"'
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = client.post("/number")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"
    invalid = client.get("/number", params={"n": "x"})
    assert invalid.status_code == 422
    assert invalid.json() == {
        "error": {"status": 422, "code": "invalid_parameter", "message": "n: not a number", "field": "n"}
    }
    broken = client.get("/broken")
    assert broken.status_code == 500
    assert broken.json() == {"error": {"status": 500, "code": "internal_error", "message": "internal error (test)"}}


# -- the body limit ----------------------------------------------------------------------------------------
LIMIT = 1024


@pytest.fixture
def limited() -> Iterator[tuple[TestClient, list[str]]]:
    """An app limited to 1 KiB whose routes record that they ran: POST /echo reads the body, GET /ping does not."""
    ran: list[str] = []
    app = _app()
    limit_body(app, LIMIT, hint="; send less")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        ran.append("echo")
        return {"bytes": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        ran.append("ping")
        return {"pong": "yes"}

    with TestClient(app) as client:
        yield client, ran


def _chunks(data: bytes, size: int = 100) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _too_large(response: Any) -> dict[str, Any]:
    """The error of a 413 ``response`` (a TestClient response: httpx or httpx2, whichever starlette uses)."""
    assert response.status_code == 413, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == "body_too_large" and "1024 bytes (1 KiB)" in body["message"]
    assert body["message"].endswith("; send less")
    return body


def test_a_body_within_the_limit_reaches_the_route_whole(limited: tuple[TestClient, list[str]]) -> None:
    client, ran = limited
    assert client.post("/echo", content=b"x" * LIMIT).json() == {"bytes": LIMIT}
    chunked = client.post("/echo", content=_chunks(b"y" * LIMIT))
    assert "content-length" not in chunked.request.headers
    assert chunked.json() == {"bytes": LIMIT}
    assert client.get("/ping").json() == {"pong": "yes"}
    assert ran == ["echo", "echo", "ping"]


def test_a_declared_length_over_the_limit_is_413_before_any_route_runs(
    limited: tuple[TestClient, list[str]],
) -> None:
    client, ran = limited
    body = _too_large(client.post("/echo", content=b"x" * (LIMIT + 1)))
    assert "(Content-Length 1025)" in body["message"]
    invalid = client.post("/echo", content=b"x", headers={"Content-Length": "lots"})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_content_length"
    assert ran == []


def test_a_false_or_missing_content_length_does_not_get_past_the_limit(
    limited: tuple[TestClient, list[str]],
) -> None:
    client, ran = limited
    big = b"z" * (LIMIT * 3)
    lying = client.post("/echo", content=big, headers={"Content-Length": "10"})
    assert lying.request.headers["content-length"] == "10"
    _too_large(lying)
    chunked = client.post("/echo", content=_chunks(big))
    assert "content-length" not in chunked.request.headers
    _too_large(chunked)
    unread = client.request("GET", "/ping", content=_chunks(big))  # a route that would never read it
    _too_large(unread)
    assert ran == []


def test_the_body_limit_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="positive number of bytes, got 0"):
        BodyLimit(FastAPI(), 0)
