"""Fuzzing the agreement files (``agreements/*.yaml``): every malformed file is refused in one line per problem.

Guaranteed, for documents derived from the shipped agreements by one mutation
(a key deleted, a value of another type, an unknown key, an unknown region,
zone, event or field, a name listed twice, an out-of-range version) and for
damaged bytes (empty, non-mapping, invalid YAML, truncated, not UTF-8):

- loading raises :class:`~hub.agreements.problems.AgreementError` (a
  :class:`~hub.errors.HubError`) and nothing else: no ``KeyError``,
  ``TypeError`` or pydantic error escapes;
- every problem is one line that starts with the file's path, and one of them
  names the mutated place (the top-level key, or the event and its field);
- a mutation that must be refused is never silently accepted;
- through the real ``hub agreements check`` command: exit 1, no traceback,
  the file and the field on stderr.

Pure logic and CLI parsing: no broker needed. Examples are derandomized, so a
failure replays in CI.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.agreements.compiler import MUST_KEEP
from hub.agreements.loading import load_agreement, load_agreements, parse_agreement
from hub.agreements.model import Agreement
from hub.agreements.problems import AgreementError, Problem
from tests.agreement_cases import SHIPPED

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
HUB: Final = str(Path(sys.executable).with_name("hub"))
ORIGIN: Final = "agreements/fuzzed.yaml"
REQUIRED_TOP: Final = ("id", "version", "source_region", "zones", "key", "events")
#: Keys whose value may legally be null (``partners: null`` = any region of the zones; ``kind`` is derived).
NULLABLE: Final = frozenset({"partners", "kind"})

Path_ = tuple[str | int, ...]


@cache
def _shipped(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((SHIPPED / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


FILES: Final = tuple(sorted(p.name for p in SHIPPED.glob("*.yaml")))


def _paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in a document: mapping keys and list items, depth first."""
    items: list[tuple[str | int, Any]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _at(doc: Any, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _kind(value: Any) -> str:
    """The YAML type of a value (bool is not an int here, as in YAML)."""
    for name, types in (("null", type(None)), ("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(value, types):
            return name
    return "list" if isinstance(value, list) else "map"


TEXT: Final = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
ANY_VALUE: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 2**31, 10**30, -(10**30)]),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(TEXT, st.integers(), max_size=2),
)


def _refusal(text: str) -> AgreementError | None:
    """Parse ``text``: the AgreementError, or None if accepted; any other exception fails the test."""
    try:
        parse_agreement(text, ORIGIN)
    except AgreementError as exc:
        _assert_one_line_each(exc, ORIGIN)
        return exc
    return None


def _assert_one_line_each(exc: AgreementError, origin: str) -> None:
    assert exc.problems, "an AgreementError without a problem"
    assert len(str(exc).splitlines()) == 1, str(exc)
    for problem in exc.problems:
        line = str(problem)
        assert len(line.splitlines()) == 1, line
        assert line.startswith(f"{origin}: "), line
        assert problem.message.strip(), line  # a rule, not just a place


def _names(problem: Problem, path: Path_) -> bool:
    """Does ``problem`` point at ``path``: the top-level key, or the event (and the rest is its field)?"""
    if path[0] == "events" and len(path) > 1:
        return problem.event == str(path[1])
    top = str(path[0])
    field = problem.field or ""
    return field == top or field.startswith(f"{top}.") or problem.message.startswith(f"{top}:")


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _assert_refused_at(doc: dict[str, Any], path: Path_, what: str) -> None:
    exc = _refusal(_dump(doc))
    assert exc is not None, f"{what} at {path} was silently accepted"
    assert any(_names(p, path) for p in exc.problems), f"{what} at {path}: no problem names it: {exc}"


# -- the real files pass: the properties below can tell good from bad -------------------------------
@pytest.mark.parametrize("name", FILES)
def test_the_shipped_files_are_accepted_as_dumped(name: str) -> None:
    assert _refusal(_dump(_shipped(name))) is None


# -- mutations of the shipped documents ------------------------------------------------------------
class Shipped:
    """A fresh copy of one shipped document and its places; shown by file name in a falsifying example."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.doc = copy.deepcopy(_shipped(name))
        self.paths = list(_paths(self.doc))

    def __repr__(self) -> str:
        return f"Shipped({self.name!r})"


SHIPPED_DOCS: Final = st.builds(Shipped, st.sampled_from(FILES))


@FUZZ
@given(SHIPPED_DOCS, st.data())
def test_a_value_of_another_type_is_refused_naming_its_place(drawn: Shipped, data: st.DataObject) -> None:
    doc, paths = drawn.doc, drawn.paths
    path = data.draw(st.sampled_from(paths), label="path")
    old = _at(doc, path)
    allowed_null = path[-1] in NULLABLE
    new = data.draw(
        ANY_VALUE.filter(lambda v: _kind(v) != _kind(old) and not (v is None and allowed_null)), label="value"
    )
    _at(doc, path[:-1])[path[-1]] = new
    _assert_refused_at(doc, path, f"{_kind(old)} -> {_kind(new)} {new!r}")


@FUZZ
@given(SHIPPED_DOCS, st.data())
def test_an_unknown_key_is_refused_naming_its_place(drawn: Shipped, data: st.DataObject) -> None:
    doc, paths = drawn.doc, drawn.paths
    mappings: list[Path_] = [(), *(p for p in paths if isinstance(_at(doc, p), dict))]
    where = data.draw(st.sampled_from(mappings), label="mapping")
    target = _at(doc, where)
    # every mapping of a shipped agreement already names all it may: any other key is wrong
    key = data.draw(TEXT.filter(lambda k: k not in target), label="key")
    target[key] = data.draw(st.sampled_from(["x_ref", 1, ["event_id"]]), label="value")
    _assert_refused_at(doc, (*where, key), "unknown key")


@FUZZ
@given(SHIPPED_DOCS, st.data())
def test_deleting_anything_never_crashes_and_a_required_key_is_named(drawn: Shipped, data: st.DataObject) -> None:
    doc, paths = drawn.doc, drawn.paths
    path = data.draw(st.sampled_from(paths), label="path")
    parent = _at(doc, path[:-1])
    removed = parent[path[-1]]
    del parent[path[-1]]
    must_refuse = (
        path in {(k,) for k in REQUIRED_TOP}
        or (len(path) == 4 and path[2] == "keep" and removed in MUST_KEEP)  # an envelope field
        or (len(path) == 5 and path[2] in ("generalise", "keep_if") and path[-1] != "not_in")  # to, rule, field
    )
    if must_refuse:
        _assert_refused_at(doc, path, f"deleting {removed!r}")
    else:
        _refusal(_dump(doc))  # accepted (e.g. a dropped field is dropped by default) or refused in one line


def _rename_list_item(doc: dict[str, Any], path: Path_, new: str) -> None:
    _at(doc, path[:-1])[path[-1]] = new


@FUZZ
@given(SHIPPED_DOCS, st.data())
def test_an_unknown_region_zone_event_or_field_is_refused_naming_it(drawn: Shipped, data: st.DataObject) -> None:
    doc, paths = drawn.doc, drawn.paths
    name = data.draw(TEXT.filter(lambda t: not t.isupper() and t not in ("gba", "mainland")), label="name")
    places: list[Path_] = [("source_region",)]
    places += [p for p in paths if len(p) == 2 and p[0] in ("zones", "partners")]
    places += [p for p in paths if len(p) == 2 and p[0] == "events"]
    places += [p for p in paths if len(p) == 4 and p[2] in ("keep", "drop")]
    place = data.draw(st.sampled_from(places), label="place")
    if place[0] == "events":
        doc["events"] = {(name if k == place[1] else k): v for k, v in doc["events"].items()}
        place = ("events", name)
    else:
        _rename_list_item(doc, place, name)
    _assert_refused_at(doc, place, f"unknown name {name!r}")


@FUZZ
@given(SHIPPED_DOCS, st.data())
def test_a_name_listed_twice_is_refused_naming_it(drawn: Shipped, data: st.DataObject) -> None:
    doc, paths = drawn.doc, drawn.paths
    lists = [p for p in paths if isinstance(_at(doc, p), list) and _at(doc, p) and p[-1] != "partners"]
    lists.append(("partners",))
    where = data.draw(st.sampled_from(lists), label="list")
    items = _at(doc, where)
    items.append(data.draw(st.sampled_from(items), label="item"))
    _assert_refused_at(doc, where, "duplicate")


@FUZZ
@given(SHIPPED_DOCS, st.sampled_from([0, -1, -(2**63), 2**31, 2**63, 10**30, True, 1.0, "1"]))
def test_a_version_out_of_range_or_not_an_integer_is_refused(drawn: Shipped, version: object) -> None:
    # 2**31 and more would pass here and break the audit record (agreement_version is an Avro int)
    doc = drawn.doc
    doc["version"] = version
    _assert_refused_at(doc, ("version",), f"version {version!r}")


# -- damaged bytes ------------------------------------------------------------------------------------
def _load_bytes(tmp_path: Path, data: bytes) -> AgreementError | Agreement:
    path = tmp_path / "damaged.yaml"
    path.write_bytes(data)
    try:
        return load_agreement(path)
    except AgreementError as exc:
        _assert_one_line_each(exc, str(path))
        return exc


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "expected a YAML mapping at the top level"),
        (b"null\n", "expected a YAML mapping at the top level"),
        (b"- gd-exchange\n- 1\n", "expected a YAML mapping at the top level"),
        (b"42\n", "expected a YAML mapping at the top level"),
        (b"id: [gd-exchange\n", "not valid YAML"),
        (b"id: gd\n\tversion: 1\n", "not valid YAML"),
        (b"id: gd\x00\n", "not valid YAML: character #x0000"),
        (b"? [a, b]\n: c\n", "a mapping key must be a scalar"),
        (b"id: !!python/object/apply:os.system [true]\n", "not valid YAML"),
        (b"id: a\nid: b\n", "'id' appears twice"),
        ("id: 广东\n".encode("utf-16"), "cannot read"),
    ],
)
def test_damaged_files_are_one_line_naming_the_file(tmp_path: Path, data: bytes, rule: str) -> None:
    outcome = _load_bytes(tmp_path, data)
    assert isinstance(outcome, AgreementError) and rule in str(outcome), outcome


@FUZZ
@given(st.sampled_from(FILES), st.data())
def test_truncated_or_non_utf8_bytes_never_crash(name: str, data: st.DataObject) -> None:
    import tempfile

    good = (SHIPPED / name).read_bytes()
    cut = data.draw(st.integers(0, len(good)), label="cut")
    bad_byte = data.draw(st.sampled_from([b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80"]), label="byte")
    at = data.draw(st.integers(0, len(good)), label="at")
    with tempfile.TemporaryDirectory() as folder:
        # truncated: refused in one line, or a shorter agreement that is still a valid one
        _load_bytes(Path(folder), good[:cut])
        broken = _load_bytes(Path(folder), good[:at] + bad_byte + good[at:])
        assert isinstance(broken, AgreementError) and "utf-8" in str(broken), broken


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        assert isinstance(_load_bytes(Path(folder), blob), AgreementError)  # 200 bytes are never an agreement


def test_two_files_for_one_region_or_id_are_named(tmp_path: Path) -> None:
    for name in FILES:
        (tmp_path / name).write_bytes((SHIPPED / name).read_bytes())
    second = copy.deepcopy(_shipped("hk.yaml"))
    second["id"], second["key"] = "hk-second", "HUB_AGREEMENT_KEY_HK_SECOND"
    (tmp_path / "zz-hk.yaml").write_text(_dump(second), encoding="utf-8")
    same_id = copy.deepcopy(_shipped("mo.yaml"))
    (tmp_path / "zz-mo.yaml").write_text(_dump(same_id), encoding="utf-8")
    with pytest.raises(AgreementError) as info:
        load_agreements(tmp_path)
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith(f"{tmp_path / 'zz-hk.yaml'}: field source_region: second agreement") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'zz-mo.yaml'}: field source_region") for line in lines), lines


# -- the CLI boundary ----------------------------------------------------------------------------------
def _cli_cases() -> list[tuple[str, bytes, str]]:
    """(case, bytes of hk.yaml, the field the message must name), each from a mutation of the shipped file."""
    hk = _shipped("hk.yaml")
    wrong_type = copy.deepcopy(hk)
    wrong_type["events"]["VisitMade"]["keep"] = {"event_id": 1}
    unknown_key = copy.deepcopy(hk)
    unknown_key["events"]["CaseClosed"]["keeep"] = ["outcome"]
    unknown_zone = copy.deepcopy(hk)
    unknown_zone["zones"] = ["gba", "asean"]
    good = (SHIPPED / "hk.yaml").read_bytes()
    return [
        ("wrong type", _dump(wrong_type).encode(), "event VisitMade: field keep"),
        ("unknown key", _dump(unknown_key).encode(), "event CaseClosed: field keeep"),
        ("unknown zone", _dump(unknown_zone).encode(), "zones: 'asean' is not a zone"),
        ("not UTF-8", good.replace(b"Hong Kong", b"Hong \xff Kong"), "cannot read"),
        ("truncated", good[: good.index(b"events:") + len(b"events:\n  CaseOpened:\n    keep: [event_id")], "line"),
    ]


@pytest.mark.parametrize(("case", "data", "field"), _cli_cases(), ids=[c[0] for c in _cli_cases()])
def test_hub_agreements_check_refuses_in_one_line_per_problem(
    tmp_path: Path, case: str, data: bytes, field: str
) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    (folder / "hk.yaml").write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    proc = subprocess.run(
        [HUB, "agreements", "check", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors, proc.stderr
    assert all(line.startswith(f"error: {folder / 'hk.yaml'}: ") for line in errors), proc.stderr
    assert any(field in line for line in errors), proc.stderr
