"""Reading agreements: YAML text, files, directories and the shipped agreements (hub.agreements.loading)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.agreements.keys import key_variable
from hub.agreements.loading import load_agreement, load_agreements, parse_agreement
from hub.agreements.model import Agreement
from hub.agreements.problems import AgreementError
from hub.catalogue import EVENT_TYPES
from tests.agreement_cases import SHIPPED, gd_doc, load_error, shipped_agreements, write


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
    return shipped_agreements()


def test_field_named_twice_in_one_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "gd.yaml"
    text = (SHIPPED / "gd.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("{case_id: case_ref, worker_id: worker_ref}", "{case_id: case_ref, case_id: x_ref}"))
    with pytest.raises(AgreementError, match=r"gd\.yaml: line \d+: .*'case_id' appears twice"):
        load_agreement(path)


def test_two_agreements_for_one_region(tmp_path: Path) -> None:
    write(tmp_path, gd_doc(), "gd.yaml")
    second = gd_doc()
    second["id"] = "gd-exchange-b"
    second["key"] = key_variable("gd-exchange-b")
    write(tmp_path, second, "gd-b.yaml")
    with pytest.raises(AgreementError) as info:
        load_agreements(tmp_path)
    message = str(info.value)
    assert "gd.yaml" in message and "gd-b.yaml" in message and "second agreement for region GD" in message


def test_unknown_keys_and_wrong_types_are_named(tmp_path: Path) -> None:
    doc = gd_doc()
    doc["events"]["CaseClosed"]["keeep"] = ["outcome"]
    doc["version"] = "one"
    message = load_error(tmp_path, doc)
    assert "event CaseClosed: field keeep" in message and "version" in message


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="no agreement files"):
        load_agreements(tmp_path)
    with pytest.raises(AgreementError, match="does not exist"):
        load_agreements(tmp_path / "nope")


def test_every_shipped_agreement_loads_and_covers_every_event(shipped: dict[str, Agreement]) -> None:
    assert set(shipped) == {"GD", "HK", "MO", "JS", "FJ"}
    expected_zones = {
        "GD": ("gba", "mainland"),
        "HK": ("gba",),
        "MO": ("gba",),
        "JS": ("mainland",),
        "FJ": ("mainland",),
    }
    for region, agreement in shipped.items():
        assert agreement.zones == expected_zones[region]
        assert set(agreement.plans) == set(EVENT_TYPES)
        assert agreement.key_variable == key_variable(agreement.id)
        for plan in agreement.plans.values():
            assert plan.unnamed == (), (region, plan.event_type)  # shipped files name every field


def test_parse_agreement_from_text_matches_the_file() -> None:
    text = (SHIPPED / "gd.yaml").read_text(encoding="utf-8")
    assert parse_agreement(text, "gd.yaml").plans.keys() == load_agreement(SHIPPED / "gd.yaml").plans.keys()


def test_agreement_modules_stay_pure() -> None:
    code = (
        "import importlib, pkgutil, sys, hub.agreements; "
        "[importlib.import_module(f'hub.agreements.{m.name}') for m in pkgutil.iter_modules(hub.agreements.__path__)]; "
        "print(sorted(m for m in ('kafka', 'faust', 'aiokafka', 'sqlalchemy', 'fastapi') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
