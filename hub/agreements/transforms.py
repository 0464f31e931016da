"""What a rule does to one value: the keyed pseudonym and the named generalisers (the age band).

Pure. :func:`pseudonym` is the HMAC construction every ``*_ref`` field of the
shared topics is made with; :data:`GENERALISERS` maps a ``generalise`` rule
name to its function and the Avro types it reads and writes (the compiler
checks a rule against them, the crossing calls the function).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

PSEUDONYM_DOMAIN: Final = b"hub-pseudonym-v1"
"""First part of every pseudonym message; a new construction gets a new domain."""
MAX_AGE: Final = 120
"""Ages above this are implausible and band as ``UNKNOWN``."""

PseudonymFn = Callable[[bytes, str, str, str], str]
"""``(key, kind, district, value) -> pseudonym``; :func:`pseudonym` is the default."""


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


def pseudonym(key: bytes, kind: str, district: str, value: str) -> str:
    """Pseudonym of an identifier: lowercase hex HMAC-SHA256 (64 characters).

    Message: ``PSEUDONYM_DOMAIN``, ``kind``, ``district``, ``value``, each UTF-8 encoded and
    prefixed by its length as 4 bytes big-endian, concatenated. Unambiguous for any
    values. ``kind`` names the identifier space (``case``, ``worker``...), so the
    same case id gives the same ``case_ref`` in every event type; ids are
    district-scoped, hence the district.
    """
    mac = _keyed(key, kind, district).copy()
    mac.update(_length_prefixed(value.encode("utf-8")))
    return mac.hexdigest()


@lru_cache(maxsize=4096)
def _keyed(key: bytes, kind: str, district: str) -> hmac.HMAC:
    """The HMAC of ``key`` fed with the message's fixed first parts (domain, kind, district).

    Each pseudonym copies it and adds its value: HMAC is a stream, so the digest is that of the whole
    message, and the key schedule and the common prefix are computed once per (key, kind, district),
    not per value. The cached object is never updated itself, only copied.
    """
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(
        b"".join(_length_prefixed(p) for p in (PSEUDONYM_DOMAIN, kind.encode("utf-8"), district.encode("utf-8")))
    )
    return mac


def age_band(birth_year: int | None, on: date) -> str:
    """Age band of someone born in ``birth_year``, as of the calendar year of ``on``.

    Age is ``on.year - birth_year`` (the age reached during that year). Bands,
    inclusive: ``0-17``, ``18-59``, ``60-69``, ``70-79``, ``80+`` (80..MAX_AGE).
    ``None``, a non-int, a birth after ``on`` or an age above ``MAX_AGE`` give ``UNKNOWN``.
    Only the year of ``on`` counts (see :mod:`hub.reporting_time` for why that year is exact).
    """
    if birth_year is None or isinstance(birth_year, bool) or not isinstance(birth_year, int):
        return "UNKNOWN"
    age = on.year - birth_year
    if age < 0 or age > MAX_AGE:
        return "UNKNOWN"
    if age <= 17:
        return "0-17"
    if age <= 59:
        return "18-59"
    if age <= 69:
        return "60-69"
    if age <= 79:
        return "70-79"
    return "80+"


Generaliser = Callable[[Any, date], Any]


@dataclass(frozen=True)
class GeneraliserSpec:
    """A named generalisation: the function, and the Avro types it reads and writes."""

    fn: Generaliser
    source_types: tuple[str, ...]
    target_type: str


#: Rule name -> generaliser. ``fn(value, local_date_of_occurred_at)``.
GENERALISERS: Final[Mapping[str, GeneraliserSpec]] = MappingProxyType(
    {"age_band": GeneraliserSpec(fn=age_band, source_types=("int",), target_type="string")}
)


__all__ = [
    "GENERALISERS",
    "MAX_AGE",
    "PSEUDONYM_DOMAIN",
    "Generaliser",
    "GeneraliserSpec",
    "PseudonymFn",
    "age_band",
    "pseudonym",
]
