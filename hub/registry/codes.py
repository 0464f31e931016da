"""Confluent Schema Registry error codes and the hub errors that carry them.

Pure. Every refusal of the registry is a :class:`~hub.errors.SchemaRegistryError`
whose ``error_code`` and ``status`` are what the REST API answers, so the
server renders errors without knowing where they came from.
"""

from __future__ import annotations

from typing import Final

from hub.errors import IncompatibleSchemaError, SchemaRegistryError

BAD_REQUEST: Final = 400
SUBJECT_NOT_FOUND: Final = 40401
VERSION_NOT_FOUND: Final = 40402
SCHEMA_NOT_FOUND: Final = 40403
SUBJECT_SOFT_DELETED: Final = 40404
SUBJECT_NOT_SOFT_DELETED: Final = 40405
VERSION_SOFT_DELETED: Final = 40406
VERSION_NOT_SOFT_DELETED: Final = 40407
SUBJECT_LEVEL_CONFIG_NOT_FOUND: Final = 40408
INCOMPATIBLE: Final = 409
UNPROCESSABLE: Final = 422
INVALID_SCHEMA: Final = 42201
INVALID_VERSION: Final = 42202
INVALID_COMPATIBILITY_LEVEL: Final = 42203
STORE_ERROR: Final = 50001


def status_of(error_code: int) -> int:
    """HTTP status of a Confluent error code: its first three digits."""
    return error_code if error_code < 1000 else int(str(error_code)[:3])


def error(error_code: int, message: str) -> SchemaRegistryError:
    """A registry error with its Confluent code and HTTP status."""
    return SchemaRegistryError(message, error_code=error_code, status=status_of(error_code))


def subject_not_found(subject: str) -> SchemaRegistryError:
    return error(SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: int | str) -> SchemaRegistryError:
    return error(VERSION_NOT_FOUND, f"Version {version} not found for subject '{subject}'.")


def schema_not_found(detail: str = "") -> SchemaRegistryError:
    return error(SCHEMA_NOT_FOUND, f"Schema not found{': ' + detail if detail else ''}.")


def invalid_schema(detail: str) -> SchemaRegistryError:
    return error(INVALID_SCHEMA, f"Invalid schema: {detail}")


def invalid_version(version: object) -> SchemaRegistryError:
    return error(
        INVALID_VERSION,
        f"The specified version '{version}' is not a valid version id. "
        'Allowed values are between [1, 2^31-1] and the string "latest".',
    )


def incompatible(subject: str, messages: list[str]) -> IncompatibleSchemaError:
    detail = "; ".join(messages)
    return IncompatibleSchemaError(
        f"Schema being registered is incompatible with an earlier schema for subject '{subject}': {detail}",
        error_code=INCOMPATIBLE,
        status=INCOMPATIBLE,
    )


def store_error(detail: str) -> SchemaRegistryError:
    return error(STORE_ERROR, f"Error in the backend data store: {detail}")
