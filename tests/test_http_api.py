"""The error shape and bearer authentication every hub API shares (hub.http_api), and its FastAPI handlers.

The ingest and query APIs are tested end to end in tests/test_ingest_api.py and tests/test_query_api.py;
here the shared pieces are tested on their own, the handlers on a small app of this file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub import tokens
from hub.http_api import ApiError, authenticate, bearer_token, require_role
from hub.http_app import install_error_handlers
from hub.tokens import PUBLISHING_ROLES, READING_ROLES, TokenFile, TokenSet


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
@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(
        app,
        log=logging.getLogger("tests.http_api"),
        api_name="test API",
        internal_message="internal error (test)",
        request_error=lambda exc: ApiError(422, "invalid_parameter", "n: not a number", field="n"),
    )

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
