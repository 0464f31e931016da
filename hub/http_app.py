"""FastAPI side of :mod:`hub.http_api`: the JSON error response and the exception handlers every hub API installs.

:func:`install_error_handlers` makes a FastAPI app answer every failure in the
one error shape of :mod:`hub.http_api`: an :class:`~hub.http_api.ApiError`
raised anywhere; an unknown route (404 ``not_found``) or method (405
``method_not_allowed``, with its ``Allow`` header); a request that does not
match the declared parameters (the API says how, ``request_error``); and any
other exception (500 ``internal_error``, logged with its traceback, the message
saying nothing about the server).

:class:`BodyLimit` (installed by :func:`limit_body`) bounds every request body
of an app: a ``Content-Length`` over the limit is answered 413 before a byte
is read, and the body is read in full, counting, before the app sees the
request, so a false ``Content-Length`` or a chunked body without one is
answered 413 as soon as it passes the limit, whether or not the route would
have read it. Memory per request is bounded by the limit.

:class:`InFlightLimit` (installed by :func:`limit_in_flight`) is the one
admission limit across callers: at most ``max_in_flight`` requests are being
served at once (an :class:`InFlight` counter, no queue of its own beyond the
server's listen backlog); one more is answered at once 503 ``overloaded``
with ``Retry-After`` (:class:`~hub.http_api.ApiError`'s), before its body is
read. The health check (``/healthz``) is never refused. A request leaves the
count however it ends: answered, failed, or abandoned by its client. Installed
outside :class:`BodyLimit`, it bounds the bodies held at once, so an app's
request memory is at most about ``max_in_flight`` × its body limit (times the
constant factor of a parsed body), whatever the size of a burst.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import ConfigError
from hub.http_api import ApiError, body_too_large, check_declared_length

_HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed"}

DEFAULT_MAX_IN_FLIGHT: Final = 64
"""Requests an app serves at once unless told otherwise (see :class:`InFlightLimit`)."""
NEVER_REFUSED: Final = ("/healthz",)
"""Paths the in-flight limit always admits: a busy server is alive."""


def error_response(exc: ApiError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``{"error": {...}}`` with the error's status and headers (after any ``headers`` given)."""
    return JSONResponse({"error": exc.as_dict()}, status_code=exc.status, headers={**(headers or {}), **exc.headers()})


def install_error_handlers(
    app: FastAPI,
    *,
    log: logging.Logger,
    api_name: str,
    internal_message: str,
    request_error: Callable[[RequestValidationError], ApiError],
) -> None:
    """Answer every error of ``app`` in the hub's error shape (see the module docstring)."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request_error(exc))

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in the %s", api_name, exc_info=exc)
        return error_response(ApiError(500, "internal_error", internal_message))


class BodyLimit:
    """ASGI middleware: refuse (413, in the hub's error shape) any request body over ``max_body_bytes``.

    ``hint`` is appended to the 413 message (e.g. what to do instead). The app
    receives the body as one message once it has been read within the limit.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, hint: str = "") -> None:
        if max_body_bytes < 1:
            raise ConfigError(f"the body limit must be a positive number of bytes, got {max_body_bytes!r}")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.hint = hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_declared_length(Headers(scope=scope).get("content-length"), self.max_body_bytes, hint=self.hint)
            body = await self._read(receive)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
            return
        if body is None:
            return  # the client went away before the body was read: nobody to answer
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise body_too_large(self.max_body_bytes, hint=self.hint)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` as one message, then whatever the client sends next (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def limit_body(app: FastAPI, max_body_bytes: int, *, hint: str = "") -> None:
    """Bound every request body of ``app`` to ``max_body_bytes`` (see :class:`BodyLimit`)."""
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, hint=hint)


class InFlight:
    """How many requests are being served, never more than ``limit``; ``peak`` is the most there ever were.

    Pure and for one event loop: :meth:`enter` and :meth:`leave` do not await,
    so nothing runs between a check and its count.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigError(f"the in-flight limit must be a positive number of requests, got {limit!r}")
        self.limit = limit
        self.current = 0
        self.peak = 0

    def enter(self) -> bool:
        """Count one more request if there is room; ``False`` (nothing counted) when ``limit`` are in flight."""
        if self.current >= self.limit:
            return False
        self.current += 1
        self.peak = max(self.peak, self.current)
        return True

    def leave(self) -> None:
        """One request admitted by :meth:`enter` has ended."""
        if self.current < 1:
            raise RuntimeError("InFlight.leave() without a matching enter()")
        self.current -= 1


def overloaded(limit: int) -> ApiError:
    """503 ``overloaded``: ``limit`` requests are being served already (its ``Retry-After`` is the 503's)."""
    return ApiError(503, "overloaded", f"the server is serving its limit of {limit} requests at once; retry later")


class InFlightLimit:
    """ASGI middleware: serve at most ``counter.limit`` HTTP requests at once, answer one more 503 ``overloaded``.

    Requests to the ``exempt`` paths are served whatever the count and not
    counted. The count is released when the app returns, raises or is
    cancelled (a client that went away).
    """

    def __init__(self, app: ASGIApp, counter: InFlight, exempt: Collection[str] = NEVER_REFUSED) -> None:
        self.app = app
        self.counter = counter
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if not self.counter.enter():
            await error_response(overloaded(self.counter.limit))(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.leave()


def limit_in_flight(app: FastAPI, max_in_flight: int, *, exempt: Collection[str] = NEVER_REFUSED) -> InFlight:
    """Serve at most ``max_in_flight`` requests of ``app`` at once (see :class:`InFlightLimit`).

    Call it after :func:`limit_body`, so that it is the outer middleware and
    counts a request before its body is read. The counter is returned and kept
    as ``app.state.in_flight``.
    """
    counter = InFlight(max_in_flight)
    app.state.in_flight = counter
    app.add_middleware(InFlightLimit, counter=counter, exempt=exempt)
    return counter


__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "NEVER_REFUSED",
    "BodyLimit",
    "InFlight",
    "InFlightLimit",
    "error_response",
    "install_error_handlers",
    "limit_body",
    "limit_in_flight",
    "overloaded",
]
