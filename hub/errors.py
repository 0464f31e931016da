"""The hub's exception hierarchy: one root, one subclass per phase.

Adapters translate library errors into these at the boundary
(``raise PublishError(...) from exc``) so callers never need to know which
client library sat underneath.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Settings, environment or local tooling are wrong or missing."""


class BrokerError(HubError):
    """The local Kafka broker could not be started, reached or stopped."""


class ValidationError(HubError):
    """An event or a request failed validation at the edge.

    ``errors`` holds one ``(field, message)`` pair per problem so that every
    front end (SDK, HTTP, CLI) can report them the same way.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in self.errors))


class SerializationError(HubError):
    """Bytes could not be encoded or decoded (Avro, wire format)."""


class SchemaRegistryError(HubError):
    """The schema registry refused a request or could not be reached."""

    def __init__(self, message: str, *, error_code: int | None = None, status: int | None = None) -> None:
        self.error_code = error_code
        self.status = status
        super().__init__(message)


class IncompatibleSchemaError(SchemaRegistryError):
    """A schema change would break existing readers or writers."""


class KafkaAuthError(HubError):
    """Kafka refused a login (wrong or missing credentials) or an operation (no ACL allows it).

    Never transient: retrying a refusal only hides it. The message is one line
    naming the principal and, where Kafka says, the resource and the operation.
    """

    def __init__(self, message: str, *, principal: str, resource: str | None = None, operation: str | None = None):
        self.principal = principal
        self.resource = resource
        self.operation = operation
        super().__init__(message)


class PublishError(HubError):
    """An event could not be written to Kafka."""


class PolicyError(HubError):
    """A data-sharing agreement refused or could not be applied."""


class ProjectionError(HubError):
    """An event could not be applied to a read model."""


class TransientError(HubError):
    """A dependency (broker, registry, database) is down or busy for now: the same step may succeed later.

    Adapters raise a subclass of this (often together with their phase's class,
    e.g. ``class StoreUnavailable(ProjectionError, TransientError)``) so that the
    one retry policy (:mod:`hub.retry`) knows what to wait out.
    """


class TransferLogError(HubError):
    """A transfer record (``hub.transfers``) is malformed, or a transfer log could not be signed or read."""


class ReplicationError(HubError):
    """A replication flow cannot go on without an operator: a record it must not copy (not Confluent-framed,
    its schema missing), a target topic that does not match its source, another replicator of the flow.

    Never transient: the flow stops with one line naming the flow and, for a record, its topic, partition and
    offset. An outage is a :class:`TransientError` (or a Kafka error) instead, which the flow waits out.
    """
