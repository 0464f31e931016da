"""FastAPI side of :mod:`hub.http_api`: the JSON error response and the exception handlers every hub API installs.

:func:`install_error_handlers` makes a FastAPI app answer every failure in the
one error shape of :mod:`hub.http_api`: an :class:`~hub.http_api.ApiError`
raised anywhere; an unknown route (404 ``not_found``) or method (405
``method_not_allowed``, with its ``Allow`` header); a request that does not
match the declared parameters (the API says how, ``request_error``); and any
other exception (500 ``internal_error``, logged with its traceback, the message
saying nothing about the server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hub.http_api import ApiError

_HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed"}


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


__all__ = ["error_response", "install_error_handlers"]
