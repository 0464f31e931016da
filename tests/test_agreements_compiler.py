"""Checking an agreement file against regions, zones and the Avro schemas (hub.agreements.compiler)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.agreement_cases import SHIPPED, gd_doc, load_error


def test_unknown_event_type_is_named(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseReopened"] = copy.deepcopy(doc["events"]["CaseClosed"])
    message = load_error(tmp_path, doc)
    assert "event CaseReopened" in message and "unknown event type" in message


def test_rule_naming_a_field_the_raw_schema_lacks(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseOpened"]["drop"].append("client_nickname")
    message = load_error(tmp_path, doc)
    assert "event CaseOpened: field client_nickname" in message and "raw CaseOpened schema lacks" in message


def test_keeping_pii_fails_because_the_shared_schema_lacks_it(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseOpened"]["drop"].remove("client_phone")
    doc["events"]["CaseOpened"]["keep"].append("client_phone")
    message = load_error(tmp_path, doc)
    assert "event CaseOpened: field client_phone" in message and "shared CaseOpened schema" in message


def test_pseudonymise_target_the_shared_schema_lacks(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["VisitMade"]["pseudonymise"]["case_id"] = "case_reference"
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field case_id" in message and "'case_reference'" in message


def test_field_named_by_two_rules(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["VisitMade"]["keep"].append("notes")
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field notes" in message and "by keep and drop" in message


def test_zone_that_does_not_exist(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["zones"] = ["gba", "asean"]
    assert "zones: 'asean' is not a zone" in load_error(tmp_path, doc)


def test_region_that_does_not_exist(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["source_region"] = "TW"
    assert "source_region: 'TW' is not a region" in load_error(tmp_path, doc)


@pytest.mark.parametrize("region", ["HK", "MO"])
def test_hk_and_mo_may_not_allow_mainland(tmp_path: Path, region: str) -> None:
    doc = yaml.safe_load((SHIPPED / f"{region.lower()}.yaml").read_text(encoding="utf-8"))
    doc["zones"] = ["gba", "mainland"]
    message = load_error(tmp_path, doc)
    assert f"a {region} agreement may allow only gba" in message and "onward transfer" in message


def test_region_outside_a_zone_and_partner_outside_the_zones(tmp_path: Path) -> None:
    doc = yaml.safe_load((SHIPPED / "js.yaml").read_text(encoding="utf-8"))
    doc["zones"] = ["gba"]
    doc["partners"] = ["GD"]
    assert "zones: JS is not a member of zone 'gba'" in load_error(tmp_path, doc)
    doc["zones"] = ["mainland"]
    doc["partners"] = ["HK"]
    assert "partners: HK is outside the agreement's zones" in load_error(tmp_path, doc)


def test_key_variable_must_follow_the_rule(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["key"] = "GD_SECRET"
    assert "must be HUB_AGREEMENT_KEY_GD_EXCHANGE" in load_error(tmp_path, doc)


def test_aggregate_key_must_cross_and_envelope_must_be_kept(tmp_path: Path) -> None:
    doc = gd_doc()
    rules = doc["events"]["VisitMade"]
    del rules["pseudonymise"]["case_id"]
    rules["drop"].append("case_id")
    rules["keep"].remove("event_id")
    message = load_error(tmp_path, doc)
    assert "event VisitMade: field case_id: the aggregate id" in message
    assert "event VisitMade: field event_id: envelope field must be kept" in message
    assert "event VisitMade: field case_ref: shared field is written by no rule" in message


def test_keep_if_condition_is_checked(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["DonationReceived"]["keep_if"]["donor_name"] = {"field": "donor_type", "not_in": ["PERSON"]}
    assert "event DonationReceived: field donor_name" in load_error(tmp_path, doc)
    doc["events"]["DonationReceived"]["keep_if"]["donor_name"] = {"field": "donor_kind", "not_in": ["INDIVIDUAL"]}
    assert "'donor_kind'" in load_error(tmp_path, doc)
