"""Data-sharing agreements and the crossing of one event from a raw to a shared topic.

An agreement is a declarative YAML file (``agreements/<region>.yaml``, format in
``docs/agreements.md``) naming, per event type, what happens to each raw field:
keep, drop, pseudonymise (keyed HMAC-SHA256 into a ``*_ref`` field), generalise
(e.g. birth year into an age band) or keep only under a condition. Deny by
default: a raw field no rule names is dropped, never copied.

One module per concept:

- :mod:`~hub.agreements.model`: the compiled :class:`Agreement` (per event type an
  :class:`EventPlan`, one :class:`FieldRule` per field) and which partners and zones it lets read;
- :mod:`~hub.agreements.file_schema`: the file as written (pydantic models);
- :mod:`~hub.agreements.compiler`: checking a file against regions, zones and the Avro schemas;
- :mod:`~hub.agreements.loading`: YAML text, files and directories; :mod:`~hub.agreements.problems`
  names every fault (:class:`Problem`, :class:`AgreementError`);
- :mod:`~hub.agreements.transforms`: the pseudonym and the generalisers (age band);
- :mod:`~hub.agreements.crossing`: :func:`apply`, the pure crossing of one record, and its :class:`Crossing`;
- :mod:`~hub.agreements.audit`: the ``hub.audit`` record of a crossing;
- :mod:`~hub.agreements.keys`: the HMAC keys (variable names, environment, secrets file).

Pure: no Kafka, no HTTP, no SQL. Loading reads agreement files and keys read the
environment or the secrets file; everything else works on values. This package
re-exports the names the rest of the hub imports from ``hub.agreements``.
"""

from __future__ import annotations

from hub.agreements.audit import SourceCoordinates, audit_schema, build_audit
from hub.agreements.crossing import Crossing, apply
from hub.agreements.keys import MIN_KEY_BYTES, key_variable
from hub.agreements.loading import (
    agreements_dir,
    default_agreements_dir,
    load_agreement,
    load_agreements,
    parse_agreement,
)
from hub.agreements.model import Agreement, EventPlan, FieldRule, allows_partner, entitled_zones
from hub.agreements.problems import AgreementError, Problem
from hub.agreements.transforms import age_band, pseudonym

__all__ = [
    "MIN_KEY_BYTES",
    "Agreement",
    "AgreementError",
    "Crossing",
    "EventPlan",
    "FieldRule",
    "Problem",
    "SourceCoordinates",
    "age_band",
    "agreements_dir",
    "allows_partner",
    "apply",
    "audit_schema",
    "build_audit",
    "default_agreements_dir",
    "entitled_zones",
    "key_variable",
    "load_agreement",
    "load_agreements",
    "parse_agreement",
    "pseudonym",
]
