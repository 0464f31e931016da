"""Fuzzing the topology declarations (``topology.yaml``): a bad entry is one line naming the entry and the rule.

Guaranteed by :func:`hub.jurisdictions.parse_topology` for documents derived
from the shipped ``topology.yaml`` by one mutation of what it checks (a value
of another type in ``jurisdictions``, an entry, its ``regions``,
``jurisdiction`` or ``local`` ports; an unknown key in an entry or its
``local``; a required key deleted; an unknown region or jurisdiction; a region
homed twice; a port out of range or used twice; a bad cluster name; names
generated without line or control characters):

- :class:`~hub.errors.ConfigError` (a :class:`~hub.errors.HubError`) and
  nothing else;
- one line that starts with ``topology:`` and names the entry
  (``jurisdictions.<cluster>...``) or the top-level key, and the rule;
- and the shipped document itself is accepted, so the checks tell good from bad.

The topic layout a topology expands into (:mod:`hub.topology`) takes its
numbers from the settings, fuzzed in ``tests/test_settings_fuzz.py``.

Pure logic: no broker needed. Examples are derandomized.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Final

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.jurisdictions import default_topology_file, parse_topology
from hub.orgunits import org_units

FUZZ = settings(max_examples=60, deadline=None, derandomize=True)
PORTS: Final = ("kafka_port", "controller_port", "internal_port", "registry_port")


@cache
def _shipped() -> dict[str, Any]:
    doc = yaml.safe_load(default_topology_file().read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


CLUSTERS: Final = tuple(_shipped()["jurisdictions"])
# Names without line or control characters: hub.jurisdictions quotes no name it reflects (the agreement
# loader does, tests/test_agreement_file_fuzz.py fuzzes it with any text).
TEXT: Final = st.text(st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1, max_size=12)
OTHER_TYPES: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(TEXT, st.integers(), max_size=2),
)


def _fresh() -> dict[str, Any]:
    return copy.deepcopy(_shipped())


def _refused(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_topology(doc, org_units())
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith("topology: "), message
    return message


def _kind(value: Any) -> str:
    for name, types in (("null", type(None)), ("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(value, types):
            return name
    return "list" if isinstance(value, list) else "map"


def test_the_shipped_topology_is_accepted() -> None:
    assert parse_topology(_fresh(), org_units()).names == CLUSTERS


@FUZZ
@given(
    st.sampled_from(CLUSTERS),
    st.sampled_from(["entry", "regions", "region", "jurisdiction", "local", "port"]),
    st.data(),
)
def test_a_value_of_another_type_is_one_line_naming_the_entry(cluster: str, place: str, data: st.DataObject) -> None:
    doc = _fresh()
    entry = doc["jurisdictions"][cluster]
    parent: Any
    key: Any
    parent, key = {
        "entry": (doc["jurisdictions"], cluster),
        "regions": (entry, "regions"),
        "region": (entry["regions"], 0),
        "jurisdiction": (entry, "jurisdiction"),
        "local": (entry, "local"),
        "port": (entry["local"], data.draw(st.sampled_from(PORTS), label="port")),
    }[place]
    old = parent[key]
    # jurisdiction may be left out (null): then only the regions are checked
    new = data.draw(
        OTHER_TYPES.filter(lambda v: _kind(v) != _kind(old) and not (v is None and place == "jurisdiction"))
    )
    parent[key] = new
    assert f"jurisdictions.{cluster}" in _refused(doc)


@FUZZ
@given(st.sampled_from(CLUSTERS), st.booleans(), TEXT)
def test_an_unknown_key_in_an_entry_or_its_ports_is_named(cluster: str, in_local: bool, key: str) -> None:
    doc = _fresh()
    target = doc["jurisdictions"][cluster]["local"] if in_local else doc["jurisdictions"][cluster]
    if key in target or key == "tls_port":
        key = f"{key}_unknown"
    target[key] = 1
    message = _refused(doc)
    assert f"jurisdictions.{cluster}" in message
    assert ("local takes" in message) if in_local else (f"unknown key {key!r}" in message), message


@FUZZ
@given(st.sampled_from(CLUSTERS), st.sampled_from(["regions", "local", *PORTS]))
def test_a_required_key_deleted_is_named(cluster: str, key: str) -> None:
    doc = _fresh()
    entry = doc["jurisdictions"][cluster]
    del (entry if key in ("regions", "local") else entry["local"])[key]
    message = _refused(doc)
    expected = "kafka_port is missing" if key == "local" else (key if key != "regions" else "regions must be")
    assert f"jurisdictions.{cluster}" in message and expected in message, message


@pytest.mark.parametrize("key", ["version", "jurisdictions"])
def test_a_top_level_key_deleted_is_named(key: str) -> None:
    doc = _fresh()
    del doc[key]
    assert key in _refused(doc)


@FUZZ
@given(st.sampled_from(CLUSTERS), TEXT, st.sampled_from(["region", "jurisdiction"]))
def test_an_unknown_region_or_jurisdiction_is_named(cluster: str, name: str, what: str) -> None:
    doc = _fresh()
    entry = doc["jurisdictions"][cluster]
    if what == "region":
        name = "X" + name if name.upper() in org_units().regions else name
        entry["regions"].append(name)
    else:
        entry["jurisdiction"] = name
    message = _refused(doc)
    assert f"jurisdictions.{cluster}.regions" in message, message
    code = name.upper()
    shown = code if code.isprintable() else repr(code)  # an unprintable code is quoted, never printed raw
    assert (f"{shown} is not a region" if what == "region" else repr(name)) in message, message


@FUZZ
@given(st.permutations(CLUSTERS))
def test_a_region_homed_twice_is_named_with_both_clusters(order: list[str]) -> None:
    doc = _fresh()
    first, second = order[0], order[1]
    region = doc["jurisdictions"][first]["regions"][0]
    doc["jurisdictions"][second]["regions"].append(region)
    doc["jurisdictions"][second].pop("jurisdiction")  # else the jurisdiction check speaks first
    message = _refused(doc)
    assert f"region {region} is homed twice" in message and first in message and second in message, message


@FUZZ
@given(
    st.sampled_from(CLUSTERS),
    st.sampled_from([*PORTS, "tls_port"]),
    st.one_of(st.integers(max_value=0), st.integers(min_value=65536), st.sampled_from([10**30, -(2**63)])),
)
def test_a_port_out_of_range_is_named(cluster: str, port: str, value: int) -> None:
    doc = _fresh()
    doc["jurisdictions"][cluster]["local"][port] = value
    message = _refused(doc)
    assert f"jurisdictions.{cluster}.local.{port} must be a port number (1-65535)" in message, message


@FUZZ
@given(st.permutations(CLUSTERS), st.sampled_from(PORTS), st.sampled_from(PORTS))
def test_a_port_used_twice_is_named(order: list[str], mine: str, theirs: str) -> None:
    doc = _fresh()
    doc["jurisdictions"][order[0]]["local"][mine] = doc["jurisdictions"][order[1]]["local"][theirs]
    message = _refused(doc)
    assert "is also" in message and f"{order[0]}.local.{mine}" in message, message
    assert f"{order[1]}.local.{theirs}" in message, message


@FUZZ
@given(st.sampled_from(CLUSTERS), TEXT.filter(lambda t: not (t[:1].isascii() and t.isalnum() and t.islower())))
def test_a_bad_cluster_name_is_named(cluster: str, name: str) -> None:
    doc = _fresh()
    doc["jurisdictions"] = {(name if k == cluster else k): v for k, v in doc["jurisdictions"].items()}
    assert "a cluster name is 1-16 lowercase letters and digits" in _refused(doc)
