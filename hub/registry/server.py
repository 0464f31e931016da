"""The Confluent Schema Registry REST API over a :class:`~hub.registry.store.SchemaStore` (FastAPI).

Responses use ``application/vnd.schemaregistry.v1+json``; errors have
Confluent's body ``{"error_code": 40401, "message": "..."}``. Requests may be
sent as that type, ``application/vnd.schemaregistry+json``,
``application/json`` or ``application/octet-stream``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import HubError, SchemaRegistryError
from hub.registry import codes
from hub.registry.state import LATEST, Latest, SchemaVersion, parse_version
from hub.registry.store import SchemaStore

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPTED_TYPES = frozenset(
    {CONTENT_TYPE, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream"}
)


class RegistryResponse(JSONResponse):
    media_type = CONTENT_TYPE


def _error(status: int, error_code: int, message: str) -> RegistryResponse:
    return RegistryResponse({"error_code": error_code, "message": message}, status_code=status)


def _version_body(sv: SchemaVersion) -> dict[str, Any]:
    return {"subject": sv.subject, "id": sv.id, "version": sv.version, "schema": sv.schema}


def _schema_id(value: str) -> int:
    try:
        schema_id = int(value)
    except ValueError:
        raise codes.schema_not_found(f"'{value}' is not a schema id") from None
    if schema_id < 1:
        raise codes.schema_not_found(f"'{value}' is not a schema id")
    return schema_id


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 415 for other content types, 400 for malformed JSON, 422 for non-objects."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in ACCEPTED_TYPES:
        raise codes.error(415, f"Unsupported content type '{content_type}': send {CONTENT_TYPE} or application/json")
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise codes.error(codes.BAD_REQUEST, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise codes.error(codes.UNPROCESSABLE, "The request body must be a JSON object")
    return body


async def _schema_of(request: Request) -> str:
    """The ``schema`` of a register / lookup / compatibility request (Avro only, no references)."""
    body = await _json_body(request)
    schema = body.get("schema")
    if not isinstance(schema, str) or not schema.strip():
        raise codes.invalid_schema('the request body needs a "schema" string holding the schema\'s JSON text')
    schema_type = body.get("schemaType") or "AVRO"
    if str(schema_type).upper() != "AVRO":
        raise codes.invalid_schema(f"schemaType {schema_type} is not supported by this registry (AVRO only)")
    if body.get("references"):
        raise codes.invalid_schema("schema references are not supported by this registry")
    return schema


def create_app(store: SchemaStore) -> FastAPI:
    """The REST app over a started ``store`` (the caller owns the store's lifecycle)."""
    app = FastAPI(
        title="hub schema registry",
        description="Confluent Schema Registry compatible API of the exchange hub.",
        default_response_class=RegistryResponse,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    @app.exception_handler(SchemaRegistryError)
    async def _registry_error(request: Request, exc: SchemaRegistryError) -> Response:
        status = exc.status or 500
        return _error(status, exc.error_code or status, str(exc))

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> Response:
        return _error(500, codes.STORE_ERROR, f"Error in the backend data store: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, exc.status_code, f"HTTP {exc.status_code} {exc.detail}")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"{' '.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, codes.UNPROCESSABLE, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return _error(500, 500, f"Internal server error: {type(exc).__name__}")

    # --- root -----------------------------------------------------------------

    @app.get("/")
    async def root() -> dict[str, Any]:
        return {}

    @app.get("/schemas/types")
    async def schema_types() -> list[str]:
        return ["AVRO"]

    @app.get("/mode")
    async def mode() -> dict[str, str]:
        return {"mode": "READWRITE"}

    # --- subjects ---------------------------------------------------------------

    @app.get("/subjects")
    async def list_subjects(deleted: bool = False) -> list[str]:
        return await call(store.subjects, include_deleted=deleted)

    @app.get("/subjects/{subject}/versions")
    async def list_versions(subject: str, deleted: bool = False) -> list[int]:
        return await call(store.versions, subject, include_deleted=deleted)

    @app.post("/subjects/{subject}/versions")
    async def register(subject: str, request: Request, normalize: bool = False) -> dict[str, int]:
        schema = await _schema_of(request)
        sv = await call(store.register, subject, schema)
        return {"id": sv.id}

    @app.post("/subjects/{subject}")
    async def lookup(subject: str, request: Request, normalize: bool = False, deleted: bool = False) -> Any:
        schema = await _schema_of(request)
        return _version_body(await call(store.lookup, subject, schema))

    @app.get("/subjects/{subject}/versions/{version}")
    async def get_version(subject: str, version: str, deleted: bool = False) -> Any:
        sv = await call(store.get_version, subject, parse_version(version), include_deleted=deleted)
        return _version_body(sv)

    @app.get("/subjects/{subject}/versions/{version}/schema")
    async def get_version_schema(subject: str, version: str, deleted: bool = False) -> Response:
        sv = await call(store.get_version, subject, parse_version(version), include_deleted=deleted)
        return Response(content=sv.schema, media_type=CONTENT_TYPE)

    @app.get("/subjects/{subject}/versions/{version}/referencedby")
    async def referenced_by(subject: str, version: str) -> list[int]:
        await call(store.get_version, subject, parse_version(version))
        return []  # schema references are not supported, so nothing refers to a version

    @app.delete("/subjects/{subject}")
    async def delete_subject(subject: str, permanent: bool = False) -> list[int]:
        return await call(store.delete_subject, subject, permanent=permanent)

    @app.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(subject: str, version: str, permanent: bool = False) -> int:
        return await call(store.delete_version, subject, parse_version(version), permanent=permanent)

    # --- schemas by id ------------------------------------------------------------

    @app.get("/schemas/ids/{schema_id}")
    async def get_schema(schema_id: str, subject: str | None = None) -> dict[str, str]:
        return {"schema": await call(store.get_schema, _schema_id(schema_id))}

    @app.get("/schemas/ids/{schema_id}/schema")
    async def get_raw_schema(schema_id: str) -> Response:
        text = await call(store.get_schema, _schema_id(schema_id))
        return Response(content=text, media_type=CONTENT_TYPE)

    @app.get("/schemas/ids/{schema_id}/versions")
    async def schema_versions(schema_id: str, deleted: bool = False) -> list[dict[str, Any]]:
        found = await call(store.usages, _schema_id(schema_id), include_deleted=deleted)
        return [{"subject": sv.subject, "version": sv.version} for sv in found]

    @app.get("/schemas/ids/{schema_id}/subjects")
    async def schema_subjects(schema_id: str, deleted: bool = False) -> list[str]:
        found = await call(store.usages, _schema_id(schema_id), include_deleted=deleted)
        return sorted({sv.subject for sv in found})

    # --- compatibility ----------------------------------------------------------------

    async def _compatibility(subject: str, request: Request, version: int | Latest | None, verbose: bool) -> Any:
        schema = await _schema_of(request)
        messages = await call(store.check, subject, schema, version)
        body: dict[str, Any] = {"is_compatible": not messages}
        if verbose:
            body["messages"] = messages
        return body

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatibility_version(subject: str, version: str, request: Request, verbose: bool = False) -> Any:
        return await _compatibility(subject, request, parse_version(version), verbose)

    @app.post("/compatibility/subjects/{subject}/versions")
    async def compatibility_all(subject: str, request: Request, verbose: bool = False) -> Any:
        return await _compatibility(subject, request, None, verbose)

    # --- config -----------------------------------------------------------------

    async def _level_of(request: Request) -> str:
        body = await _json_body(request)
        level = body.get("compatibility", body.get("compatibilityLevel"))
        if not isinstance(level, str):
            raise codes.error(
                codes.INVALID_COMPATIBILITY_LEVEL,
                'Invalid compatibility level: the body needs {"compatibility": LEVEL}',
            )
        return level

    @app.get("/config")
    async def get_global_config() -> dict[str, str]:
        return {"compatibilityLevel": (await call(store.global_level)).value}

    @app.put("/config")
    async def put_global_config(request: Request) -> dict[str, str]:
        level = await call(store.set_level, await _level_of(request))
        return {"compatibility": level.value}

    @app.delete("/config")
    async def delete_global_config() -> dict[str, str]:
        return {"compatibilityLevel": (await call(store.delete_level)).value}

    @app.get("/config/{subject}")
    async def get_subject_config(
        subject: str, default_to_global: bool = Query(False, alias="defaultToGlobal")
    ) -> dict[str, str]:
        level = await call(store.subject_level, subject)
        if level is None and default_to_global:
            level = await call(store.global_level)
        if level is None:
            raise codes.error(
                codes.SUBJECT_LEVEL_CONFIG_NOT_FOUND,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
        return {"compatibilityLevel": level.value}

    @app.put("/config/{subject}")
    async def put_subject_config(subject: str, request: Request) -> dict[str, str]:
        level = await call(store.set_level, await _level_of(request), subject)
        return {"compatibility": level.value}

    @app.delete("/config/{subject}")
    async def delete_subject_config(subject: str) -> dict[str, str]:
        return {"compatibilityLevel": (await call(store.delete_level, subject)).value}

    return app


__all__ = ["ACCEPTED_TYPES", "CONTENT_TYPE", "LATEST", "create_app"]
