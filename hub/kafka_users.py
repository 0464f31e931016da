"""SCRAM users of a cluster, managed through the Admin API (KIP-554), and the ones a deployment declares.

``hub kafka users add|list|remove`` and the local broker's start-up go through
here. Guarantees: passwords travel only as salted SCRAM credentials (the client
derives them; the broker never sees a password); every change is an upsert or
a deletion of one user's SCRAM-SHA-512 credential, so repeating it is harmless;
a refusal by the broker is a :class:`~hub.errors.KafkaAuthError` naming the
principal, any other failure a :class:`~hub.errors.BrokerError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from kafka import KafkaAdminClient
from kafka.admin import ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion
from kafka.errors import KafkaError

from hub.agreements import load_agreements
from hub.agreements.loading import agreements_dir
from hub.errors import BrokerError
from hub.jurisdictions import scope_of
from hub.kafka_auth import refusal
from hub.kafka_clients import new_admin
from hub.orgunits import org_units
from hub.principals import SUPER_USERS, declared_principals
from hub.settings import HubSettings

MECHANISM = ScramMechanism.SCRAM_SHA_512
T = TypeVar("T")


def declared_names(settings: HubSettings) -> list[str]:
    """The SCRAM users the deployment needs: the super users that log in with SCRAM, then every declared principal."""
    agreements = load_agreements(agreements_dir(settings.agreements_dir))
    declared = declared_principals(org_units(), agreements, scope_of(settings))
    return [*SUPER_USERS, *(p.name for p in declared)]


def list_users(admin: HubSettings) -> dict[str, list[str]]:
    """User name -> its SCRAM mechanisms, as the cluster has them."""
    described = _call(admin, "describe SCRAM users", lambda client: client.describe_user_scram_credentials())
    return {
        user: sorted(ci["mechanism"].name.replace("_", "-") for ci in info["credential_infos"])
        for user, info in sorted(described.items())
        if not info["error"]
    }


def upsert(admin: HubSettings, passwords: Mapping[str, str]) -> None:
    """Create or replace the SCRAM-SHA-512 credential of each user in ``passwords``."""
    if passwords:
        changes = [UserScramCredentialUpsertion(user, MECHANISM, pw) for user, pw in sorted(passwords.items())]
        _alter(admin, changes, "set the SCRAM credentials of")


def remove(admin: HubSettings, users: Iterable[str]) -> None:
    """Delete the SCRAM-SHA-512 credential of each user (its ACLs stay: ``hub kafka acls apply`` prunes them)."""
    changes = [UserScramCredentialDeletion(user, MECHANISM) for user in sorted(set(users))]
    if changes:
        _alter(admin, changes, "remove the SCRAM credentials of")


def ensure(admin: HubSettings, passwords: Mapping[str, str]) -> list[str]:
    """Create each user of ``passwords`` the cluster does not have yet; returns those created, sorted."""
    have = list_users(admin)
    missing = {u: pw for u, pw in passwords.items() if u not in have}
    upsert(admin, missing)
    return sorted(missing)


def _alter(admin: HubSettings, changes: list[Any], doing: str) -> None:
    results = _call(admin, f"{doing} users", lambda client: client.alter_user_scram_credentials(changes))
    failed = {user: message for user, message in results.items() if message}
    if failed:
        detail = "; ".join(f"{user}: {message}" for user, message in sorted(failed.items()))
        raise BrokerError(f"Kafka could not {doing} {detail}")


def _call(admin: HubSettings, what: str, op: Callable[[KafkaAdminClient], T]) -> T:
    client = new_admin(admin)
    try:
        return op(client)
    except KafkaError as exc:
        denied = refusal(exc, admin, resource="the cluster's SCRAM users", operation="ALTER")
        if denied is not None:
            raise denied from exc
        raise BrokerError(f"Kafka could not {what}: {exc}") from exc
    finally:
        client.close()


__all__ = ["MECHANISM", "declared_names", "ensure", "list_users", "remove", "upsert"]
