"""What every HTTP API of the hub shares: one error shape, bearer-token authentication, rate and size limits.

Pure: knows HTTP status codes and headers but no web framework
(:mod:`hub.http_app` is the FastAPI side). The ingest API (``hub.ingest``) and
the query API (``projections.api``) both answer every error with

``{"error": {"status": <int>, "code": <stable name>, "message": <text>, "field"?: <name>, "details"?: [...]}}``

(``field`` names a request parameter at fault, ``details`` lists
``{"index", "field", "message"}`` of the events at fault), and both read the
caller from ``Authorization: Bearer <token>`` against the tokens of
:mod:`hub.tokens`:

- no header, another scheme or an empty token: 401 ``missing_token``;
- a token no entry matches (unknown or revoked): 401 ``invalid_token``;
- a token past its expiry: 401 ``expired_token``, saying when it expired and
  nothing else (not its id, role or name: whoever holds an expired token may
  not be its owner);
- a tokens file that cannot be read: 503 ``tokens_unavailable`` (fail closed);
- a token over its rate limit (:func:`admit`, a :class:`hub.rate_limit.RateLimiter`
  keyed by token id): 429 ``rate_limited``;
- a role the endpoint does not serve (:func:`require_role`): 403 ``forbidden_role``.

A request body is bounded (:func:`check_declared_length` before it is read,
:func:`body_too_large` while it is read; :class:`hub.http_app.BodyLimit` does
both): 413 ``body_too_large``, or 400 ``invalid_content_length`` for a
``Content-Length`` that is not a number.

A 401 carries a ``WWW-Authenticate: Bearer`` challenge (RFC 6750, with
``error="invalid_token"`` when a token was presented), a 503 ``Retry-After: 5``
and a 429 ``Retry-After`` with the whole seconds until the token may try again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from hub.errors import HubError
from hub.rate_limit import RateLimiter
from hub.tokens import Role, TokenEntry, TokenFileError, TokenSource, current_tokens, format_time

log = logging.getLogger("hub.http")

REALM: Final = "hub"
RETRY_AFTER_S: Final = 5


class ApiError(HubError):
    """A request refused: the HTTP ``status``, a stable machine-readable ``code`` and a ``message``.

    ``field`` names the request parameter at fault; ``details`` are ``(index, field, message)``
    triples naming the events of a batch at fault; ``retry_after`` is the whole seconds a 429
    asks the client to wait.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: Iterable[tuple[int | None, str, str]] = (),
        retry_after: int | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = list(details)
        self.retry_after = retry_after
        super().__init__(message)

    def as_dict(self) -> dict[str, Any]:
        """The value of the ``error`` member of the response body."""
        out: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = [{"index": i, "field": f, "message": m} for i, f, m in self.details]
        return out

    def headers(self) -> dict[str, str]:
        """The challenge of a 401 and the retry hint of a 429 or 503."""
        if self.status == 401:
            challenge = f'Bearer realm="{REALM}"'
            if self.code != "missing_token":
                challenge += ', error="invalid_token"'
            if self.code == "expired_token":
                challenge += ', error_description="the token expired"'
            return {"WWW-Authenticate": challenge}
        if self.status == 429:
            return {"Retry-After": str(self.retry_after or 1)}
        if self.status == 503:
            return {"Retry-After": str(RETRY_AFTER_S)}
        return {}


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), or a 401."""
    if not authorization:
        raise ApiError(401, "missing_token", "missing bearer token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing_token", "the Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate(tokens: TokenSource, authorization: str | None, *, now: datetime | None = None) -> TokenEntry:
    """The token entry of an ``Authorization`` header.

    401 without a matching token or with one expired at ``now`` (default: the
    current time); 503 if the tokens are unreadable.
    """
    token = bearer_token(authorization)
    try:
        entry = current_tokens(tokens).authenticate(token)
    except TokenFileError as exc:
        log.error("tokens file unusable: %s", exc)
        raise ApiError(503, "tokens_unavailable", "the hub cannot read its token store; retry later") from exc
    if entry is None:
        raise ApiError(401, "invalid_token", "unknown or revoked bearer token")
    if entry.expires_at is not None and entry.expired(now or datetime.now(UTC)):
        log.info("refused token %s: expired at %s", entry.id, format_time(entry.expires_at))
        raise ApiError(
            401,
            "expired_token",
            f"the bearer token expired at {format_time(entry.expires_at)}; ask the hub's operators for a new one",
        )
    return entry


def admit(limiter: RateLimiter, entry: TokenEntry) -> None:
    """A 429 (with the wait) unless the token ``entry`` may make one more request now."""
    decision = limiter.take(entry.id)
    if not decision.allowed:
        wait = decision.retry_after_header
        log.info("refused token %s: over its rate limit of %s", entry.id, limiter.limit)
        raise ApiError(
            429,
            "rate_limited",
            f"token {entry.id} is over its rate limit of {limiter.limit}; retry in {wait} s",
            retry_after=wait,
        )


def human_bytes(n: int) -> str:
    """``5242880 bytes (5 MiB)``, ``65536 bytes (64 KiB)``, ``1000 bytes``."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n % size == 0:
            return f"{n} bytes ({n // size} {unit})"
    return f"{n} bytes"


def body_too_large(limit: int, declared: int | None = None, *, hint: str = "") -> ApiError:
    """413 ``body_too_large`` for a body over ``limit`` bytes (``declared``: what Content-Length said)."""
    size = f" (Content-Length {declared})" if declared is not None else ""
    return ApiError(413, "body_too_large", f"request body exceeds the limit of {human_bytes(limit)}{size}{hint}")


def check_declared_length(header: str | None, limit: int, *, hint: str = "") -> None:
    """Refuse early (413) when ``Content-Length`` announces a body over ``limit``; 400 if it is not a number."""
    if header is None:
        return
    text = header.strip()
    if not text.isdigit():
        raise ApiError(400, "invalid_content_length", f"Content-Length must be a non-negative integer, got {header!r}")
    declared = int(text)
    if declared > limit:
        raise body_too_large(limit, declared, hint=hint)


def require_role(entry: TokenEntry, roles: Sequence[Role], action: str) -> None:
    """A 403 unless the token's role is one of ``roles``; the message says who may ``action``."""
    if not entry.has_role(roles):
        allowed = " and ".join(r.value for r in roles)
        raise ApiError(
            403,
            "forbidden_role",
            f"token {entry.id} has role {entry.role.value}; only {allowed} tokens may {action}",
        )


__all__ = [
    "REALM",
    "RETRY_AFTER_S",
    "ApiError",
    "admit",
    "authenticate",
    "bearer_token",
    "body_too_large",
    "check_declared_length",
    "human_bytes",
    "require_role",
]
