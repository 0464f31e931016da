"""The pseudonym construction and the generalisers (hub.agreements.transforms)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from hub.agreements.transforms import age_band, pseudonym
from tests.agreement_cases import KEY


def test_pseudonym_follows_the_documented_construction() -> None:
    def part(text: str) -> bytes:
        data = text.encode("utf-8")
        return len(data).to_bytes(4, "big") + data

    message = b"".join(part(p) for p in ("hub-pseudonym-v1", "case", "shenzhen-nanshan", "NS-2026-000123"))
    expected = hmac.new(KEY, message, hashlib.sha256).hexdigest()
    assert pseudonym(KEY, "case", "shenzhen-nanshan", "NS-2026-000123") == expected
    assert len(expected) == 64


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0-17"),
        (17, "0-17"),
        (18, "18-59"),
        (59, "18-59"),
        (60, "60-69"),
        (69, "60-69"),
        (70, "70-79"),
        (79, "70-79"),
        (80, "80+"),
        (120, "80+"),
        (121, "UNKNOWN"),
        (-1, "UNKNOWN"),
    ],
)
def test_age_band_boundaries(age: int, band: str) -> None:
    on = date(2026, 6, 30)
    assert age_band(on.year - age, on) == band


def test_age_band_of_unknown_birth_year() -> None:
    assert age_band(None, date(2026, 1, 1)) == "UNKNOWN"
