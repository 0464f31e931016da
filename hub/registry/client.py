"""Client of a Confluent-compatible schema registry (this hub's, Confluent, Karapace, Apicurio ccompat, Redpanda).

Caches what cannot change: the schema of an id (forever) and the id of a
(subject, schema) pair once registered or looked up. Registry refusals raise
:class:`~hub.errors.SchemaRegistryError` with the registry's ``error_code``
and HTTP ``status``; a 409 raises :class:`~hub.errors.IncompatibleSchemaError`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from hub.errors import IncompatibleSchemaError, SchemaRegistryError
from hub.registry import codes

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5"


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    id: int
    version: int
    schema: str


def _text(schema: str | Mapping[str, Any]) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def _normalised(schema: str | Mapping[str, Any]) -> str:
    """Cache key of a schema: whitespace and key order do not matter; invalid JSON stays as given."""
    try:
        doc = json.loads(schema) if isinstance(schema, str) else schema
    except ValueError:
        return str(schema)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _segment(value: str) -> str:
    return quote(value, safe="")


class RegistryClient:
    """Thread-safe client; use as a context manager or call :meth:`close`."""

    def __init__(self, url: str, timeout_s: float = 10.0, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            transport=transport,
            headers={"Accept": ACCEPT, "Content-Type": CONTENT_TYPE},
        )
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- HTTP ------------------------------------------------------------------

    def _request(self, method: str, path: str, *, body: object = None, params: dict[str, str] | None = None) -> Any:
        content = None if body is None else json.dumps(body).encode()
        try:
            resp = self._http.request(method, path, content=content, params=params)
        except httpx.TransportError as exc:
            raise SchemaRegistryError(
                f"cannot reach the schema registry at {self.url}: {exc or type(exc).__name__} "
                "(is the registry running? `hub registry serve` or `hub registry start`; "
                "or point HUB_SCHEMA_REGISTRY_URL at yours)"
            ) from exc
        if resp.is_success:
            try:
                return resp.json()
            except ValueError as exc:
                raise SchemaRegistryError(
                    f"the schema registry at {self.url} answered {method} {path} with non-JSON: {resp.text[:200]!r}",
                    status=resp.status_code,
                ) from exc
        raise self._error(method, path, resp)

    def _error(self, method: str, path: str, resp: httpx.Response) -> SchemaRegistryError:
        error_code: int | None = None
        message = resp.text[:300] or resp.reason_phrase
        try:
            doc = resp.json()
            if isinstance(doc, dict):
                error_code = int(doc["error_code"]) if doc.get("error_code") is not None else None
                message = str(doc.get("message") or message)
        except (ValueError, TypeError):
            pass
        text = f"schema registry {self.url}: {method} {path} -> {resp.status_code}: {message}"
        cls = IncompatibleSchemaError if resp.status_code == 409 else SchemaRegistryError
        return cls(text, error_code=error_code if error_code is not None else resp.status_code, status=resp.status_code)

    # --- schemas ------------------------------------------------------------------

    def register(self, subject: str, schema: str | Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (an already registered one returns its id)."""
        key = (subject, _normalised(schema))
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        text = _text(schema)
        doc = self._request("POST", f"/subjects/{_segment(subject)}/versions", body={"schema": text})
        schema_id = int(doc["id"])
        with self._lock:
            self._ids[key] = schema_id
            self._schemas.setdefault(schema_id, text)
        return schema_id

    def lookup(self, subject: str, schema: str | Mapping[str, Any]) -> RegisteredSchema | None:
        """The version of ``subject`` holding ``schema``, or None if it is not registered there."""
        try:
            doc = self._request("POST", f"/subjects/{_segment(subject)}", body={"schema": _text(schema)})
        except SchemaRegistryError as exc:
            if exc.status == 404:
                return None
            raise
        found = self._registered(doc, subject)
        with self._lock:
            self._ids[(subject, _normalised(schema))] = found.id
            self._schemas.setdefault(found.id, found.schema)
        return found

    def get_schema(self, schema_id: int) -> str:
        """Schema text of an id (cached forever: ids are immutable)."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        doc = self._request("GET", f"/schemas/ids/{int(schema_id)}")
        text = str(doc["schema"])
        with self._lock:
            self._schemas.setdefault(schema_id, text)
        return text

    def get_latest(self, subject: str) -> RegisteredSchema:
        return self.get_version(subject, "latest")

    def get_version(self, subject: str, version: int | str) -> RegisteredSchema:
        doc = self._request("GET", f"/subjects/{_segment(subject)}/versions/{_segment(str(version))}")
        found = self._registered(doc, subject)
        with self._lock:
            self._schemas.setdefault(found.id, found.schema)
        return found

    def subjects(self) -> list[str]:
        return [str(s) for s in self._request("GET", "/subjects")]

    def versions(self, subject: str) -> list[int]:
        return [int(v) for v in self._request("GET", f"/subjects/{_segment(subject)}/versions")]

    def check_compatibility(
        self, subject: str, schema: str | Mapping[str, Any], version: int | str = "latest"
    ) -> list[str]:
        """Why ``schema`` is incompatible with ``subject`` at ``version``; ``[]`` = compatible.

        A subject with no versions accepts any schema, so an unknown subject gives ``[]``.
        """
        path = f"/compatibility/subjects/{_segment(subject)}/versions/{_segment(str(version))}"
        try:
            doc = self._request("POST", path, body={"schema": _text(schema)}, params={"verbose": "true"})
        except SchemaRegistryError as exc:
            if exc.error_code == codes.SUBJECT_NOT_FOUND:
                return []
            raise
        if doc.get("is_compatible", False):
            return []
        messages = [str(m) for m in doc.get("messages") or []]
        return messages or [f"incompatible with {subject} version {version} (the registry gave no details)"]

    # --- config and deletion ----------------------------------------------------------

    def get_config(self, subject: str | None = None) -> str:
        """Compatibility level in force: the subject's if it has one, else the global level."""
        if subject is not None:
            try:
                doc = self._request("GET", f"/config/{_segment(subject)}", params={"defaultToGlobal": "true"})
                return self._level(doc)
            except SchemaRegistryError as exc:
                if exc.status != 404:
                    raise
        return self._level(self._request("GET", "/config"))

    def set_config(self, level: str, subject: str | None = None) -> str:
        """Set the global or a subject's compatibility level; returns the level the registry set."""
        path = "/config" if subject is None else f"/config/{_segment(subject)}"
        return self._level(self._request("PUT", path, body={"compatibility": level.upper()}))

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        """Soft delete every version of ``subject`` (``permanent`` after a soft delete removes them)."""
        params = {"permanent": "true"} if permanent else None
        deleted = [int(v) for v in self._request("DELETE", f"/subjects/{_segment(subject)}", params=params)]
        with self._lock:
            for key in [k for k in self._ids if k[0] == subject]:
                del self._ids[key]
        return deleted

    # --- helpers ------------------------------------------------------------------------

    def _registered(self, doc: Any, subject: str) -> RegisteredSchema:
        try:
            return RegisteredSchema(
                subject=str(doc.get("subject", subject)),
                id=int(doc["id"]),
                version=int(doc["version"]),
                schema=str(doc["schema"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SchemaRegistryError(f"the schema registry at {self.url} sent an unexpected answer: {doc!r}") from exc

    def _level(self, doc: Any) -> str:
        if isinstance(doc, dict):
            level = doc.get("compatibilityLevel", doc.get("compatibility"))
            if isinstance(level, str):
                return level
        raise SchemaRegistryError(f"the schema registry at {self.url} sent an unexpected config: {doc!r}")
