"""The principal names of the design contract and the set a deployment declares."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub import principals as p
from hub.agreements import Agreement, default_agreements_dir, load_agreements
from hub.errors import ConfigError
from hub.orgunits import OrgUnits, org_units, parse_org_units


@pytest.fixture(scope="module")
def agreements() -> dict[str, Agreement]:
    return load_agreements(default_agreements_dir())


def test_names_follow_the_contract() -> None:
    assert p.district_principal("GD", "shenzhen-nanshan") == "district.gd.shenzhen-nanshan"
    assert p.gateway_principal(["MO", "HK", "GD", "JS", "FJ"]) == "gateway.fj-gd-hk-js-mo"
    assert p.gateway_principal(["js", "GD", "FJ"]) == "gateway.fj-gd-js"
    assert p.projection_principal(["mainland", "gba"]) == "projection.gba-mainland"
    assert p.partner_principal("HK") == "partner.hk"
    assert p.partner_group_prefix("hk") == "partner.hk."
    assert p.kafka_principal("partner.hk") == "User:partner.hk"
    assert (p.ADMIN, p.CONTROLLER, p.BROKER, p.REGISTRY, p.INGEST) == (
        "admin",
        "controller",
        "broker",
        "registry",
        "ingest",
    )


def test_group_ids_keep_the_workers_names() -> None:
    assert p.gateway_group_id(["HK", "GD"]) == p.gateway_group_id(["GD", "HK"]) == "hub-gateway-gd-hk"
    assert p.projection_group_id("read_models", ("mainland", "gba")) == "hub-projection-read-models-gba-mainland"
    assert p.projection_group_id("read_models", ["gba"]).startswith(p.PROJECTION_GROUP_PREFIX)


@pytest.mark.parametrize("empty", [[], [""], ["  "]])
def test_an_empty_region_or_zone_set_has_no_name(empty: list[str]) -> None:
    with pytest.raises(ValueError, match="at least one"):
        p.gateway_principal(empty)
    with pytest.raises(ValueError, match="at least one"):
        p.projection_principal(empty)


def test_a_principal_name_with_a_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="no ':'"):
        p.kafka_principal("User:admin")


def test_gateways_one_per_jurisdiction_plus_all_regions() -> None:
    assert p.gateway_region_sets(org_units()) == (
        ("FJ", "GD", "HK", "JS", "MO"),
        ("FJ", "GD", "JS"),
        ("HK",),
        ("MO",),
    )


def test_a_region_without_jurisdiction_is_a_config_error() -> None:
    units = OrgUnits(regions={"GD": {"jurisdiction": "mainland"}, "XX": {}}, districts={})
    with pytest.raises(ConfigError, match="region XX has no 'jurisdiction'"):
        p.gateway_region_sets(units)


def test_gateway_zones_are_where_its_regions_events_may_go(agreements: dict[str, Agreement]) -> None:
    units = org_units()
    assert p.gateway_zones(units, agreements, ["HK"]) == ("gba",)
    assert p.gateway_zones(units, agreements, ["MO"]) == ("gba",)
    assert p.gateway_zones(units, agreements, ["JS", "FJ"]) == ("mainland",)
    assert p.gateway_zones(units, agreements, ["GD"]) == ("gba", "mainland")
    assert p.gateway_zones(units, agreements.values(), ["fj", "gd", "hk", "js", "mo"]) == ("gba", "mainland")
    # Without its agreement a region's events go nowhere; without in-GBA districts GD's go to mainland only.
    assert p.gateway_zones(units, [a for r, a in agreements.items() if r != "HK"], ["HK"]) == ()
    outside_gba = OrgUnits(units.regions, {c: replace(d, in_gba=False) for c, d in units.districts.items()})
    assert p.gateway_zones(outside_gba, agreements, ["GD"]) == ("mainland",)


def test_projection_zone_sets_are_every_non_empty_subset() -> None:
    assert p.projection_zone_sets() == (("gba",), ("gba", "mainland"), ("mainland",))
    assert len(p.projection_zone_sets(["a", "b", "c"])) == 7


def test_declared_principals_of_the_shipped_declarations(agreements: dict[str, Agreement]) -> None:
    declared = p.declared_principals(org_units(), agreements)
    names = [x.name for x in declared]
    assert len(names) == len(set(names))
    by_kind = {kind: [x.name for x in declared if x.kind is kind] for kind in p.Kind}
    assert len(by_kind[p.Kind.DISTRICT]) == len(org_units().districts)
    assert "district.hk.hk-sham-shui-po" in by_kind[p.Kind.DISTRICT]
    assert by_kind[p.Kind.INGEST] == ["ingest"]
    assert by_kind[p.Kind.GATEWAY] == ["gateway.fj-gd-hk-js-mo", "gateway.fj-gd-js", "gateway.hk", "gateway.mo"]
    assert by_kind[p.Kind.PROJECTION] == ["projection.gba", "projection.gba-mainland", "projection.mainland"]
    assert by_kind[p.Kind.PARTNER] == ["partner.fj", "partner.gd", "partner.hk", "partner.js", "partner.mo"]
    assert by_kind[p.Kind.REGISTRY] == ["registry"]
    assert not set(names) & set(p.SUPER_USERS)
    assert [x.kind for x in declared] == sorted((x.kind for x in declared), key=p.KIND_ORDER.__getitem__)


def test_partner_zones_come_from_the_agreements(agreements: dict[str, Agreement]) -> None:
    zones = {x.partner: x.zones for x in p.declared_principals(org_units(), agreements) if x.kind is p.Kind.PARTNER}
    gba, mainland = ("gba",), ("mainland",)
    assert zones == {"hk": gba, "mo": gba, "gd": ("gba", "mainland"), "js": mainland, "fj": mainland}
    # Without the mainland agreements nothing is sent to mainland, so no partner is entitled to it.
    only_gba = {r: a for r, a in agreements.items() if "mainland" not in a.zones}
    partners = [x for x in p.declared_principals(org_units(), only_gba) if x.kind is p.Kind.PARTNER]
    assert all("mainland" not in x.zones for x in partners)


def test_declaration_is_independent_of_the_order_of_the_units(agreements: dict[str, Agreement]) -> None:
    units = org_units()
    reversed_units = parse_org_units(
        {
            "regions": dict(reversed(units.regions.items())),
            "districts": [
                {"code": d.code, "region": d.region, "city": d.city, "in_gba": d.in_gba, "name_en": d.name_en}
                for d in reversed(units.districts.values())
            ],
        }
    )
    assert p.declared_principals(reversed_units, reversed(list(agreements.values()))) == p.declared_principals(
        units, agreements
    )
