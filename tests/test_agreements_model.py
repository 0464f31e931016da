"""The compiled agreement: which partner regions and zones it lets read (hub.agreements.model)."""

from __future__ import annotations

import pytest

from hub.agreements.model import Agreement, allows_partner, entitled_zones
from tests.agreement_cases import shipped_agreements


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
    return shipped_agreements()


def test_partner_entitlements(shipped: dict[str, Agreement]) -> None:
    assert not allows_partner(shipped["HK"], "JS")
    assert allows_partner(shipped["HK"], "GD") and allows_partner(shipped["HK"], "HK")
    assert not allows_partner(shipped["JS"], "MO")
    pool = list(shipped.values())
    assert entitled_zones(pool, "HK") == ("gba",)
    assert entitled_zones(pool, "MO") == ("gba",)
    assert entitled_zones(pool, "JS") == ("mainland",)
    assert entitled_zones(pool, "GD") == ("gba", "mainland")
