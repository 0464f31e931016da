"""The agreement file as written (``agreements/<region>.yaml``, format in ``docs/agreements.md``): pydantic models.

Only the shape is checked here (known keys, types, ``version`` an integer from
1 to 2**31-1, at least one zone and one event); what the values mean (regions, zones, schemas, one rule
per field) is checked by :mod:`hub.agreements.compiler`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConditionFile(BaseModel):
    """``keep_if`` condition: keep the field only when ``field``'s value is (not) in a list."""

    model_config = _STRICT
    field: str
    in_: tuple[str, ...] | None = Field(None, alias="in")
    not_in: tuple[str, ...] | None = None


class PseudonymiseFile(BaseModel):
    """Long form of a pseudonymise rule; the short form is just the target name."""

    model_config = _STRICT
    to: str
    kind: str | None = None


class GeneraliseFile(BaseModel):
    model_config = _STRICT
    to: str
    rule: str


class EventRulesFile(BaseModel):
    """Rules of one event type, as written in the file."""

    model_config = _STRICT
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    pseudonymise: dict[str, str | PseudonymiseFile] = Field(default_factory=dict)
    generalise: dict[str, GeneraliseFile] = Field(default_factory=dict)
    keep_if: dict[str, ConditionFile] = Field(default_factory=dict)


class AgreementFile(BaseModel):
    """One agreement file, as written (see docs/agreements.md)."""

    model_config = _STRICT
    id: str
    # strict: YAML's `true` and `1.0` are not versions; at most an Avro int (CrossingAudited.agreement_version)
    version: int = Field(ge=1, le=2**31 - 1, strict=True)
    source_region: str
    title: str = ""
    zones: tuple[str, ...] = Field(min_length=1)
    key: str
    partners: tuple[str, ...] | None = None
    events: dict[str, EventRulesFile] = Field(min_length=1)


__all__ = ["AgreementFile", "ConditionFile", "EventRulesFile", "GeneraliseFile", "PseudonymiseFile"]
