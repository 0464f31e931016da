from __future__ import annotations

import re

import pytest

from hub import naming
from hub.catalogue import EVENT_TYPES


def test_raw_topic_follows_architecture_example() -> None:
    assert naming.raw_topic("GD", "shenzhen-nanshan", "CaseOpened") == "raw.gd.shenzhen-nanshan.case-opened"


def test_shared_topic_and_subject() -> None:
    topic = naming.shared_topic("gba", "DonationReceived")
    assert topic == "shared.gba.donation-received"
    assert naming.subject_for(topic) == "shared.gba.donation-received-value"
    assert naming.subject_for(topic, is_key=True) == "shared.gba.donation-received-key"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_slug_round_trips(event_type: str) -> None:
    assert naming.event_type_of(naming.event_slug(event_type)) == event_type


def test_parse_raw_topic_inverts_raw_topic() -> None:
    coords = naming.parse_raw_topic(naming.raw_topic("HK", "hk-sham-shui-po", "VisitMade"))
    assert (coords.region, coords.district, coords.event_type) == ("HK", "hk-sham-shui-po", "VisitMade")


def test_raw_pattern_matches_only_its_region() -> None:
    pat = re.compile(naming.raw_pattern("HK"))
    assert pat.match("raw.hk.hk-wan-chai.case-opened")
    assert not pat.match("raw.gd.shenzhen-nanshan.case-opened")
    assert not pat.match("shared.gba.case-opened")


@pytest.mark.parametrize("bad", ["Shenzhen", "a..b", "-x", "a_b", ""])
def test_bad_district_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="district"):
        naming.raw_topic("GD", bad, "CaseOpened")


def test_parse_rejects_foreign_topics() -> None:
    with pytest.raises(ValueError):
        naming.parse_raw_topic("shared.gba.case-opened")
    with pytest.raises(ValueError):
        naming.parse_shared_topic("raw.gd.x.case-opened")


def test_a_copied_topic_is_named_after_its_source_cluster_as_mirrormaker_2_names_it() -> None:
    assert naming.remote_topic("cn", "shared.gba.case-opened") == "cn.shared.gba.case-opened"
    with pytest.raises(ValueError, match="cluster alias"):
        naming.remote_topic("C N", "shared.gba.case-opened")


def test_split_remote_knows_a_copy_only_by_a_declared_alias() -> None:
    aliases = {"cn", "hk", "mo"}
    assert naming.split_remote("cn.shared.gba.case-opened", aliases) == ("cn", "shared.gba.case-opened")
    assert naming.split_remote("shared.gba.case-opened", aliases) == (None, "shared.gba.case-opened")
    assert naming.split_remote("hub.transfers", aliases) == (None, "hub.transfers")


def test_a_copy_of_a_shared_topic_parses_to_the_same_zone_and_event() -> None:
    local = naming.parse_shared_topic("shared.gba.case-opened")
    assert naming.parse_shared_topic("hk.shared.gba.case-opened") == local
    with pytest.raises(ValueError):
        naming.parse_shared_topic("hk.raw.hk.case-opened")
