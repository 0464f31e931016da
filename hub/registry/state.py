"""The registry's state, rebuilt from and changed through ``_schemas`` records.

Pure: no Kafka here. The state is a function of the latest record per key,
so replaying a compacted topic gives the same state as replaying the full
log. Changes are planned as records (``plan_*``), written by the store, and
applied with :meth:`RegistryState.apply` once the broker acknowledged them.

Record format (Confluent's, JSON keys and values):

- ``{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}`` ->
  ``{"subject":s,"version":v,"id":n,"schema":text,"deleted":bool}``; a
  tombstone (null value) is a permanent delete of that version;
- ``{"keytype":"CONFIG","subject":s|null,"magic":0}`` -> ``{"compatibilityLevel":L}``;
  a tombstone removes that level;
- ``{"keytype":"DELETE_SUBJECT","subject":s,"magic":0}`` -> ``{"subject":s,"version":v}``
  (read for compatibility with Confluent's topic: versions <= v are soft deleted);
- ``{"keytype":"ID_WATERMARK","magic":0}`` -> ``{"id":n}``: the highest id ever
  issued, written before a permanent delete so that ids stay monotonic after compaction.

Other key types (NOOP, MODE, ...) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from hub.errors import SchemaRegistryError
from hub.registry import codes, compat
from hub.registry.compat import DEFAULT_LEVEL, Level

MAX_VERSION: Final = 2**31 - 1
Latest = Literal["latest"]
LATEST: Final[Latest] = "latest"


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one subject."""

    subject: str
    version: int
    id: int
    schema: str
    deleted: bool = False


@dataclass(frozen=True)
class Record:
    """One record of the ``_schemas`` topic: a JSON key and a JSON value (None = tombstone)."""

    key: dict[str, Any]
    value: dict[str, Any] | None

    def key_bytes(self) -> bytes:
        return json.dumps(self.key, separators=(",", ":"), ensure_ascii=False).encode()

    def value_bytes(self) -> bytes | None:
        if self.value is None:
            return None
        return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False).encode()


def schema_key(subject: str, version: int) -> dict[str, Any]:
    return {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}


def config_key(subject: str | None) -> dict[str, Any]:
    return {"keytype": "CONFIG", "subject": subject, "magic": 0}


WATERMARK_KEY: Final[dict[str, Any]] = {"keytype": "ID_WATERMARK", "magic": 0}


def decode_record(key: bytes | None, value: bytes | None) -> Record:
    """Decode a topic record; raises error 50001 naming what is wrong with it."""
    try:
        key_doc = json.loads(key) if key is not None else None
        value_doc = json.loads(value) if value is not None else None
    except ValueError as exc:
        raise codes.store_error(f"a _schemas record is not JSON: {exc}") from exc
    if not isinstance(key_doc, dict) or "keytype" not in key_doc:
        raise codes.store_error(f"a _schemas record key has no keytype: {key!r}")
    if value_doc is not None and not isinstance(value_doc, dict):
        raise codes.store_error(f"a _schemas record value is not a JSON object: {value!r}")
    return Record(key_doc, value_doc)


def parse_version(value: str | int) -> int | Latest:
    """``"latest"``/``-1`` -> ``"latest"``; 1..2^31-1 -> int; anything else is error 42202."""
    text = str(value).strip()
    if text.lower() == LATEST or text == "-1":
        return LATEST
    try:
        number = int(text)
    except ValueError:
        raise codes.invalid_version(value) from None
    if not 1 <= number <= MAX_VERSION:
        raise codes.invalid_version(value)
    return number


@dataclass(frozen=True)
class RegisterPlan:
    """Outcome of a registration: the id and version, and the records still to write (none if known)."""

    id: int
    version: int
    records: list[Record]


@dataclass(frozen=True)
class DeletePlan:
    versions: list[int]
    records: list[Record]


@dataclass
class RegistryState:
    """Subjects, versions, ids and compatibility levels of one registry."""

    default_level: Level = DEFAULT_LEVEL
    _versions: dict[str, dict[int, SchemaVersion]] = field(default_factory=dict)
    _texts: dict[int, str] = field(default_factory=dict)
    _ids: dict[str, int] = field(default_factory=dict)  # identity of a schema text -> id
    _levels: dict[str | None, Level] = field(default_factory=dict)  # None = global
    _max_id: int = 0

    # --- applying records --------------------------------------------------

    def apply(self, record: Record) -> None:
        """Apply one acknowledged (or replayed) record. Idempotent."""
        keytype = record.key.get("keytype")
        if keytype == "SCHEMA":
            self._apply_schema(record)
        elif keytype == "CONFIG":
            subject = record.key.get("subject")
            if record.value is None:
                self._levels.pop(subject, None)
            else:
                level = str(record.value.get("compatibilityLevel"))
                try:
                    self._levels[subject] = compat.parse_level(level)
                except SchemaRegistryError as exc:
                    raise codes.store_error(f"config record of subject {subject!r}: {exc}") from exc
        elif keytype == "DELETE_SUBJECT" and record.value is not None:
            subject = str(record.key.get("subject"))
            upto = int(record.value.get("version", MAX_VERSION))
            for v, sv in list(self._versions.get(subject, {}).items()):
                if v <= upto:
                    self._versions[subject][v] = replace(sv, deleted=True)
        elif keytype == "ID_WATERMARK" and record.value is not None:
            self._max_id = max(self._max_id, int(record.value["id"]))

    def _apply_schema(self, record: Record) -> None:
        subject = str(record.key["subject"])
        version = int(record.key["version"])
        if record.value is None:
            gone = self._versions.get(subject, {}).pop(version, None)
            if subject in self._versions and not self._versions[subject]:
                del self._versions[subject]
            if gone is not None and not self._id_in_use(gone.id):
                text = self._texts.pop(gone.id, None)
                if text is not None and self._ids.get(compat.identity(text)) == gone.id:
                    del self._ids[compat.identity(text)]
            return
        value = record.value
        sv = SchemaVersion(subject, version, int(value["id"]), str(value["schema"]), bool(value.get("deleted", False)))
        self._versions.setdefault(subject, {})[version] = sv
        self._texts[sv.id] = sv.schema
        self._ids.setdefault(compat.identity(sv.schema), sv.id)
        self._max_id = max(self._max_id, sv.id)

    def _id_in_use(self, schema_id: int) -> bool:
        return any(sv.id == schema_id for versions in self._versions.values() for sv in versions.values())

    # --- reading -----------------------------------------------------------

    @property
    def max_id(self) -> int:
        return self._max_id

    def subjects(self, *, include_deleted: bool = False) -> list[str]:
        return sorted(
            s for s, vs in self._versions.items() if include_deleted or any(not v.deleted for v in vs.values())
        )

    def _subject_versions(self, subject: str, include_deleted: bool) -> list[SchemaVersion]:
        found = [sv for _, sv in sorted(self._versions.get(subject, {}).items()) if include_deleted or not sv.deleted]
        if not found:
            raise codes.subject_not_found(subject)
        return found

    def versions(self, subject: str, *, include_deleted: bool = False) -> list[int]:
        """Version numbers of ``subject``, oldest first; error 40401 if it has none."""
        return [sv.version for sv in self._subject_versions(subject, include_deleted)]

    def live_versions(self, subject: str) -> list[SchemaVersion]:
        """Versions not soft deleted, oldest first (empty for an unknown subject)."""
        return [sv for _, sv in sorted(self._versions.get(subject, {}).items()) if not sv.deleted]

    def get_version(self, subject: str, version: int | Latest, *, include_deleted: bool = False) -> SchemaVersion:
        """One version (or the latest); errors 40401 / 40402."""
        found = self._subject_versions(subject, include_deleted)
        if version == LATEST:
            return found[-1]
        for sv in found:
            if sv.version == version:
                return sv
        raise codes.version_not_found(subject, version)

    def get_schema(self, schema_id: int) -> str:
        """Schema text of an id; error 40403 if unknown."""
        try:
            return self._texts[schema_id]
        except KeyError:
            raise codes.schema_not_found(f"schema {schema_id} not found") from None

    def usages(self, schema_id: int, *, include_deleted: bool = False) -> list[SchemaVersion]:
        """Subject versions that use an id, by subject then version; error 40403 if unknown."""
        self.get_schema(schema_id)
        return [
            sv
            for subject in sorted(self._versions)
            for _, sv in sorted(self._versions[subject].items())
            if sv.id == schema_id and (include_deleted or not sv.deleted)
        ]

    def lookup(self, subject: str, schema: str | Mapping[str, Any]) -> SchemaVersion:
        """The live version of ``subject`` holding this schema; errors 40401 / 40403 / 42201."""
        live = self._subject_versions(subject, include_deleted=False)
        schema_id = self._ids.get(compat.identity(compat.canonical(schema)))
        for sv in reversed(live):
            if sv.id == schema_id:
                return sv
        raise codes.schema_not_found(f"this schema is not registered under subject '{subject}'")

    def global_level(self) -> Level:
        return self._levels.get(None, self.default_level)

    def subject_level(self, subject: str) -> Level | None:
        return self._levels.get(subject)

    def effective_level(self, subject: str) -> Level:
        return self._levels.get(subject) or self.global_level()

    def check(self, subject: str, schema: str | Mapping[str, Any], version: int | Latest | None = None) -> list[str]:
        """Why ``schema`` may not follow ``subject`` under its level; ``[]`` = compatible.

        ``version=None`` compares with every live version the level asks for
        (nothing registered = compatible); ``"latest"`` or a number compares
        with that one version only, as Confluent does (errors 40401 / 40402 if missing).
        """
        text = compat.canonical(schema)
        level = self.effective_level(subject)
        if version is None:
            existing = [sv.schema for sv in self.live_versions(subject)]
        elif version == LATEST:
            existing = [self._subject_versions(subject, include_deleted=False)[-1].schema]
        else:
            existing = [self.get_version(subject, version).schema]
        return compat.check(text, existing, level)

    # --- planning changes --------------------------------------------------

    def plan_register(self, subject: str, schema: str | Mapping[str, Any]) -> RegisterPlan:
        """Register ``schema`` under ``subject``: known schemas return their id and version unchanged.

        Errors: 42201 invalid schema, 409 incompatible under the subject's level.
        """
        text = compat.canonical(schema)
        known_id = self._ids.get(compat.identity(text))
        live = self.live_versions(subject)
        for sv in live:
            if sv.id == known_id:
                return RegisterPlan(sv.id, sv.version, [])
        messages = compat.check(text, [sv.schema for sv in live], self.effective_level(subject))
        if messages:
            raise codes.incompatible(subject, messages)
        schema_id = known_id if known_id is not None else self._max_id + 1
        version = max(self._versions.get(subject, {}), default=0) + 1
        if version > MAX_VERSION:
            raise codes.store_error(f"subject '{subject}' has no version numbers left")
        value = {"subject": subject, "version": version, "id": schema_id, "schema": text, "deleted": False}
        return RegisterPlan(schema_id, version, [Record(schema_key(subject, version), value)])

    def plan_set_level(self, level: str | Level, subject: str | None = None) -> tuple[Level, list[Record]]:
        """Set the global or a subject's compatibility level; error 42203 for an unknown level."""
        parsed = compat.parse_level(level)
        return parsed, [Record(config_key(subject), {"compatibilityLevel": parsed.value})]

    def plan_delete_level(self, subject: str | None = None) -> tuple[Level, list[Record]]:
        """Remove a subject's level (or reset the global one); returns the level that was in force."""
        if subject is None:
            return self.global_level(), [Record(config_key(None), None)]
        current = self._levels.get(subject)
        if current is None:
            raise codes.error(
                codes.SUBJECT_LEVEL_CONFIG_NOT_FOUND,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
        return current, [Record(config_key(subject), None)]

    def plan_delete_subject(self, subject: str, *, permanent: bool = False) -> DeletePlan:
        """Soft delete every live version, or permanently delete a soft-deleted subject."""
        every = self._subject_versions(subject, include_deleted=True)
        live = [sv for sv in every if not sv.deleted]
        if not permanent:
            if not live:
                raise codes.error(
                    codes.SUBJECT_SOFT_DELETED,
                    f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
                )
            return DeletePlan([sv.version for sv in live], [self._soft_delete(sv) for sv in live])
        if live:
            raise codes.error(
                codes.SUBJECT_NOT_SOFT_DELETED,
                f"Subject '{subject}' was not deleted first before being permanently deleted",
            )
        records = [self._watermark(), *(Record(schema_key(subject, sv.version), None) for sv in every)]
        return DeletePlan([sv.version for sv in every], records)

    def plan_delete_version(self, subject: str, version: int | Latest, *, permanent: bool = False) -> DeletePlan:
        """Soft delete one version, or permanently delete a soft-deleted one."""
        if not permanent:
            sv = self.get_version(subject, version)
            return DeletePlan([sv.version], [self._soft_delete(sv)])
        sv = self.get_version(subject, version, include_deleted=True)
        if not sv.deleted:
            raise codes.error(
                codes.VERSION_NOT_SOFT_DELETED,
                f"Subject '{subject}' Version {sv.version} was not deleted first before being permanently deleted",
            )
        return DeletePlan([sv.version], [self._watermark(), Record(schema_key(subject, sv.version), None)])

    def _soft_delete(self, sv: SchemaVersion) -> Record:
        value = {"subject": sv.subject, "version": sv.version, "id": sv.id, "schema": sv.schema, "deleted": True}
        return Record(schema_key(sv.subject, sv.version), value)

    def _watermark(self) -> Record:
        return Record(dict(WATERMARK_KEY), {"id": self._max_id})


__all__ = [
    "LATEST",
    "DeletePlan",
    "Record",
    "RegisterPlan",
    "RegistryState",
    "SchemaVersion",
    "config_key",
    "decode_record",
    "parse_version",
    "schema_key",
]
