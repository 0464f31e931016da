"""Kafka's refusals - a failed login or a denied operation - recognised and told in one line.

Both client libraries raise their own classes for "wrong password" and "no ACL
allows this". :func:`is_refusal` recognises them (the one retry policy never
waits one out: a refusal does not heal by itself), and :func:`refusal` turns one
into a :class:`~hub.errors.KafkaAuthError` naming the principal, the resource
and the operation, for the edge to print instead of a traceback.

Pure: it inspects exceptions and settings, and opens nothing.
"""

from __future__ import annotations

import re
from typing import Final

from aiokafka import errors as aio
from kafka import errors as kp

from hub.errors import KafkaAuthError
from hub.settings import HubSettings

#: Failed logins.
AUTHENTICATION: Final[tuple[type[BaseException], ...]] = (
    kp.SaslAuthenticationFailedError,
    aio.AuthenticationFailedError,
    aio.SaslAuthenticationFailed,
    aio.AuthenticationMethodNotSupported,
)
#: Denied operations, with the kind of resource each concerns.
AUTHORIZATION: Final[dict[type[BaseException], str]] = {
    kp.TopicAuthorizationFailedError: "topic",
    kp.GroupAuthorizationFailedError: "group",
    kp.ClusterAuthorizationFailedError: "cluster",
    kp.TransactionalIdAuthorizationFailedError: "transactional id",
    kp.DelegationTokenAuthorizationFailedError: "delegation token",
    aio.TopicAuthorizationFailedError: "topic",
    aio.GroupAuthorizationFailedError: "group",
    aio.ClusterAuthorizationFailedError: "cluster",
    aio.TransactionalIdAuthorizationFailed: "transactional id",
    aio.DelegationTokenAuthorizationFailed: "delegation token",
}
REFUSALS: Final[tuple[type[BaseException], ...]] = AUTHENTICATION + tuple(AUTHORIZATION)

_LIBRARY_PREFIX = re.compile(r"^\[Error \d+\] \w+:?\s*")


def principal_of(settings: HubSettings) -> str:
    """``User:<name>`` of the settings' login, or ``User:ANONYMOUS`` for a client that logs in as nobody."""
    return f"User:{settings.kafka_sasl_username or 'ANONYMOUS'}"


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is Kafka refusing a login or an operation."""
    return _find(exc) is not None or isinstance(exc, KafkaAuthError)


def refusal(
    exc: BaseException, settings: HubSettings, *, resource: str | None = None, operation: str | None = None
) -> KafkaAuthError | None:
    """The one-line :class:`KafkaAuthError` for ``exc``, or None when ``exc`` is not a refusal.

    ``resource`` and ``operation`` say what the caller was doing (``"topic raw.gd.x"``, ``"WRITE"``) when the
    library's error does not; a login failure names the principal and the cluster.
    """
    if isinstance(exc, KafkaAuthError):
        return exc
    found = _find(exc)
    if found is None:
        return None
    who = principal_of(settings)
    where = ",".join(settings.bootstrap_list)
    if isinstance(found, AUTHENTICATION):
        return KafkaAuthError(
            f"Kafka at {where} refused the login of {who} ({settings.kafka_sasl_mechanism}): "
            "wrong or unknown user name or password",
            principal=who,
        )
    kind = next(k for cls, k in AUTHORIZATION.items() if isinstance(found, cls))
    detail = _detail(found)
    target = resource or (f"{kind} {detail}" if detail else kind)
    doing = f" {operation} on" if operation else " access to"
    return KafkaAuthError(
        f"Kafka at {where} denied {who}{doing} {target}: no ACL allows it (see `hub kafka acls plan`)",
        principal=who,
        resource=target,
        operation=operation,
    )


def _find(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, REFUSALS):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _detail(exc: BaseException) -> str:
    text = _LIBRARY_PREFIX.sub("", str(exc)).strip()
    return "" if text in ("", type(exc).__name__) else text


__all__ = ["AUTHENTICATION", "AUTHORIZATION", "REFUSALS", "is_refusal", "principal_of", "refusal"]
