"""What every HTTP API of the hub shares: one error shape and bearer-token authentication.

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
- a tokens file that cannot be read: 503 ``tokens_unavailable`` (fail closed);
- a role the endpoint does not serve (:func:`require_role`): 403 ``forbidden_role``.

A 401 carries a ``WWW-Authenticate: Bearer`` challenge (RFC 6750, with
``error="invalid_token"`` when a token was presented), a 503 ``Retry-After: 5``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final

from hub.errors import HubError
from hub.tokens import Role, TokenEntry, TokenFileError, TokenSource, current_tokens

log = logging.getLogger("hub.http")

REALM: Final = "hub"
RETRY_AFTER_S: Final = 5


class ApiError(HubError):
    """A request refused: the HTTP ``status``, a stable machine-readable ``code`` and a ``message``.

    ``field`` names the request parameter at fault; ``details`` are ``(index, field, message)``
    triples naming the events of a batch at fault.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: Iterable[tuple[int | None, str, str]] = (),
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = list(details)
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
        """The challenge of a 401 and the retry hint of a 503."""
        if self.status == 401:
            challenge = f'Bearer realm="{REALM}"'
            return {
                "WWW-Authenticate": challenge if self.code == "missing_token" else f'{challenge}, error="invalid_token"'
            }
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


def authenticate(tokens: TokenSource, authorization: str | None) -> TokenEntry:
    """The token entry of an ``Authorization`` header: 401 without a matching token, 503 if tokens are unreadable."""
    token = bearer_token(authorization)
    try:
        entry = current_tokens(tokens).authenticate(token)
    except TokenFileError as exc:
        log.error("tokens file unusable: %s", exc)
        raise ApiError(503, "tokens_unavailable", "the hub cannot read its token store; retry later") from exc
    if entry is None:
        raise ApiError(401, "invalid_token", "unknown or revoked bearer token")
    return entry


def require_role(entry: TokenEntry, roles: Sequence[Role], action: str) -> None:
    """A 403 unless the token's role is one of ``roles``; the message says who may ``action``."""
    if not entry.has_role(roles):
        allowed = " and ".join(r.value for r in roles)
        raise ApiError(
            403,
            "forbidden_role",
            f"token {entry.id} has role {entry.role.value}; only {allowed} tokens may {action}",
        )


__all__ = ["REALM", "RETRY_AFTER_S", "ApiError", "authenticate", "bearer_token", "require_role"]
