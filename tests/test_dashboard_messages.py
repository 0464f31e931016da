"""The dashboard's message catalogue (``projections/dashboard/messages.json``) is complete and consistent.

Pure: no I/O but reading that one file; the indicator catalogue, the org units and the zones are
in-process data. Checked here: every indicator of :data:`projections.indicators.INDICATORS` has a
label and a description, every unit of an indicator has a text, every zone, region and district has
a place name; every entry of every section has exactly ``en``, ``zh-Hans`` and ``zh-Hant``, all
non-empty, with the same placeholders (names and counts) in each. Texts for indicators the catalogue
does not (yet) have are allowed: only the catalogue-to-messages direction is asserted.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hub.orgunits import org_units
from hub.zones import ZONES
from projections.indicators import INDICATORS

MESSAGES = Path(__file__).resolve().parents[1] / "projections" / "dashboard" / "messages.json"
LANGUAGES = frozenset({"en", "zh-Hans", "zh-Hant"})
SECTIONS = ("ui", "indicators", "descriptions", "units", "places", "values")
ENUM_VALUES = (
    *("ENTERPRISE", "MERCHANT", "INDIVIDUAL", "CHARITY_FEDERATION", "FOUNDATION", "GOVERNMENT", "OTHER"),
    *("EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL"),
)


@cache
def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(MESSAGES.read_text(encoding="utf-8"))
    return doc


def _fields(text: str) -> Counter[str]:
    return Counter(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def _missing(section: str, keys: list[str]) -> list[str]:
    return [k for k in keys if k not in _doc()[section]]


def test_the_file_has_the_languages_and_every_section() -> None:
    doc = _doc()
    assert set(doc) == {"languages", *SECTIONS}
    assert doc["languages"] == {
        "en": {"name": "English", "locale": "en-GB"},
        "zh-Hans": {"name": "简体中文", "locale": "zh-CN"},
        "zh-Hant": {"name": "繁體中文", "locale": "zh-HK"},
    }


@pytest.mark.parametrize("section", SECTIONS)
def test_every_entry_has_exactly_the_three_languages_non_empty(section: str) -> None:
    bad = [
        key
        for key, texts in _doc()[section].items()
        if not isinstance(texts, dict)
        or set(texts) != LANGUAGES
        or not all(isinstance(t, str) and t.strip() for t in texts.values())
    ]
    assert bad == []


@pytest.mark.parametrize("section", SECTIONS)
def test_placeholders_are_the_same_in_every_language(section: str) -> None:
    bad = {
        key: {lang: dict(_fields(t)) for lang, t in texts.items()}
        for key, texts in _doc()[section].items()
        if len({tuple(sorted(_fields(t).items())) for t in texts.values()}) != 1
    }
    assert bad == {}


@pytest.mark.parametrize("section", ["indicators", "descriptions"])
def test_every_catalogue_indicator_has_a_text(section: str) -> None:
    assert _missing(section, [i.name for i in INDICATORS]) == []


def test_every_unit_of_an_indicator_has_a_text() -> None:
    assert _missing("units", sorted({i.unit for i in INDICATORS})) == []


def test_every_zone_region_and_district_has_a_place_name() -> None:
    units = org_units()
    assert _missing("places", [*ZONES, *units.regions, *units.districts]) == []


def test_the_ui_has_the_keys_the_page_cannot_do_without() -> None:
    keys = ["login.failed", "suppression.primary", "freshness.behind", "downloads.csv", "downloads.xlsx"]
    assert _missing("ui", keys) == []
    assert _fields(_doc()["ui"]["suppression.primary"]["en"]) == Counter({"threshold": 1})


def test_the_suppression_marks_are_kept_literally() -> None:
    ui = _doc()["ui"]
    for key, mark in (("suppression.primary", "<5"), ("suppression.complementary", "x"), ("suppression.marked", "<5")):
        assert all(mark in text for text in ui[key].values()), key


def test_every_donor_type_and_evaluation_outcome_has_a_text() -> None:
    assert _missing("values", list(ENUM_VALUES)) == []


def test_keys_are_sorted_within_each_section() -> None:
    for section in SECTIONS:
        keys = list(_doc()[section])
        assert keys == sorted(keys), section
