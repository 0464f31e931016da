from __future__ import annotations

from hub.orgunits import org_units
from hub.zones import zones_for


def test_zone_membership_follows_the_architecture() -> None:
    units = org_units()
    assert zones_for(units.districts["shenzhen-nanshan"]) == ("gba", "mainland")
    assert zones_for(units.districts["hk-sham-shui-po"]) == ("gba",)
    assert zones_for(units.districts["mo-sao-lourenco"]) == ("gba",)
    assert zones_for(units.districts["yancheng-tinghu"]) == ("mainland",)
    assert zones_for(units.districts["jinjiang"]) == ("mainland",)


def test_every_district_has_a_zone_and_hk_mo_never_go_to_mainland() -> None:
    for d in org_units().districts.values():
        zones = zones_for(d)
        assert zones, d.code
        if d.region in ("HK", "MO"):
            assert "mainland" not in zones


def test_shipped_org_units_match_the_shared_copy() -> None:
    import json
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "org-units.json"
    if shared.is_file():  # the checkout sits beside shared/ in this workplace and in CI
        shipped = Path(__file__).resolve().parents[1] / "hub" / "data" / "org-units.json"
        assert json.loads(shipped.read_text()) == json.loads(shared.read_text())
