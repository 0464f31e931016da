"""Partners, their zones (derived from the agreements) and the topics they may read. Pure: no broker."""

from __future__ import annotations

import dataclasses

import pytest

from consumers.partners import (
    PARTNER_REGIONS,
    Partner,
    check_topic,
    partner,
    partner_topics,
    partners,
    resolve_zones,
    select_topics,
    zone_of,
)
from hub.agreements import Agreement
from hub.catalogue import EVENT_TYPES
from hub.errors import PolicyError
from hub.tokens import PARTNER_IDS
from tests.shared_events import agreements

SHIPPED_ZONES = {
    "hk": ("gba",),
    "mo": ("gba",),
    "gd": ("gba", "mainland"),
    "js": ("mainland",),
    "fj": ("mainland",),
}


def test_the_partners_are_the_partner_token_ids() -> None:
    assert tuple(PARTNER_REGIONS) == PARTNER_IDS
    assert set(partners(agreements())) == set(PARTNER_IDS)


def test_zones_derived_from_the_shipped_agreements() -> None:
    found = {pid: p.zones for pid, p in partners(agreements()).items()}
    assert found == SHIPPED_ZONES


def test_entitlement_follows_the_agreements_not_a_table() -> None:
    pool = dict(agreements())
    hk: Agreement = pool["HK"]
    # HK's agreement stops allowing Macao: every agreement sending into gba must allow MO, so MO loses gba
    pool["HK"] = dataclasses.replace(hk, partners=("GD",))
    derived = partners(pool)
    assert derived["mo"].zones == ()
    assert derived["gd"].zones == ("gba", "mainland")
    with pytest.raises(PolicyError, match="partner mo: the agreements entitle it to no zone"):
        partner("mo", pool)


def test_partner_lookup_is_case_insensitive_and_refuses_unknown_ids() -> None:
    assert partner("HK", agreements()).id == "hk"
    with pytest.raises(PolicyError, match=r"unknown partner 'xx'; expected one of hk, mo, gd, js, fj"):
        partner("xx", agreements())


def test_resolve_zones_defaults_to_every_entitled_zone() -> None:
    gd = partner("gd", agreements())
    assert resolve_zones(gd) == ("gba", "mainland")
    assert resolve_zones(gd, ["MAINLAND", "mainland"]) == ("mainland",)


def test_a_zone_outside_the_entitlement_is_refused_naming_partner_zone_and_entitlement() -> None:
    hk = partner("hk", agreements())
    with pytest.raises(PolicyError) as err:
        resolve_zones(hk, ["mainland"])
    assert str(err.value) == "partner hk may not read zone mainland (shared.mainland.*): hk is entitled to gba only"
    with pytest.raises(PolicyError, match=r"zone 'moon' does not exist .*hk is entitled to gba"):
        resolve_zones(hk, ["moon"])


@pytest.mark.parametrize(
    ("pid", "topic", "expected"),
    [
        ("hk", "shared.gba.case-opened", "CaseOpened"),
        ("mo", "shared.gba.donation-received", "DonationReceived"),
        ("gd", "shared.mainland.visit-made", "VisitMade"),
        ("js", "shared.mainland.project-evaluated", "ProjectEvaluated"),
    ],
)
def test_check_topic_accepts_the_entitled_zones(pid: str, topic: str, expected: str) -> None:
    assert check_topic(partner(pid, agreements()), topic) == expected


@pytest.mark.parametrize(
    ("pid", "topic", "why"),
    [
        ("hk", "shared.mainland.case-opened", "zone mainland is outside the zones hk is entitled to (gba)"),
        ("fj", "shared.gba.case-opened", "zone gba is outside the zones fj is entitled to (mainland)"),
        ("hk", "raw.hk.hk-sham-shui-po.case-opened", "only shared.<zone>.<event> topics"),
        ("hk", "hub.audit", "only shared.<zone>.<event> topics"),
    ],
)
def test_check_topic_refuses_names_partner_topic_and_zones(pid: str, topic: str, why: str) -> None:
    with pytest.raises(PolicyError) as err:
        check_topic(partner(pid, agreements()), topic)
    message = str(err.value)
    assert message.startswith(f"partner {pid} may not read topic {topic}")
    assert why in message


def test_check_topic_within_a_narrower_selection() -> None:
    gd = partner("gd", agreements())
    with pytest.raises(PolicyError, match="outside the zones selected for this subscription \\(mainland\\)"):
        check_topic(gd, "shared.gba.case-opened", ["mainland"])


def test_partner_topics_cover_every_event_type_of_each_zone() -> None:
    hk = partner("hk", agreements())
    assert partner_topics(hk) == sorted(f"shared.gba.{slug}" for slug in _slugs())
    gd = partner("gd", agreements())
    assert len(partner_topics(gd)) == 2 * len(EVENT_TYPES)
    with pytest.raises(PolicyError):
        partner_topics(hk, ["mainland"])


def _slugs() -> list[str]:
    from hub.naming import event_slug

    return [event_slug(t) for t in EVENT_TYPES]


def test_select_topics_keeps_only_the_partners_shared_topics() -> None:
    available = {
        "shared.gba.case-opened",
        "shared.gba.visit-made",
        "shared.gba.brand-new-event",
        "shared.mainland.case-opened",
        "raw.hk.hk-sham-shui-po.case-opened",
        "hub.dlq",
        "_schemas",
        "shared.gba",
    }
    hk = partner("hk", agreements())
    assert select_topics(hk, available) == [
        "shared.gba.brand-new-event",
        "shared.gba.case-opened",
        "shared.gba.visit-made",
    ]
    pinned = select_topics(hk, available, event_types=EVENT_TYPES)
    assert pinned == ["shared.gba.case-opened", "shared.gba.visit-made"]
    gd = partner("gd", agreements())
    assert select_topics(gd, available, zones=["mainland"]) == ["shared.mainland.case-opened"]


def test_select_topics_with_explicit_topics() -> None:
    hk = partner("hk", agreements())
    assert select_topics(hk, (), topics=["shared.gba.visit-made"]) == ["shared.gba.visit-made"]
    with pytest.raises(PolicyError, match=r"partner hk may not read topic shared\.mainland\.visit-made"):
        select_topics(hk, (), topics=["shared.gba.visit-made", "shared.mainland.visit-made"])
    with pytest.raises(PolicyError, match=r"no pinned reader schema for topic shared\.gba\.brand-new-event"):
        select_topics(hk, (), topics=["shared.gba.brand-new-event"], event_types=EVENT_TYPES)


def test_zone_of() -> None:
    assert zone_of("shared.mainland.case-closed") == "mainland"
    p = Partner("x", "X", ())
    assert p.describe_zones() == "no zone"
