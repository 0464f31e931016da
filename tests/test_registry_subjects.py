"""Which subjects hold which catalogue schema."""

from __future__ import annotations

import pytest

from hub.errors import ValidationError
from hub.orgunits import org_units
from hub.registry.subjects import CatalogueSubject, catalogue_subjects
from hub.zones import zones_for


def test_every_district_gets_raw_subjects_and_every_zone_shared_ones() -> None:
    units = org_units()
    found = catalogue_subjects(units, ["CaseOpened", "VisitMade"], ["CaseOpened"])
    assert len(found) == len(units.districts) * 2 + 2
    assert CatalogueSubject("raw.gd.shenzhen-nanshan.case-opened-value", "raw", "CaseOpened") in found
    assert CatalogueSubject("shared.gba.case-opened-value", "shared", "CaseOpened") in found
    assert CatalogueSubject("shared.mainland.case-opened-value", "shared", "CaseOpened") in found
    assert [s.subject for s in found] == sorted(s.subject for s in found)


def test_a_zone_selects_its_shared_subjects_and_the_districts_that_feed_it() -> None:
    units = org_units()
    found = catalogue_subjects(units, ["CaseOpened"], ["CaseOpened"], ["gba"])
    feeding = [d for d in units.districts.values() if "gba" in zones_for(d)]
    assert {s.subject for s in found if s.form == "shared"} == {"shared.gba.case-opened-value"}
    assert len([s for s in found if s.form == "raw"]) == len(feeding)
    assert not any(s.subject.startswith(("raw.js.", "raw.fj.")) for s in found)
    assert any(s.subject.startswith("raw.hk.") for s in found)


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        catalogue_subjects(org_units(), ["CaseOpened"], [], ["atlantis"])
    assert info.value.errors == [("zone", "unknown zone 'atlantis'; expected one of gba, mainland")]
