"""Demo data: deterministic, valid, and reproducing every seed figure that events can carry.

Figures are never written here: they are read from ``demo/seed-facts.json``
and recomputed from the generated JSON documents by this file's own aggregation.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from demo.calendar import DATA_AS_OF
from demo.check_digits import hkid_check, mainland_id_check
from demo.coverage import Condition, ContainsAny, FactCoverage, FieldIn, JoinsTo, fact_coverage
from demo.districts import ILLUSTRATIVE_DISTRICTS, JINJIANG, NANSHAN, TINGHU
from demo.stream import generate, planned_counts, planned_total
from demo.writers import WriteSummary, build_metadata, write_jsonl, write_metadata
from hub.catalogue import EVENT_TYPES
from hub.errors import ValidationError
from hub.orgunits import org_units
from hub.provenance import ILLUSTRATIVE_MARK, ILLUSTRATIVE_REFERRAL

SEED_FACTS_FILE = Path(__file__).resolve().parents[1] / "demo" / "seed-facts.json"
SEED_A = 20260314
SEED_B = 7
MONEY_EVENTS = ("DonationReceived", "ProjectFunded")


def _seed_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED_FACTS_FILE.read_text(encoding="utf-8"))
    return doc


def _file_facts() -> dict[tuple[str, str], int]:
    return {(code, f["metric"]): f["value"] for code, d in _seed_doc()["districts"].items() for f in d["facts"]}


def _fact(district: str, metric: str) -> int:
    return _file_facts()[(district, metric)]


def _named(district: str) -> list[str]:
    return list(_seed_doc()["districts"][district].get("named_projects", []))


@dataclass(frozen=True)
class Stream:
    path: Path
    summary: WriteSummary

    def docs(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as fp:
            for line in fp:
                yield json.loads(line)


def _write(path: Path, seed: int, year: int = 2026) -> Stream:
    with path.open("wb") as fp:
        summary = write_jsonl(generate(seed, year), fp)
    return Stream(path, summary)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def stream_a(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    return _write(tmp_path_factory.mktemp("demo") / "a.jsonl", SEED_A)


@pytest.fixture(scope="module")
def stream_b(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    return _write(tmp_path_factory.mktemp("demo") / "b.jsonl", SEED_B)


# -- an aggregation of our own over the coverage table ------------------------------
def _meets(doc: dict[str, Any], cond: Condition, joined: dict[Any, set[Any]]) -> bool:
    if isinstance(cond, FieldIn):
        return doc.get(cond.field) in cond.values
    if isinstance(cond, ContainsAny):
        return any(item in cond.values for item in doc.get(cond.field) or ())
    return doc.get(cond.field) in joined[(doc["district"], cond)]


def _measure(stream: Stream, coverage: list[FactCoverage]) -> dict[tuple[str, str], Decimal]:
    """Recompute every carried fact from the JSON documents of ``stream``."""
    carried = [c for c in coverage if c.carried]
    joins = {(c.district, w) for c in carried for w in c.where if isinstance(w, JoinsTo)}
    joined: dict[Any, set[Any]] = defaultdict(set)
    if joins:
        for doc in stream.docs():
            for district, join in joins:
                if (doc["district"], doc["type"]) == (district, join.event_type) and all(
                    _meets(doc, w, joined) for w in join.where
                ):
                    joined[(district, join)].add(doc[join.field])
    by_type: dict[tuple[str, str | None], list[FactCoverage]] = defaultdict(list)
    for c in carried:
        by_type[(c.district, c.event_type)].append(c)
    sums: dict[tuple[str, str], Decimal] = {(c.district, c.metric): Decimal(0) for c in carried}
    distinct: dict[tuple[str, str], set[Any]] = {(c.district, c.metric): set() for c in carried}
    for doc in stream.docs():
        for c in by_type.get((doc["district"], doc["type"]), ()):
            if not all(_meets(doc, w, joined) for w in c.where):
                continue
            assert c.field is not None
            value = doc[c.field]
            key = (c.district, c.metric)
            if c.measure == "sum":
                sums[key] += Decimal(value) if value is not None else Decimal(0)
            elif isinstance(value, list):
                distinct[key].update(value)
            elif value is not None:
                distinct[key].add(value)
    return {
        (c.district, c.metric): sums[(c.district, c.metric)]
        if c.measure == "sum"
        else Decimal(len(distinct[(c.district, c.metric)]))
        for c in carried
    }


def _mismatches(stream: Stream) -> dict[tuple[str, str], tuple[Decimal, int]]:
    facts = _file_facts()
    measured = _measure(stream, fact_coverage())
    return {key: (got, facts[key]) for key, got in measured.items() if got != Decimal(facts[key])}


# -- the coverage table --------------------------------------------------------------
def test_coverage_names_every_seed_fact_with_the_file_value() -> None:
    coverage = fact_coverage()
    facts = _file_facts()
    assert len(coverage) == len(facts)
    assert {(c.district, c.metric): c.value for c in coverage} == facts
    for c in coverage:
        if c.carried:
            assert c.event_type in EVENT_TYPES and c.measure in ("distinct", "sum") and c.field, c
        else:
            assert c.measure is None and c.field is None and c.note.strip(), f"{c.metric} needs a reason"
    for district in _seed_doc()["districts"]:
        assert any(c.carried for c in coverage if c.district == district), district


def test_every_carried_fact_is_reproduced_exactly(stream_a: Stream) -> None:
    assert _mismatches(stream_a) == {}


def test_the_main_figures_recomputed_by_hand(stream_a: Stream) -> None:
    ns, th, jj = NANSHAN, TINGHU, JINJIANG
    hardship: set[str] = set()
    home_visits, home_to_hardship = 0, 0
    safety_net = 0
    ns_evaluators: set[str] = set()
    ns_projects: dict[str, str] = {}
    funded: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    th_service_projects: set[str] = set()
    th_people = 0
    th_donated, th_reached = Decimal(0), 0
    th_volunteers: set[str] = set()
    jj_excellent: dict[str, str] = {}
    for doc in stream_a.docs():
        where, kind = doc["district"], doc["type"]
        if where == ns and kind == "CaseOpened" and {"LOW_INCOME", "SPECIAL_HARDSHIP"} & set(doc["vulnerable_groups"]):
            hardship.add(doc["case_id"])
        elif where == ns and kind == "VisitMade" and doc["visit_type"] == "HOME":
            home_visits += 1
            home_to_hardship += doc["case_id"] in hardship  # cases open before their visits
        elif where == ns and kind == "ServiceDelivered" and doc["service_area"] == "SOCIAL_ASSISTANCE":
            safety_net += doc["person_times"]
        elif where == ns and kind == "ProjectEvaluated":
            ns_evaluators.update(doc["evaluator_ids"])
            ns_projects[doc["project_id"]] = doc["project_name"]
        elif kind == "ProjectFunded":
            funded[(where, doc["programme"])][doc["project_id"]] = Decimal(doc["amount"])
            names[(where, doc["programme"])].add(doc["project_name"])
        elif where == th and kind == "ServiceDelivered":
            th_service_projects.add(doc["project_id"])
            th_people += doc["person_times"]
        elif where == th and kind == "DonationReceived":
            th_donated += Decimal(doc["amount"])
            th_reached += doc["beneficiaries"] or 0
        elif where == th and kind == "VolunteerRegistered":
            th_volunteers.add(doc["volunteer_id"])
        elif where == jj and kind == "ProjectEvaluated" and doc["outcome"] == "EXCELLENT":
            jj_excellent[doc["project_id"]] = doc["project_name"]

    assert len(hardship) == _fact(ns, "hardship_case_files")
    assert home_visits == home_to_hardship == _fact(ns, "home_visits")
    assert safety_net == _fact(ns, "safety_net_services")
    assert len(ns_evaluators) == _fact(ns, "expert_pool")
    assert len(ns_projects) == _fact(ns, "project_library_projects")
    assert set(_named(ns)) <= set(ns_projects.values())

    venture = funded[(th, "VENTURE_PHILANTHROPY")]
    featured = funded[(th, "GOVERNMENT_PURCHASE")]
    assert len(venture) == _fact(th, "venture_philanthropy_projects")
    assert sum(venture.values()) == Decimal(_fact(th, "venture_philanthropy_investment"))
    assert len(featured) == _fact(th, "featured_projects")
    assert set(_named(th)) <= names[(th, "GOVERNMENT_PURCHASE")]
    assert set(venture) | set(featured) <= th_service_projects
    assert len(th_service_projects) == _fact(th, "service_projects_cumulative")
    assert th_people == _fact(th, "people_served_person_times")
    assert th_donated == Decimal(_fact(th, "charity_donations_last_year"))
    assert th_reached == _fact(th, "charity_beneficiaries_last_year")
    assert len(th_volunteers) == _fact(th, "registered_volunteers")

    micro = funded[(jj, "MICRO_PROJECT")]
    assert len(micro) == _fact(jj, "micro_projects_since_2023")
    assert sum(micro.values()) == Decimal(_fact(jj, "micro_projects_funding"))
    assert len(jj_excellent) == _fact(jj, "quality_projects_selected")
    assert set(_named(jj)) <= set(jj_excellent.values())


# -- determinism -----------------------------------------------------------------------
def test_the_same_seed_gives_identical_bytes_in_another_process(stream_a: Stream, tmp_path: Path) -> None:
    out = tmp_path / "again.jsonl"
    code = (
        "import sys; from demo.stream import generate; from demo.writers import write_jsonl; "
        f"fp = open(sys.argv[1], 'wb'); print(write_jsonl(generate({SEED_A}), fp).sha256); fp.close()"
    )
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"  # string hashing differs from ours
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == stream_a.summary.sha256 == _sha256(stream_a.path)
    assert out.read_bytes() == stream_a.path.read_bytes()


def test_another_seed_changes_ids_but_not_one_figure(stream_a: Stream, stream_b: Stream) -> None:
    ids_a = {doc["event_id"] for doc in stream_a.docs()}
    ids_b = {doc["event_id"] for doc in stream_b.docs()}
    assert len(ids_a) == stream_a.summary.events and len(ids_b) == stream_b.summary.events
    assert not ids_a & ids_b
    assert stream_a.summary.sha256 != stream_b.summary.sha256
    assert stream_b.summary.counts == stream_a.summary.counts
    assert _mismatches(stream_b) == {}


def test_another_year_moves_the_window_and_the_ids() -> None:
    first = next(generate(SEED_A, 2024))
    assert first["event_id"] != next(generate(SEED_A, 2026))["event_id"]
    low, high = date(2024, 1, 1), date(2024, *DATA_AS_OF)
    days = Counter(doc["occurred_at"][:10] for doc in generate(SEED_A, 2024))
    assert all(low <= date.fromisoformat(day) <= high for day in days)


def test_counts_per_district_and_type_are_planned(stream_a: Stream) -> None:
    recount: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in stream_a.docs():
        recount[doc["district"]][doc["type"]] += 1
    assert {d: dict(c) for d, c in recount.items()} == planned_counts()
    assert stream_a.summary.counts == recount
    assert stream_a.summary.events == planned_total()


# -- validity, time, money ----------------------------------------------------------------
def test_every_event_is_valid(stream_a: Stream) -> None:
    from hub.validation import validate_event

    failures = []
    for doc in stream_a.docs():
        try:
            validate_event(doc)
        except ValidationError as exc:
            failures.append((doc["type"], doc["event_id"], exc.errors))
    assert failures[:5] == []


def test_times_are_shanghai_time_within_the_demo_year(stream_a: Stream) -> None:
    low, high = date(2026, 1, 1), date(2026, *DATA_AS_OF)
    for doc in stream_a.docs():
        moment = datetime.fromisoformat(doc["occurred_at"])
        assert doc["occurred_at"].endswith("+08:00"), doc
        assert low <= moment.date() <= high, doc
        if doc["type"] == "ProjectEvaluated":
            start, end = date.fromisoformat(doc["period_start"]), date.fromisoformat(doc["period_end"])
            assert low <= start <= end < moment.date(), doc


def test_visits_and_closures_follow_their_case_in_time_order(stream_a: Stream) -> None:
    last_seen: dict[tuple[str, str], datetime] = {}
    closed: set[tuple[str, str]] = set()
    visits = 0
    for doc in stream_a.docs():
        if doc["type"] not in ("CaseOpened", "VisitMade", "CaseClosed"):
            continue
        key, moment = (doc["district"], doc["case_id"]), datetime.fromisoformat(doc["occurred_at"])
        if doc["type"] == "CaseOpened":
            assert key not in last_seen, f"{key} opened twice"
        else:
            assert key in last_seen, f"{doc['type']} {doc['event_id']} references unopened case {key}"
            assert key not in closed, f"{doc['type']} after {key} was closed"
            assert moment > last_seen[key], f"{key}: {doc['type']} at {moment} is not after {last_seen[key]}"
            visits += doc["type"] == "VisitMade"
            if doc["type"] == "CaseClosed":
                closed.add(key)
        last_seen[key] = moment
    assert visits > 0
    nanshan = {k for k in last_seen if k[0] == NANSHAN}
    assert nanshan & closed and nanshan - closed, "Nanshan needs both open and closed cases"


def test_currency_follows_the_region(stream_a: Stream) -> None:
    expected = {"HK": "HKD", "MO": "MOP", "GD": "CNY", "JS": "CNY", "FJ": "CNY"}
    seen: Counter[str] = Counter()
    for doc in stream_a.docs():
        if doc["type"] in MONEY_EVENTS:
            assert doc["currency"] == expected[doc["region"]], doc
            assert re.fullmatch(r"\d+\.\d{2}", doc["amount"]), doc["amount"]
            seen[doc["currency"]] += 1
    assert set(seen) == {"CNY", "HKD", "MOP"}


# -- personal data ---------------------------------------------------------------------------
def _resident_check(body: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _hkid_check(letter: str, digits: str) -> str:
    total = 36 * 9 + (ord(letter) - 55) * 8 + sum(int(d) * (7 - i) for i, d in enumerate(digits))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def test_the_check_digit_helpers_of_this_test_agree_with_published_examples() -> None:
    assert _resident_check("11010519491231002") == "X"
    assert _hkid_check("A", "123456") == "3"


def test_the_generators_check_digits_agree_with_published_examples_and_this_test() -> None:
    assert mainland_id_check("11010519491231002") == "X"
    assert hkid_check("A", "123456") == "3"
    for body in ("44030519480312002", "43010220010101123", "11010519491231002"):
        assert mainland_id_check(body) == _resident_check(body)
    for letter, digits in (("A", "123456"), ("Z", "000000"), ("K", "987654")):
        assert hkid_check(letter, digits) == _hkid_check(letter, digits)


def test_personal_data_is_realistic_per_region(stream_a: Stream) -> None:
    phone = {"HK": r"\+852 [569]\d{3} \d{4}", "MO": r"\+853 6\d{3} \d{4}"}
    names: dict[tuple[str, str], str] = {}
    id_numbers: Counter[str] = Counter()
    phones: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    for doc in stream_a.docs():
        kind, region = doc["type"], doc["region"]
        if kind == "CaseOpened":
            name, number = doc["client_name"], doc["client_id_number"]
            assert re.fullmatch(r"[\u4e00-\u9fff]{3}", name), name
            if region == "HK":
                m = re.fullmatch(r"([A-Z])(\d{6})\(([0-9A])\)", number)
                assert m and m[3] == _hkid_check(m[1], m[2]), number
            elif region == "MO":
                assert re.fullmatch(r"[157]\d{6}\(\d\)", number), number
            else:
                assert re.fullmatch(r"\d{17}[\dX]", number) and number[17] == _resident_check(number[:17]), number
                assert int(number[6:10]) == doc["client_birth_year"], doc
                if doc["client_gender"] in ("F", "M"):
                    assert int(number[16]) % 2 == (doc["client_gender"] == "M"), doc
            assert re.fullmatch(phone.get(region, r"\+86 1[3-9]\d \d{4} \d{4}"), doc["client_phone"]), doc
            names[(doc["district"], doc["case_id"])] = name
            id_numbers[number] += 1
            phones[doc["client_phone"]] += 1
            regions[region] += 1
        elif kind == "VisitMade":
            assert names[(doc["district"], doc["case_id"])] in doc["notes"], doc
        elif kind == "DonationReceived" and doc["donor_type"] == "INDIVIDUAL":
            assert re.fullmatch(r"[\u4e00-\u9fff]{3}", doc["donor_name"]), doc
        elif kind == "VolunteerRegistered":
            assert re.fullmatch(r"[\u4e00-\u9fff]{3}", doc["volunteer_name"]), doc
    assert {"GD", "HK", "MO"} <= set(regions)
    assert max(id_numbers.values()) == 1 and max(phones.values()) == 1


def test_personal_values_never_hide_inside_shareable_strings(stream_a: Stream) -> None:
    """The gateway's tests scan shared bytes for PII values, so none may occur inside a string the shared form keeps.

    Secrets are the PII fields and the identifiers that are pseudonymised when shared; ``notes`` is dropped
    and ``event_id`` is a random UUID, so neither is searched.
    """
    secret_fields = {"client_name", "client_id_number", "client_phone", "client_id", "volunteer_name"}
    secret_fields |= {"case_id", "worker_id", "volunteer_id"}
    secrets: dict[int, set[str]] = defaultdict(set)
    public: set[str] = set()
    for doc in stream_a.docs():
        individual = doc["type"] == "DonationReceived" and doc["donor_type"] == "INDIVIDUAL"
        for name, value in doc.items():
            if name == "evaluator_ids":
                for item in value:
                    secrets[len(item)].add(item)
            elif not isinstance(value, str) or name in ("type", "event_id", "occurred_at", "notes"):
                continue
            elif name in secret_fields or (name == "donor_name" and individual):
                secrets[len(value)].add(value)
            else:
                public.add(value)
    assert secrets and public
    hits = {
        (text, text[i : i + n])
        for text in public
        for n, group in secrets.items()
        for i in range(len(text) - n + 1)
        if text[i : i + n] in group
    }
    assert sorted(hits)[:10] == []


# -- illustrative data ------------------------------------------------------------------------
def test_illustrative_districts_are_marked_small_and_cover_the_gba(stream_a: Stream) -> None:
    sources = set(_seed_doc()["districts"])
    units = org_units()
    illustrative_events = 0
    seen: set[str] = set()
    for doc in stream_a.docs():
        if doc["district"] in sources:
            if doc["type"] == "CaseOpened":
                assert doc["referral_source"] != ILLUSTRATIVE_REFERRAL, doc
            continue
        seen.add(doc["district"])
        illustrative_events += 1
        assert doc["station"] is None, doc
        if doc["type"] == "CaseOpened":
            assert doc["referral_source"] == ILLUSTRATIVE_REFERRAL, doc
        if "project_name" in doc:
            assert doc["project_name"].endswith(ILLUSTRATIVE_MARK), doc
    assert seen == set(ILLUSTRATIVE_DISTRICTS)
    regions = {units.districts[d].region for d in seen}
    gd_cities = {units.districts[d].city for d in seen | {NANSHAN} if units.districts[d].region == "GD"}
    assert {"HK", "MO", "GD"} <= regions and len(gd_cities) >= 3
    assert 0 < illustrative_events < stream_a.summary.events // 20


def test_metadata_describes_the_stream(stream_a: Stream) -> None:
    meta = build_metadata(SEED_A, 2026, stream_a.summary)
    buf = io.BytesIO()
    write_metadata(meta, buf)
    back = json.loads(buf.getvalue())
    assert back["seed"] == SEED_A and back["year"] == 2026 and back["complete"] is True
    assert back["events"] == stream_a.summary.events and back["sha256"] == _sha256(stream_a.path)
    assert back["counts"] == {d: dict(c) for d, c in stream_a.summary.counts.items()}
    assert back["illustrative_districts"] == list(ILLUSTRATIVE_DISTRICTS)
    assert {(f["district"], f["metric"]) for f in back["facts"]} == set(_file_facts())
    assert build_metadata(SEED_A, 2026, stream_a.summary, limit=10)["complete"] is False


def test_a_year_out_of_range_is_refused_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        generate(SEED_A, 1900)
    assert info.value.errors[0][0] == "year" and "1900" in info.value.errors[0][1]
