"""Thin kafka-python adapter: read a cluster's ACLs and make them match the plan (:mod:`hub.acl_plan`).

:func:`apply` makes the cluster's ACLs *equal* to the wanted entries: it creates
the missing ones and deletes every other ACL, including those of principals the
plan does not know (a leftover grant is exactly what least privilege forbids),
and returns what it did as an :class:`~hub.acl_plan.AclDiff`. Super users need
no ACL and the plan gives them none. :func:`declared_plan` is the plan of the
deployment's files (org units, agreements), as ``hub kafka acls`` and the local
broker's start apply it.

Guarantees:

- idempotent: applying the same entries again finds nothing to do (an empty diff);
- :func:`apply` and :func:`create` return once the broker describes the new ACLs, and so enforces them
  (a KRaft broker applies a committed ACL change a moment after the controller answers);
- every client is opened through :func:`hub.kafka_clients.new_admin`, so it logs in with the settings;
- failures leave as hub errors in one line: Kafka refusing the caller's login or
  the operation is a :class:`~hub.errors.KafkaAuthError` naming the principal, the
  resource and the operation (:func:`hub.kafka_auth.refusal`); a broker without an
  authorizer is a :class:`~hub.errors.ConfigError`; anything else from Kafka is a
  :class:`~hub.errors.BrokerError`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Final, NoReturn

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
)
from kafka.admin import ResourceType as KafkaResourceType
from kafka.errors import KafkaError, SecurityDisabledError

from hub.acl_plan import AclDiff, AclEntry, Operation, PatternType, Permission, ResourceType, diff, ordered, plan
from hub.agreements import load_agreements
from hub.agreements.loading import agreements_dir
from hub.errors import BrokerError, ConfigError, HubError
from hub.jurisdictions import scope_of
from hub.kafka_auth import principal_of, refusal
from hub.kafka_clients import describe, new_admin
from hub.orgunits import org_units
from hub.settings import HubSettings

#: Matches every ACL of the cluster.
EVERY_ACL: ACLFilter = ACLFilter(
    principal=None,
    host=None,
    operation=ACLOperation.ANY,
    permission_type=ACLPermissionType.ANY,
    resource_pattern=ResourcePatternFilter(KafkaResourceType.ANY, None, ACLResourcePatternType.ANY),
)
_SETTLE_POLL_S: Final = 0.1
#: The resource every ACL operation is authorized against (``kafka-cluster``: ALTER to change, DESCRIBE to read).
ACL_RESOURCE = "cluster kafka-cluster"


# -- conversions (pure) ------------------------------------------------------------------------------
def to_kafka(entry: AclEntry) -> ACL:
    """The kafka-python ACL of ``entry``."""
    return ACL(
        principal=entry.principal,
        host=entry.host,
        operation=ACLOperation[entry.operation.value],
        permission_type=ACLPermissionType[entry.permission.value],
        resource_pattern=ResourcePattern(
            KafkaResourceType[entry.resource_type.value],
            entry.name,
            ACLResourcePatternType[entry.pattern_type.value],
        ),
    )


def from_kafka(acl: ACL) -> AclEntry:
    """The :class:`AclEntry` of an ACL the cluster described; an ACL the hub cannot name is a BrokerError."""
    pattern = acl.resource_pattern
    try:
        return AclEntry(
            principal=acl.principal,
            resource_type=ResourceType(pattern.resource_type.name),
            pattern_type=PatternType(pattern.pattern_type.name),
            name=pattern.resource_name,
            operation=Operation(acl.operation.name),
            permission=Permission(acl.permission_type.name),
            host=acl.host,
        )
    except ValueError as exc:
        raise BrokerError(f"the cluster described an ACL the hub cannot name ({acl!r}): {exc}") from exc


def _exact(entry: AclEntry) -> ACLFilter:
    """A filter matching ``entry`` and nothing else."""
    acl = to_kafka(entry)
    return ACLFilter(acl.principal, acl.host, acl.operation, acl.permission_type, acl.resource_pattern)


# -- the cluster -------------------------------------------------------------------------------------
def current(settings: HubSettings) -> tuple[AclEntry, ...]:
    """Every ACL of the cluster, sorted like the plan."""
    admin = new_admin(settings)
    try:
        return _describe(admin, settings)
    finally:
        admin.close()


def declared_plan(settings: HubSettings) -> tuple[AclEntry, ...]:
    """The plan (:func:`hub.acl_plan.plan`) of the org units and of the agreements the settings name."""
    return plan(org_units(), load_agreements(agreements_dir(settings.agreements_dir)), scope_of(settings))


def create(settings: HubSettings, entries: Sequence[AclEntry]) -> None:
    """Create ``entries`` (an entry that exists already is left as is); returns once the broker describes them."""
    admin = new_admin(settings)
    try:
        _create(admin, settings, entries)
        _settle(admin, settings, entries, exact=False)
    finally:
        admin.close()


def apply(settings: HubSettings, wanted: Iterable[AclEntry]) -> AclDiff:
    """Make the cluster's ACLs equal ``wanted``: create the missing, delete the rest; return what changed.

    Returns once the broker describes exactly ``wanted`` (it then enforces them too: both read the same
    metadata), or raises :class:`BrokerError` if it does not within the settings' request timeout.
    """
    target = ordered(wanted)
    admin = new_admin(settings)
    try:
        change = diff(_describe(admin, settings), target)
        _create(admin, settings, change.added)
        _delete(admin, settings, change.removed)
        if not change.empty:
            _settle(admin, settings, target)
        return change
    finally:
        admin.close()


def _describe(admin: KafkaAdminClient, settings: HubSettings) -> tuple[AclEntry, ...]:
    try:
        acls, _ = admin.describe_acls(EVERY_ACL)
    except KafkaError as exc:
        _fail(exc, settings, "DESCRIBE", "describing the ACLs")
    return ordered(from_kafka(acl) for acl in acls)


def _settle(
    admin: KafkaAdminClient, settings: HubSettings, expected: Iterable[AclEntry], *, exact: bool = True
) -> None:
    """Wait until the broker describes ``expected`` (exactly, or at least), bounded by the request timeout.

    The controller commits an ACL change before it answers, but the broker serving describes and
    authorizing requests applies the committed record a moment later.
    """
    want = set(expected)
    deadline = time.monotonic() + settings.request_timeout_s
    while True:
        have = set(_describe(admin, settings))
        if have == want or (not exact and want <= have):
            return
        if time.monotonic() >= deadline:
            missing, extra = len(want - have), len(have - want) if exact else 0
            raise BrokerError(
                f"Kafka at {describe(settings)} still describes {missing} missing and {extra} extra ACLs "
                f"{settings.request_timeout_s:g}s after the change"
            )
        time.sleep(_SETTLE_POLL_S)


def _create(admin: KafkaAdminClient, settings: HubSettings, entries: Sequence[AclEntry]) -> None:
    if not entries:
        return
    try:
        result: dict[str, list[Any]] = admin.create_acls([to_kafka(e) for e in entries])
    except KafkaError as exc:
        _fail(exc, settings, "ALTER", f"creating {len(entries)} ACLs")
    failed = result.get("failed", [])
    if failed:
        error = failed[0]
        _fail(error() if isinstance(error, type) else error, settings, "ALTER", f"creating {len(failed)} ACLs")


def _delete(admin: KafkaAdminClient, settings: HubSettings, entries: Sequence[AclEntry]) -> None:
    if not entries:
        return
    try:
        results = admin.delete_acls([_exact(e) for e in entries])
    except KafkaError as exc:
        _fail(exc, settings, "ALTER", f"deleting {len(entries)} ACLs")
    failed = [error for _, _, error in results if error is not None and getattr(error, "errno", 0) != 0]
    if failed:
        error = failed[0]
        _fail(error() if isinstance(error, type) else error, settings, "ALTER", f"deleting {len(failed)} ACLs")


def error_for(exc: BaseException, settings: HubSettings, operation: str, doing: str) -> HubError:
    """The hub's one-line error for ``exc``, which Kafka raised while ``doing`` (an ``operation`` on the cluster).

    A refusal names the principal, the cluster resource and the operation; a broker without an
    authorizer is a :class:`ConfigError`; anything else a :class:`BrokerError`.
    """
    denied = refusal(exc, settings, resource=ACL_RESOURCE, operation=operation)
    if denied is not None:
        return denied
    where = describe(settings)
    if isinstance(exc, SecurityDisabledError):
        return ConfigError(
            f"Kafka at {where} has no authorizer, so it keeps no ACLs ({doing} as {principal_of(settings)}): "
            "start the secured broker (`hub kafka start` without --insecure)"
        )
    return BrokerError(f"Kafka at {where} failed {doing} as {principal_of(settings)}: {exc}")


def _fail(exc: BaseException, settings: HubSettings, operation: str, doing: str) -> NoReturn:
    raise error_for(exc, settings, operation, doing) from exc


__all__ = ["ACL_RESOURCE", "EVERY_ACL", "apply", "create", "current", "error_for", "from_kafka", "to_kafka"]
