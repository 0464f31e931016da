"""Deterministic demo data whose projections reproduce the source reports' figures.

``generate(seed, year)`` yields events in the flat JSON ingest form (EVENTS.md).
For Shenzhen Nanshan, Yancheng Tinghu and Jinjiang the stream reproduces every
figure of ``seed-facts.json`` that an event can carry, exactly (an "approx"
figure is taken at its stated value); :func:`fact_coverage` says, fact by fact,
which events, measure and filter reproduce it, or why no event can. Hong Kong,
Macao, Guangzhou Tianhe and Zhuhai Xiangzhou get a small amount of
*illustrative* data: no figures exist for them.

Determinism: every random choice comes from ``random.Random`` seeded with a
string derived from ``seed`` and the section (one per district), so the same
``(seed, year)`` gives byte-identical JSON Lines on any platform, and a
different seed changes identifiers, names and spreads but not one fact total.
Event counts per district and type do not depend on the seed either
(:func:`planned_counts`).

Time: every ``occurred_at`` is in Asia/Shanghai (+08:00; HK and Macao share
UTC+8) between 1 January and 28 November (:data:`DATA_AS_OF`) of ``year``, so a
year or quarter report of that year covers the whole stream even for cumulative
figures ("since 2023", "in three years", "last year"), which are placed in the
demo year. The stream is grouped by district and aggregate, not globally
sorted by time: the events of one case are in time order, as Kafka keeps them
per key.

Pure: no Kafka, no HTTP, no SQL; the only I/O is on file objects the caller passes.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any, Final, Literal

from demo.seedfacts import DistrictFacts, SeedFacts, seed_facts
from hub.errors import ConfigError, ValidationError
from hub.orgunits import District, OrgUnits, org_units
from hub.provenance import ILLUSTRATIVE_MARK, ILLUSTRATIVE_REFERRAL

Event = dict[str, Any]

FORMAT_VERSION: Final = 1
TZ: Final = timezone(timedelta(hours=8))
TIME_ZONE_NAME: Final = "Asia/Shanghai"
DATA_AS_OF: Final = (11, 28)
"""(month, day): no event of the demo year is later than this day."""
MIN_YEAR: Final = 1971
MAX_YEAR: Final = 2099

NANSHAN: Final = "shenzhen-nanshan"
TINGHU: Final = "yancheng-tinghu"
JINJIANG: Final = "jinjiang"
SOURCE_DISTRICTS: Final[tuple[str, ...]] = (NANSHAN, TINGHU, JINJIANG)
ILLUSTRATIVE_DISTRICTS: Final[tuple[str, ...]] = (
    "guangzhou-tianhe",
    "zhuhai-xiangzhou",
    "hk-sham-shui-po",
    "hk-kwun-tong",
    "hk-tuen-mun",
    "hk-sha-tin",
    "mo-fatima",
    "mo-sao-lourenco",
    "mo-taipa",
)
CURRENCY_OF_REGION: Final[dict[str, str]] = {"GD": "CNY", "JS": "CNY", "FJ": "CNY", "HK": "HKD", "MO": "MOP"}

# -- sizes of the synthetic detail around the figures (seed-independent) ----------
NS_OTHER_CASES: Final = 455
"""Nanshan cases outside the hardship files (drug rehab, correction support, ...): no HOME visits."""
NS_HARDSHIP_OTHER_VISITS: Final = 1800
"""Phone / outreach / office visits to hardship cases, beside the HOME visits."""
NS_OTHER_CASE_VISITS: Final = 1400
NS_CLOSED_CASES: Final = 1250
NS_WORKERS: Final = 420
NS_SAFETY_NET_SERVICES: Final = 2400
NS_OTHER_SERVICES: Final = 600
NS_TRAININGS: Final = 480
NS_EVALUATORS_PER_PANEL: Final = 3
TH_SERVICE_EVENTS: Final = 1300
TH_TRAININGS: Final = 36
TH_EXPERTS: Final = 12
TH_DONATIONS: Final[tuple[tuple[str, int, int], ...]] = (
    # donor_type, donations, share of the total in per mille
    ("ENTERPRISE", 64, 450),
    ("MERCHANT", 236, 230),
    ("FOUNDATION", 9, 140),
    ("OTHER", 11, 30),
    ("INDIVIDUAL", 880, 150),
)
TH_LICENSED_LEVELS: Final[tuple[tuple[str, int], ...]] = (("SENIOR", 20), ("INTERMEDIATE", 270))
"""Per mille of the licensed social workers at these levels; the rest are ASSISTANT (助理社会工作师)."""
JJ_EVALUATED_PROJECTS: Final = 40
JJ_NEEDS_IMPROVEMENT: Final = 4
JJ_EXPERTS: Final = 10
ILL_CASES: Final = 60
ILL_VISITS: Final = 150
ILL_CLOSED: Final = 20
ILL_DONATIONS: Final = 30
ILL_SERVICES: Final = 40
ILL_PROJECTS: Final = 6
ILL_FUNDED: Final = 3
ILL_TRAININGS: Final = 4
ILL_VOLUNTEERS: Final = 40
ILL_CERTIFIED_GD: Final = 10


# =============================================================================
# Fact coverage: which events reproduce which seed figure
# =============================================================================
@dataclass(frozen=True)
class FieldIn:
    """The event's scalar ``field`` is one of ``values``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ContainsAny:
    """The event's array ``field`` holds at least one of ``values``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class JoinsTo:
    """The event's ``field`` equals that field of some ``event_type`` event of the same district meeting ``where``."""

    field: str
    event_type: str
    where: tuple[FieldIn | ContainsAny, ...]


Condition = FieldIn | ContainsAny | JoinsTo
Measure = Literal["distinct", "sum"]


@dataclass(frozen=True)
class FactCoverage:
    """How one seed fact is reproduced by the demo stream, or why it is not.

    When ``event_type`` is set: take the events of ``event_type`` in
    ``district`` that meet every condition of ``where``; ``distinct`` counts the
    distinct values of ``field`` (array items counted one by one), ``sum`` adds
    ``field`` (amounts as decimals, a null as 0). The result equals ``value``.
    In the shared (de-identified) form an identifier ``x_id`` is ``x_ref``;
    pseudonyms are stable per agreement, so distinct counts and joins survive.
    """

    district: str
    metric: str
    zh: str
    value: int
    unit: str
    approx: bool
    event_type: str | None = None
    measure: Measure | None = None
    field: str | None = None
    where: tuple[Condition, ...] = ()
    note: str = ""

    @property
    def carried(self) -> bool:
        """True if events reproduce this fact."""
        return self.event_type is not None


@dataclass(frozen=True)
class _Carrier:
    event_type: str
    measure: Measure
    field: str
    where: tuple[Condition, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _NotCarried:
    reason: str


_HARDSHIP_GROUPS: Final = ("SPECIAL_HARDSHIP", "LOW_INCOME")
_HARDSHIP_CASE: Final = ContainsAny("vulnerable_groups", _HARDSHIP_GROUPS)
_CNY: Final = FieldIn("currency", ("CNY",))
_LICENSED_LEVELS: Final = ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR")
_IN_DEMO_YEAR: Final = "The cumulative figure is placed in the demo year."

_MAPPING: Final[dict[tuple[str, str], _Carrier | _NotCarried]] = {
    # -- Yancheng Tinghu -------------------------------------------------------
    (TINGHU, "social_work_stations_coverage_pct"): _NotCarried(
        "A share of towns/streets with a station; org-units lists no Tinghu stations and no event carries coverage."
    ),
    (TINGHU, "incubation_centre_area_m2"): _NotCarried("Floor area of a building; no event type describes premises."),
    (TINGHU, "featured_projects"): _Carrier(
        "ProjectFunded",
        "distinct",
        "project_id",
        (FieldIn("programme", ("GOVERNMENT_PURCHASE",)),),
        "No field marks a project as featured (特色): the demo funds exactly the 13 featured projects through "
        "GOVERNMENT_PURCHASE (the six named ones plus 特色项目-07..13); their amounts are synthetic, not a figure. "
        "They are also among the 418 service projects.",
    ),
    (TINGHU, "service_projects_cumulative"): _Carrier(
        "ServiceDelivered", "distinct", "project_id", (), "Every Tinghu service names its project. " + _IN_DEMO_YEAR
    ),
    (TINGHU, "people_served_person_times"): _Carrier("ServiceDelivered", "sum", "person_times"),
    (TINGHU, "venture_philanthropy_investment"): _Carrier(
        "ProjectFunded", "sum", "amount", (FieldIn("programme", ("VENTURE_PHILANTHROPY",)), _CNY), _IN_DEMO_YEAR
    ),
    (TINGHU, "venture_philanthropy_projects"): _Carrier(
        "ProjectFunded",
        "distinct",
        "project_id",
        (FieldIn("programme", ("VENTURE_PHILANTHROPY",)),),
        "The 28 venture-philanthropy projects are among the 418 service projects.",
    ),
    (TINGHU, "venture_philanthropy_beneficiaries"): _Carrier(
        "ProjectEvaluated",
        "sum",
        "beneficiaries",
        (JoinsTo("project_id", "ProjectFunded", (FieldIn("programme", ("VENTURE_PHILANTHROPY",)),)),),
        "One evaluation per venture-philanthropy project; Tinghu evaluates no other project, "
        "so the plain district sum is the same figure.",
    ),
    (TINGHU, "licensed_social_workers"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", _LICENSED_LEVELS),),
        "ASSISTANT (助理社会工作师), INTERMEDIATE (社会工作师) and SENIOR (高级社会工作师); "
        "the 100 generalist certificates are extra workers, not part of the 700.",
    ),
    (TINGHU, "registered_volunteers"): _Carrier("VolunteerRegistered", "distinct", "volunteer_id"),
    (TINGHU, "training_person_times"): _Carrier("TrainingHeld", "sum", "participants", (), _IN_DEMO_YEAR),
    (TINGHU, "generalist_certificates"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", ("GENERALIST",)),),
        "Community workers (社区工作者) with the 全科社工 certificate, separate from the licensed social workers.",
    ),
    (TINGHU, "charity_donations_last_year"): _Carrier(
        "DonationReceived",
        "sum",
        "amount",
        (_CNY,),
        "All Tinghu donations are those the charity federation (慈善总会) received; DonationReceived has no "
        "recipient field. 'Last year' is placed in the demo year.",
    ),
    (TINGHU, "charity_beneficiaries_last_year"): _Carrier(
        "DonationReceived",
        "sum",
        "beneficiaries",
        (),
        "Recorded on enterprise, merchant, foundation and other organisational donations; individual ones carry null.",
    ),
    # -- Shenzhen Nanshan ------------------------------------------------------
    (NANSHAN, "seminar_attendees"): _NotCarried(
        "A one-off seminar; no event type records conferences, and TrainingHeld would inflate the training figure."
    ),
    (NANSHAN, "housing_subsidy_units"): _NotCarried(
        "Talent-housing subsidies for workers; no event type carries them."
    ),
    (NANSHAN, "housing_subsidy_value"): _NotCarried(
        "A housing subsidy, not project funding; as ProjectFunded it would inflate funding reports."
    ),
    (NANSHAN, "training_person_times_3y"): _Carrier(
        "TrainingHeld", "sum", "participants", (), "A three-year figure, placed in the demo year."
    ),
    (NANSHAN, "senior_social_workers_trained"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("SENIOR",)),)
    ),
    (NANSHAN, "intermediate_social_workers_trained"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("INTERMEDIATE",)),)
    ),
    (NANSHAN, "expert_pool"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "evaluator_ids",
        (),
        "Every one of the 46 experts sits on at least one evaluation panel.",
    ),
    (NANSHAN, "project_library_units"): _NotCarried(
        "Counts organisations; no event names the organisation that runs a project."
    ),
    (NANSHAN, "project_library_projects"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "project_id",
        (),
        "One evaluation per library project (evaluation coverage 100%); the three named projects are among them.",
    ),
    (NANSHAN, "evaluation_and_audit_coverage_pct"): _NotCarried(
        "A percentage, and financial audits are not events; every library project does get a ProjectEvaluated."
    ),
    (NANSHAN, "service_fields"): _NotCarried(
        "A count of service fields, not of events; ServiceArea has 15 symbols (with OTHER), so 16 cannot be expressed."
    ),
    (NANSHAN, "cases_collected"): _NotCarried(
        "A casebook of written-up service cases, not case files; CaseOpened counts the hardship files instead."
    ),
    (NANSHAN, "street_stations"): _Carrier(
        "CaseOpened",
        "distinct",
        "station",
        (),
        "The eight street stations of org-units.json; every one of them opens cases.",
    ),
    (NANSHAN, "community_points"): _NotCarried(
        "org-units.json lists no community-point codes, so events cannot name the 100 points."
    ),
    (NANSHAN, "hardship_case_files"): _Carrier(
        "CaseOpened",
        "distinct",
        "case_id",
        (_HARDSHIP_CASE,),
        "Hardship (困难群体) = vulnerable_groups holds SPECIAL_HARDSHIP or LOW_INCOME; "
        "other Nanshan cases hold neither.",
    ),
    (NANSHAN, "home_visits"): _Carrier(
        "VisitMade",
        "distinct",
        "visit_id",
        (FieldIn("visit_type", ("HOME",)), JoinsTo("case_id", "CaseOpened", (_HARDSHIP_CASE,))),
        "Every Nanshan HOME visit is to a hardship case, so the plain HOME count is the same figure; "
        "other visit types do not count.",
    ),
    (NANSHAN, "safety_net_services"): _Carrier(
        "ServiceDelivered",
        "sum",
        "person_times",
        (FieldIn("service_area", ("SOCIAL_ASSISTANCE",)),),
        "兜底服务 = SOCIAL_ASSISTANCE services; other Nanshan services use other areas.",
    ),
    (NANSHAN, "station_coverage_pct"): _NotCarried("A percentage of stations and points; not an event."),
    # -- Jinjiang --------------------------------------------------------------
    (JINJIANG, "junior_supervisors_selected"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("SUPERVISOR",)),), "初级督导 = SUPERVISOR."
    ),
    (JINJIANG, "supervisor_assistants_selected"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", ("OTHER",)),),
        "督导助理 is a local supervisory-track title, not the national 助理社会工作师 (ASSISTANT), so OTHER.",
    ),
    (JINJIANG, "star_social_workers"): _NotCarried(
        "A star rating, not a certification level; WorkerCertified.level has no rating and OTHER already "
        "holds the supervisor assistants."
    ),
    (JINJIANG, "star_supervisors"): _NotCarried("A star rating of supervisors; no event field carries a rating."),
    (JINJIANG, "micro_projects_since_2023"): _Carrier(
        "ProjectFunded", "distinct", "project_id", (FieldIn("programme", ("MICRO_PROJECT",)),), _IN_DEMO_YEAR
    ),
    (JINJIANG, "micro_projects_funding"): _Carrier(
        "ProjectFunded",
        "sum",
        "amount",
        (FieldIn("programme", ("MICRO_PROJECT",)), _CNY),
        "Expected allocation (预计下拨), recorded as funding.",
    ),
    (JINJIANG, "quality_projects_selected"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "project_id",
        (FieldIn("outcome", ("EXCELLENT",)),),
        "Both named projects are among the 12; the other evaluated projects are PASS or NEEDS_IMPROVEMENT.",
    ),
    (JINJIANG, "excellent_cases_compiled"): _NotCarried("A casebook of written-up cases; no event type carries it."),
}


def fact_coverage(facts: SeedFacts | None = None) -> list[FactCoverage]:
    """One entry per seed fact, in file order: its carrier (event type, measure, filter) or the reason there is none."""
    facts = facts or seed_facts()
    out: list[FactCoverage] = []
    for fact in facts.all_facts():
        spec = _MAPPING.get((fact.district, fact.metric))
        if spec is None:
            raise ConfigError(f"demo data: seed fact {fact.district}.{fact.metric} has no entry in the coverage table")
        base = FactCoverage(fact.district, fact.metric, fact.zh, fact.value, fact.unit, fact.approx)
        if isinstance(spec, _NotCarried):
            out.append(replace(base, note=spec.reason))
        else:
            out.append(
                replace(
                    base,
                    event_type=spec.event_type,
                    measure=spec.measure,
                    field=spec.field,
                    where=spec.where,
                    note=spec.note,
                )
            )
    return out


# =============================================================================
# Small deterministic helpers
# =============================================================================
def _split(rng: random.Random, total: int, parts: int, minimum: int = 0, *, skew: int = 1, what: str = "") -> list[int]:
    """``parts`` integers >= ``minimum`` summing to exactly ``total``, randomly spread."""
    rest = total - minimum * parts
    if parts <= 0 or rest < 0:
        raise ConfigError(f"demo data: cannot split {total} {what} into {parts} parts of at least {minimum}")
    weights = [rng.randrange(500, 1500) ** skew for _ in range(parts)]
    wsum = sum(weights)
    shares = [minimum + rest * w // wsum for w in weights]
    for _ in range(total - sum(shares)):
        shares[rng.randrange(parts)] += 1
    return shares


def _split_money(rng: random.Random, total_cents: int, parts: int, *, skew: int = 1, what: str = "") -> list[int]:
    """Amounts in cents summing exactly to ``total_cents``, in round steps (1000, 100, 1 yuan) when possible."""
    for step in (100_000, 10_000, 100, 1):
        if total_cents % step == 0 and total_cents // step >= 4 * parts:
            units = total_cents // step
            return [u * step for u in _split(rng, units, parts, max(1, units // (4 * parts)), skew=skew, what=what)]
    return _split(rng, total_cents, parts, 1, skew=skew, what=what)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    """A weighted choice from ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _spread(rng: random.Random, values: Sequence[str], n: int) -> list[str]:
    """``n`` values, each of ``values`` at least once when ``n`` allows, shuffled."""
    counts = _split(rng, n, len(values), 1 if n >= len(values) else 0, what="items")
    out = [v for v, c in zip(values, counts, strict=True) for _ in range(c)]
    rng.shuffle(out)
    return out


class _Calendar:
    """Minutes since 1 January 00:00 (+08:00) of ``year`` -> ISO-8601 text."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.start = datetime(year, 1, 1, tzinfo=TZ)
        self.last_day = (date(year, *DATA_AS_OF) - date(year, 1, 1)).days

    def stamp(self, minute: int) -> str:
        return (self.start + timedelta(minutes=minute)).isoformat()

    def day_of(self, month: int, day: int) -> int:
        return (date(self.year, month, day) - date(self.year, 1, 1)).days

    def iso_date(self, day: int) -> str:
        return (date(self.year, 1, 1) + timedelta(days=day)).isoformat()

    def at(self, rng: random.Random, day: int, first_hour: int = 8, last_hour: int = 18) -> int:
        """A minute of ``day`` between ``first_hour``:00 and ``last_hour``:00."""
        return day * 1440 + rng.randrange(first_hour * 60, last_hour * 60)


# -- synthetic people ------------------------------------------------------------
_SURNAMES_SC: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
    "于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏付方邹熊白孟秦邱侯江尹薛段雷黎史"
    "陶贺毛郝顾龚邵万钱严戴"
)
_GIVEN_SC: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鹏宇浩凯晨欣怡婷雪"
    "琳晶颖佳瑞思梓轩涵睿博嘉昊雨泽俊志海国庆福春秋冬梅菊凤云飞德成荣松柏慧淑琴珍妍彤"
    "萱蕾薇琪璐瑶倩"
)
_SURNAMES_TC: Final = "陳李張黃何林吳劉梁鄭謝曾蔡許葉郭馮羅潘鄧袁麥朱周蕭胡盧譚楊余區關莫杜歐岑翁龐馬"
_GIVEN_TC: Final = "嘉欣偉明志強家俊詠詩穎慧敏文美玲婷儀子浩樂晴恩澤朗軒錦雅麗芷琪寶珊鳳蓮華輝榮彥卓頌霖曉芯蔚"
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_HKID_LETTERS: Final = "ACDEGHKPRVYZ"
_NANSHAN_MIGRANT_AREAS: Final = ("430102", "360102", "420102", "441502", "450102", "510104", "350102", "445102")
_AREA_CODES: Final[dict[str, tuple[str, ...]]] = {
    NANSHAN: ("440305",) * 6 + _NANSHAN_MIGRANT_AREAS,
    "guangzhou-tianhe": ("440106", "440106", "440106", "440104", "441802"),
    "zhuhai-xiangzhou": ("440402", "440402", "440402", "440404", "442000"),
}


def mainland_id_check(body17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def hkid_check(letter: str, digits: str) -> str:
    """The check character of a single-letter HKID ``letter`` + six ``digits``."""
    total = (
        36 * 9
        + (ord(letter) - ord("A") + 10) * 8
        + sum(int(d) * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True))
    )
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def _macao_check(digits: str) -> str:
    # Synthetic: no official algorithm is published; the demo only promises the 1234567(8) format.
    return str(sum(int(d) * w for d, w in zip(digits, (8, 7, 6, 5, 4, 3, 2), strict=True)) % 10)


class _People:
    """Invented, deterministic personal data in the style of one region."""

    def __init__(self, rng: random.Random, region: str, areas: tuple[str, ...] = ("440305",)) -> None:
        self.rng = rng
        self.region = region
        self.traditional = region in ("HK", "MO")
        self.surnames = _SURNAMES_TC if self.traditional else _SURNAMES_SC
        self.given = _GIVEN_TC if self.traditional else _GIVEN_SC
        self.areas = areas
        self.used: set[str] = set()

    def name(self) -> str:
        """A three-character Chinese name (distinctive enough to scan for in shared bytes)."""
        r = self.rng
        return r.choice(self.surnames) + r.choice(self.given) + r.choice(self.given)

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def id_number(self, birth_year: int, gender: str) -> str:
        """A resident ID (mainland, valid check digit), HKID or Macao BIR number."""
        r = self.rng
        if self.region == "HK":

            def hkid() -> str:
                letter = r.choice(_HKID_LETTERS)
                digits = f"{r.randrange(1_000_000):06d}"
                return f"{letter}{digits}({hkid_check(letter, digits)})"

            return self._unique(hkid)
        if self.region == "MO":

            def bir() -> str:
                digits = r.choice("157") + f"{r.randrange(1_000_000):06d}"
                return f"{digits}({_macao_check(digits)})"

            return self._unique(bir)

        def resident() -> str:
            born = date(birth_year, 1, 1) + timedelta(days=r.randrange(365))
            seq = r.randrange(500) * 2 + (1 if gender == "M" else 0 if gender == "F" else r.randrange(2))
            body = f"{r.choice(self.areas)}{born:%Y%m%d}{seq:03d}"
            return body + mainland_id_check(body)

        return self._unique(resident)

    def phone(self) -> str:
        """A mobile number in the region's style, E.164 with spaces."""
        r = self.rng
        if self.region == "HK":
            return self._unique(lambda: f"+852 {r.choice('569')}{r.randrange(1000):03d} {r.randrange(10000):04d}")
        if self.region == "MO":
            return self._unique(lambda: f"+853 6{r.randrange(1000):03d} {r.randrange(10000):04d}")
        return self._unique(
            lambda: f"+86 1{r.choice('35789')}{r.randrange(10)} {r.randrange(10000):04d} {r.randrange(10000):04d}"
        )

    def client_id(self, prefix: str) -> str:
        """The district's own person identifier, unique in the district."""
        r = self.rng
        return self._unique(lambda: f"{prefix}-P-{r.randrange(10**7):07d}")

    def gender(self) -> str:
        return _pick(self.rng, (("F", 52), ("M", 47), ("UNKNOWN", 1)))


# =============================================================================
# Event assembly
# =============================================================================
class _Section:
    """One district's random stream and envelope."""

    def __init__(self, seed: int, cal: _Calendar, district: District) -> None:
        self.rng = random.Random(f"hub.demo_data/v{FORMAT_VERSION}/{seed}/{cal.year}/{district.code}")
        self.cal = cal
        self.region = district.region
        self.district = district.code
        self.currency = CURRENCY_OF_REGION[district.region]
        self.people = _People(self.rng, district.region, _AREA_CODES.get(district.code, ("440305",)))
        self.visits = 0

    def next_visit_id(self, prefix: str) -> str:
        """A district-wide visit number; it never embeds the case number, which is pseudonymised when shared."""
        self.visits += 1
        return f"{prefix}-V-{self.cal.year}-{self.visits:06d}"

    def event(self, event_type: str, minute: int, station: str | None, fields: dict[str, Any]) -> Event:
        doc: Event = {
            "type": event_type,
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "occurred_at": self.cal.stamp(minute),
            "region": self.region,
            "district": self.district,
            "station": station,
        }
        doc.update(fields)
        return doc

    def ids(self, prefix: str, n: int, digits: int) -> list[str]:
        """``n`` distinct random identifiers ``prefix`` + ``digits`` digits."""
        low = 10 ** (digits - 1)
        return [f"{prefix}{k}" for k in self.rng.sample(range(low, low * 10), n)]

    def day(self, first: int = 0, last: int | None = None) -> int:
        return self.rng.randint(first, self.cal.last_day if last is None else last)


_SERVICE_AREA_BIRTH: Final[dict[str, tuple[int, int]]] = {
    "ELDERLY": (60, 95),
    "CHILD_WELFARE": (3, 16),
    "YOUTH": (13, 24),
}
_RISK: Final = (("LOW", 45), ("MEDIUM", 35), ("HIGH", 15), ("CRISIS", 3), ("UNKNOWN", 2))
_CLOSE_OUTCOMES: Final = (
    ("GOAL_MET", 55),
    ("REFERRED", 20),
    ("CLIENT_WITHDREW", 14),
    ("CLIENT_DECEASED", 4),
    ("OTHER", 7),
)
_REFERRALS_SC: Final = (
    ("社区居委会", 30),
    ("街道办", 20),
    ("网格员排查", 20),
    ("本人求助", 15),
    ("12345热线", 8),
    ("医院转介", 7),
)
_VISIT_MINUTES: Final[dict[str, tuple[int, int]]] = {
    "HOME": (30, 120),
    "PHONE": (5, 30),
    "OFFICE": (20, 90),
    "OUTREACH": (20, 120),
    "ONLINE": (10, 45),
}
_NOTES_SC: Final[dict[str, str]] = {
    "HOME": "入户走访{name}，了解居住和身体状况，{follow}。",
    "PHONE": "电话回访{name}，{follow}。",
    "OFFICE": "{name}到社工站面谈，{follow}。",
    "OUTREACH": "外展中与{name}见面，{follow}。",
    "ONLINE": "与{name}视频沟通，{follow}。",
}
_FOLLOW_SC: Final = (
    "协助申请临时救助",
    "链接志愿者定期陪伴",
    "更新服务计划",
    "跟进医疗报销",
    "提醒按时服药",
    "协调社区长者饭堂送餐",
    "转介心理咨询",
    "核对低保材料",
)
_NOTES_TC: Final[dict[str, str]] = {
    "HOME": "家訪{name}，了解居住及健康狀況，{follow}。",
    "PHONE": "電話跟進{name}，{follow}。",
    "OFFICE": "{name}到中心面談，{follow}。",
    "OUTREACH": "外展時與{name}會面，{follow}。",
    "ONLINE": "與{name}視像通話，{follow}。",
}
_FOLLOW_TC: Final = ("協助申請援助", "安排義工探訪", "更新服務計劃", "跟進覆診安排", "轉介輔導服務", "安排送飯服務")


@dataclass
class _CasePlan:
    case_id: str
    service_area: str
    groups: list[str]
    station: str | None
    worker: str
    referral: str
    visit_types: list[str] = field(default_factory=list)
    closed: bool = False


def _case_events(s: _Section, plan: _CasePlan) -> Iterator[Event]:
    """CaseOpened, its visits and maybe CaseClosed, in time order."""
    rng, cal, people = s.rng, s.cal, s.people
    low, high = _SERVICE_AREA_BIRTH.get(plan.service_area, (18, 75))
    birth_year = cal.year - rng.randint(low, high)
    gender = people.gender()
    name = people.name()
    open_day = s.day(0, cal.last_day - 40)
    yield s.event(
        "CaseOpened",
        cal.at(rng, open_day),
        plan.station,
        {
            "case_id": plan.case_id,
            "service_area": plan.service_area,
            "risk_level": _pick(rng, _RISK),
            "client_id": people.client_id(plan.case_id.split("-")[0]),
            "client_name": name,
            "client_id_number": people.id_number(birth_year, gender),
            "client_phone": people.phone(),
            "client_birth_year": birth_year,
            "client_gender": gender,
            "vulnerable_groups": plan.groups,
            "worker_id": plan.worker,
            "referral_source": plan.referral,
        },
    )
    notes = _NOTES_TC if people.traditional else _NOTES_SC
    follow = _FOLLOW_TC if people.traditional else _FOLLOW_SC
    moments: set[int] = set()
    while len(moments) < len(plan.visit_types):  # distinct minutes: a case's events are strictly ordered
        moments.add(cal.at(rng, s.day(open_day + 1, cal.last_day - 3)))
    visits = sorted(moments)
    for minute, visit_type in zip(visits, plan.visit_types, strict=True):
        lo, hi = _VISIT_MINUTES[visit_type]
        yield s.event(
            "VisitMade",
            minute,
            plan.station,
            {
                "visit_id": s.next_visit_id(plan.case_id.split("-")[0]),
                "case_id": plan.case_id,
                "worker_id": plan.worker,
                "visit_type": visit_type,
                "duration_minutes": rng.randint(lo, hi),
                "volunteer_count": rng.choice((0, 0, 0, 1, 1, 2, 3)) if visit_type in ("HOME", "OUTREACH") else 0,
                "notes": notes[visit_type].format(name=name, follow=rng.choice(follow)),
            },
        )
    if plan.closed:
        after = (visits[-1] // 1440 if visits else open_day) + 1
        yield s.event(
            "CaseClosed",
            cal.at(rng, s.day(after)),
            plan.station,
            {"case_id": plan.case_id, "outcome": _pick(rng, _CLOSE_OUTCOMES), "worker_id": plan.worker},
        )


_OUTCOME_SCORES: Final[dict[str, tuple[int, int]]] = {
    "EXCELLENT": (90, 98),
    "PASS": (70, 89),
    "NEEDS_IMPROVEMENT": (60, 69),
    "FAIL": (40, 59),
}


def _evaluation(
    s: _Section,
    evaluation_id: str,
    project_id: str,
    project_name: str,
    service_area: str,
    evaluators: list[str],
    outcome: str,
    beneficiaries: int,
) -> Event:
    rng, cal = s.rng, s.cal
    lo, hi = _OUTCOME_SCORES[outcome]
    overall = rng.randint(lo, hi)

    def near() -> int:
        return max(0, min(100, overall + rng.randint(-6, 6)))

    return s.event(
        "ProjectEvaluated",
        cal.at(rng, s.day(cal.day_of(10, 1))),
        None,
        {
            "evaluation_id": evaluation_id,
            "project_id": project_id,
            "project_name": project_name,
            "service_area": service_area,
            "period_start": cal.iso_date(rng.randint(0, 30)),
            "period_end": cal.iso_date(cal.day_of(9, 30)),
            "evaluator_ids": evaluators,
            "score_professional": near(),
            "score_effectiveness": near(),
            "score_financial": near(),
            "score_overall": overall,
            "outcome": outcome,
            "beneficiaries": beneficiaries,
        },
    )


def _service(
    s: _Section, service_id: str, area: str, project_id: str | None, person_times: int, station: str | None
) -> Event:
    rng = s.rng
    return s.event(
        "ServiceDelivered",
        s.cal.at(rng, s.day()),
        station,
        {
            "service_id": service_id,
            "service_area": area,
            "project_id": project_id,
            "person_times": person_times,
            "volunteer_count": rng.randint(0, 8),
        },
    )


def _training(s: _Section, training_id: str, topic: str, participants: int, station: str | None) -> Event:
    rng = s.rng
    return s.event(
        "TrainingHeld",
        s.cal.at(rng, s.day(), 9, 15),
        station,
        {
            "training_id": training_id,
            "topic": topic,
            "participants": participants,
            "hours": rng.choice((2, 3, 4, 6, 8, 16)),
        },
    )


def _certified(s: _Section, worker_id: str, level: str) -> Event:
    return s.event("WorkerCertified", s.cal.at(s.rng, s.day()), None, {"worker_id": worker_id, "level": level})


def _funded(s: _Section, project_id: str, name: str, programme: str, cents: int, day_range: tuple[int, int]) -> Event:
    return s.event(
        "ProjectFunded",
        s.cal.at(s.rng, s.day(*day_range)),
        None,
        {
            "project_id": project_id,
            "project_name": name,
            "programme": programme,
            "amount": _money(cents),
            "currency": s.currency,
        },
    )


def _volunteer(s: _Section, volunteer_id: str) -> Event:
    return s.event(
        "VolunteerRegistered",
        s.cal.at(s.rng, s.day(), 7, 23),
        None,
        {"volunteer_id": volunteer_id, "volunteer_name": s.people.name()},
    )


# =============================================================================
# Shenzhen Nanshan
# =============================================================================
_NS_HARDSHIP_AREAS: Final = (
    ("SOCIAL_ASSISTANCE", 50),
    ("ELDERLY", 30),
    ("DISABILITY", 10),
    ("FAMILY", 6),
    ("CHILD_WELFARE", 4),
)
_NS_OTHER_AREAS: Final = (("DRUG_REHAB", 30), ("CORRECTION_SUPPORT", 30), ("COMMUNITY_BUILDING", 25), ("YOUTH", 15))
_NS_NAMED_AREAS: Final[dict[str, str]] = {
    "优秀社区党委书记培养工作室": "COMMUNITY_BUILDING",
    "家有好邻-邻里互助计划": "COMMUNITY_BUILDING",
    "暖心相伴，从爱出发—社区高龄长者服务项目": "ELDERLY",
}
_THEMES: Final[dict[str, str]] = {
    "ELDERLY": "长者关爱",
    "COMMUNITY_BUILDING": "社区营造",
    "DRUG_REHAB": "禁毒宣教",
    "SOCIAL_ASSISTANCE": "困难群众帮扶",
    "CORRECTION_SUPPORT": "社区矫正帮扶",
    "CHILD_WELFARE": "儿童关爱",
    "COMMUNITY_GOVERNANCE": "基层治理",
    "SOCIAL_AFFAIRS": "社会事务",
    "SAFETY": "平安建设",
    "FAMILY": "家庭支持",
    "YOUTH": "青少年成长",
    "DISABILITY": "助残服务",
}
_TRAINING_TOPICS: Final = (
    "个案管理实务",
    "小组工作方法",
    "社区工作与五社联动",
    "社会工作伦理",
    "督导技巧",
    "禁毒社会工作实务",
    "长者服务与照护",
    "社会救助政策解读",
    "项目设计与评估",
    "危机干预",
)


def _nanshan(seed: int, cal: _Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = _Section(seed, cal, district)
    rng = s.rng
    stations = district.stations
    if not stations:
        raise ConfigError(f"demo data: org-units lists no stations for {district.code}")
    hardship = facts.value("hardship_case_files")
    workers = s.ids("NS-SW-", NS_WORKERS, 4)
    team = {st: workers[i :: len(stations)] for i, st in enumerate(stations)}

    # cases, their visits and closures
    n_cases = hardship + NS_OTHER_CASES
    is_hardship = [True] * hardship + [False] * NS_OTHER_CASES
    rng.shuffle(is_hardship)
    case_stations = _spread(rng, stations, n_cases)
    home = iter(_split(rng, facts.value("home_visits"), hardship, 1, what="home visits"))
    extra_hardship = iter(_split(rng, NS_HARDSHIP_OTHER_VISITS, hardship, 0, what="visits"))
    extra_other = iter(_split(rng, NS_OTHER_CASE_VISITS, NS_OTHER_CASES, 1, what="visits"))
    closed = set(rng.sample(range(n_cases), NS_CLOSED_CASES))
    for i in range(n_cases):
        station = case_stations[i]
        if is_hardship[i]:
            area = _pick(rng, _NS_HARDSHIP_AREAS)
            groups = [_pick(rng, (("LOW_INCOME", 55), ("SPECIAL_HARDSHIP", 30), ("BOTH", 15)))]
            if groups == ["BOTH"]:
                groups = ["LOW_INCOME", "SPECIAL_HARDSHIP"]
            if area == "ELDERLY" and rng.random() < 0.5:
                groups.append("ELDERLY_ALONE")
            if area == "DISABILITY":
                groups.append("DISABILITY")
            visit_types = ["HOME"] * next(home) + [
                rng.choice(("PHONE", "PHONE", "OUTREACH", "OFFICE")) for _ in range(next(extra_hardship))
            ]
        else:
            area = _pick(rng, _NS_OTHER_AREAS)
            groups = []
            visit_types = [rng.choice(("PHONE", "OFFICE", "OUTREACH", "ONLINE")) for _ in range(next(extra_other))]
        rng.shuffle(visit_types)
        yield from _case_events(
            s,
            _CasePlan(
                case_id=f"NS-{cal.year}-{i + 1:06d}",
                service_area=area,
                groups=groups,
                station=station,
                worker=rng.choice(team[station]),
                referral=_pick(rng, _REFERRALS_SC),
                visit_types=visit_types,
                closed=i in closed,
            ),
        )

    # project library: one evaluation per project
    n_projects = facts.value("project_library_projects")
    named = list(facts.named_projects)
    areas = list(facts.service_areas)
    library: list[tuple[str, str, str]] = []
    named_at = dict(zip(rng.sample(range(n_projects), len(named)), named, strict=True))
    for i in range(n_projects):
        pid = f"NS-PRJ-{i + 1:03d}"
        if i in named_at:
            name = named_at[i]
            area = _NS_NAMED_AREAS.get(name, rng.choice(areas))
        else:
            area = rng.choice(areas)
            name = f"南山项目库-{i + 1:03d}·{_THEMES.get(area, '社会工作')}"
        library.append((pid, name, area))
    experts = s.ids("NS-EXP-", facts.value("expert_pool"), 3)
    panel_order = list(range(n_projects))
    rng.shuffle(panel_order)
    outcomes = [_pick(rng, (("EXCELLENT", 25), ("PASS", 64), ("NEEDS_IMPROVEMENT", 9), ("FAIL", 2))) for _ in library]
    for rank, i in enumerate(panel_order):
        pid, name, area = library[i]
        panel = rng.sample(experts, NS_EVALUATORS_PER_PANEL)
        if rank < len(experts) and experts[rank] not in panel:
            panel[0] = experts[rank]  # every expert sits on at least one panel
        yield _evaluation(
            s, f"NS-EVA-{cal.year}-{i + 1:04d}", pid, name, area, panel, outcomes[i], rng.randint(80, 3000)
        )

    # services: the safety net (SOCIAL_ASSISTANCE) and other library services
    person_times = _split(rng, facts.value("safety_net_services"), NS_SAFETY_NET_SERVICES, 1, what="person-times")
    svc_stations = _spread(rng, stations, NS_SAFETY_NET_SERVICES)
    for k, (pt, st) in enumerate(zip(person_times, svc_stations, strict=True), start=1):
        yield _service(s, f"NS-SVC-{cal.year}-{k:06d}", "SOCIAL_ASSISTANCE", None, pt, st)
    others = [p for p in library if p[2] != "SOCIAL_ASSISTANCE"]
    for k in range(NS_SAFETY_NET_SERVICES + 1, NS_SAFETY_NET_SERVICES + NS_OTHER_SERVICES + 1):
        pid, _, area = rng.choice(others)
        yield _service(s, f"NS-SVC-{cal.year}-{k:06d}", area, pid, rng.randint(8, 120), rng.choice(stations))

    # training and certification
    participants = _split(rng, facts.value("training_person_times_3y"), NS_TRAININGS, 20, what="participants")
    for k, n in enumerate(participants, start=1):
        where = rng.choice(stations) if rng.random() < 0.5 else None
        yield _training(s, f"NS-TRN-{cal.year}-{k:04d}", rng.choice(_TRAINING_TOPICS), n, where)
    senior = facts.value("senior_social_workers_trained")
    intermediate = facts.value("intermediate_social_workers_trained")
    certified = rng.sample(workers, senior + intermediate)
    for k, worker in enumerate(certified):
        yield _certified(s, worker, "SENIOR" if k < senior else "INTERMEDIATE")


# =============================================================================
# Yancheng Tinghu
# =============================================================================
_TH_NAMED_AREAS: Final[dict[str, str]] = {
    "五星赋能": "COMMUNITY_GOVERNANCE",
    "助人先锋": "SOCIAL_AFFAIRS",
    "共享助老行": "ELDERLY",
    "共建幸福仓": "SOCIAL_ASSISTANCE",
    "爱在宝瓶": "CHILD_WELFARE",
    "同行护未来": "CHILD_WELFARE",
}
_TH_COMPANY_WORDS: Final = (
    "宏远",
    "恒通",
    "鑫源",
    "盛达",
    "新宇",
    "永泰",
    "汇丰源",
    "中天",
    "通达",
    "瑞祥",
    "金海",
    "九洲",
)
_TH_COMPANY_KINDS: Final = ("机械", "纺织", "建设", "新能源", "电子", "食品", "物流", "环保科技", "汽车配件", "置业")
_TH_SHOPS: Final = ("超市", "药房", "餐馆", "五金店", "服装店", "茶庄", "面包坊", "水果店", "粮油店", "眼镜店")
_TH_FOUNDATIONS: Final = ("江苏某公益基金会", "盐城市扶贫基金会", "亭湖区教育发展基金会", "苏北乡村振兴基金会")
_TH_OTHER_DONORS: Final = ("盐城市亭湖区商会", "亭湖区个体劳动者协会", "盐城市青年企业家协会", "亭湖区律师协会")


def _tinghu(seed: int, cal: _Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = _Section(seed, cal, district)
    rng = s.rng
    n_projects = facts.value("service_projects_cumulative")
    n_featured = facts.value("featured_projects")
    n_vp = facts.value("venture_philanthropy_projects")
    projects = [f"TH-PRJ-{i:04d}" for i in range(1, n_projects + 1)]
    chosen = rng.sample(projects, n_featured + n_vp)
    featured, venture = chosen[:n_featured], chosen[n_featured:]
    names = list(facts.named_projects)[:n_featured]
    names += [f"特色项目-{k:02d}" for k in range(len(names) + 1, n_featured + 1)]
    areas = list(facts.service_areas)
    area_of = {p: rng.choice(areas) for p in projects}
    for pid, name in zip(featured, names, strict=True):
        area_of[pid] = _TH_NAMED_AREAS.get(name, area_of[pid])

    # funding: the featured projects (government purchase, synthetic amounts) and venture philanthropy (figures)
    for pid, name in zip(featured, names, strict=True):
        yield _funded(s, pid, name, "GOVERNMENT_PURCHASE", rng.randint(80, 300) * 100_000, (0, cal.day_of(3, 31)))
    vp_total = facts.value("venture_philanthropy_investment") * 100
    vp_names = [f"公益创投-{k:02d}" for k in range(1, n_vp + 1)]
    for pid, name, cents in zip(venture, vp_names, _split_money(rng, vp_total, n_vp, what="CNY"), strict=True):
        yield _funded(s, pid, name, "VENTURE_PHILANTHROPY", cents, (cal.day_of(2, 1), cal.day_of(5, 31)))

    # services of all 418 projects
    per_project = _split(rng, TH_SERVICE_EVENTS, n_projects, 1, what="services")
    person_times = iter(
        _split(rng, facts.value("people_served_person_times"), TH_SERVICE_EVENTS, 1, what="person-times")
    )
    k = 0
    for pid, n in zip(projects, per_project, strict=True):
        for _ in range(n):
            k += 1
            yield _service(s, f"TH-SVC-{cal.year}-{k:05d}", area_of[pid], pid, next(person_times), None)

    # evaluations of the venture-philanthropy projects
    experts = s.ids("TH-EXP-", TH_EXPERTS, 3)
    beneficiaries = _split(rng, facts.value("venture_philanthropy_beneficiaries"), n_vp, 100, what="beneficiaries")
    for i, (pid, name, people) in enumerate(zip(venture, vp_names, beneficiaries, strict=True), start=1):
        outcome = _pick(rng, (("EXCELLENT", 30), ("PASS", 65), ("NEEDS_IMPROVEMENT", 5)))
        yield _evaluation(
            s, f"TH-EVA-{cal.year}-{i:03d}", pid, name, area_of[pid], rng.sample(experts, 3), outcome, people
        )

    # workers: licensed social workers and the generalist certificates (extra people)
    licensed = facts.value("licensed_social_workers")
    levels: list[str] = []
    for level, per_mille in TH_LICENSED_LEVELS:
        levels += [level] * (licensed * per_mille // 1000)
    levels += ["ASSISTANT"] * (licensed - len(levels))
    rng.shuffle(levels)
    for worker, level in zip(s.ids("TH-SW-", licensed, 5), levels, strict=True):
        yield _certified(s, worker, level)
    for worker in s.ids("TH-CW-", facts.value("generalist_certificates"), 5):
        yield _certified(s, worker, "GENERALIST")

    # training
    for k, n in enumerate(_split(rng, facts.value("training_person_times"), TH_TRAININGS, 20), start=1):
        yield _training(s, f"TH-TRN-{cal.year}-{k:03d}", rng.choice(_TRAINING_TOPICS), n, None)

    # charity federation donations
    total = facts.value("charity_donations_last_year") * 100
    budgets = [total * share // 1000 for _, _, share in TH_DONATIONS]
    budgets[0] += total - sum(budgets)
    organisational = sum(n for kind, n, _ in TH_DONATIONS if kind != "INDIVIDUAL")
    reach = iter(_split(rng, facts.value("charity_beneficiaries_last_year"), organisational, 1, what="beneficiaries"))
    k = 0
    for (kind, n, _), budget in zip(TH_DONATIONS, budgets, strict=True):
        for cents in _split_money(rng, budget, n, skew=2, what=f"CNY from {kind}"):
            k += 1
            yield s.event(
                "DonationReceived",
                cal.at(rng, s.day()),
                None,
                {
                    "donation_id": f"TH-DON-{cal.year}-{k:05d}",
                    "amount": _money(cents),
                    "currency": "CNY",
                    "donor_type": kind,
                    "donor_name": _tinghu_donor(s, kind),
                    "project_id": rng.choice(featured) if kind != "INDIVIDUAL" and rng.random() < 0.4 else None,
                    "beneficiaries": None if kind == "INDIVIDUAL" else next(reach),
                },
            )

    # registered volunteers
    for vid in s.ids("TH-VOL-", facts.value("registered_volunteers"), 7):
        yield _volunteer(s, vid)


def _tinghu_donor(s: _Section, kind: str) -> str:
    rng = s.rng
    if kind == "INDIVIDUAL":
        return s.people.name()
    if kind == "ENTERPRISE":
        return f"盐城{rng.choice(_TH_COMPANY_WORDS)}{rng.choice(_TH_COMPANY_KINDS)}有限公司"
    if kind == "MERCHANT":
        return f"亭湖{rng.choice(_TH_COMPANY_WORDS)}{rng.choice(_TH_SHOPS)}"
    if kind == "FOUNDATION":
        return rng.choice(_TH_FOUNDATIONS)
    return rng.choice(_TH_OTHER_DONORS)


# =============================================================================
# Jinjiang
# =============================================================================
_JJ_TOWNS: Final = (
    "青阳街道",
    "梅岭街道",
    "西园街道",
    "罗山街道",
    "灵源街道",
    "新塘街道",
    "池店镇",
    "安海镇",
    "磁灶镇",
    "内坑镇",
    "紫帽镇",
    "东石镇",
    "永和镇",
    "英林镇",
    "金井镇",
    "龙湖镇",
    "深沪镇",
    "西滨镇",
)
_JJ_MICRO_THEMES: Final = ("长者助餐点", "儿童托管", "社区微更新", "邻里互助", "健康义诊", "文化活动室", "残疾人康复")
_JJ_NAMED_AREAS: Final[dict[str, str]] = {"白兰花家庭驿站": "FAMILY", "儿童之家四点钟学校": "CHILD_WELFARE"}


def _jinjiang(seed: int, cal: _Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = _Section(seed, cal, district)
    rng = s.rng
    n_micro = facts.value("micro_projects_since_2023")
    amounts = _split_money(rng, facts.value("micro_projects_funding") * 100, n_micro, what="CNY")
    for i, cents in enumerate(amounts, start=1):
        name = f"民生微实事-{i:03d}·{rng.choice(_JJ_TOWNS)}{rng.choice(_JJ_MICRO_THEMES)}"
        yield _funded(s, f"JJ-MS-{i:03d}", name, "MICRO_PROJECT", cents, (0, cal.day_of(9, 30)))

    excellent = facts.value("quality_projects_selected")
    named = list(facts.named_projects)
    outcomes = ["EXCELLENT"] * excellent + ["NEEDS_IMPROVEMENT"] * JJ_NEEDS_IMPROVEMENT
    outcomes += ["PASS"] * (JJ_EVALUATED_PROJECTS - len(outcomes))
    order = list(range(JJ_EVALUATED_PROJECTS))
    rng.shuffle(order)
    experts = s.ids("JJ-EXP-", JJ_EXPERTS, 3)
    for i in range(JJ_EVALUATED_PROJECTS):
        outcome = outcomes[order[i]]
        rank = order[i]  # the named projects take the first excellent slots
        if outcome == "EXCELLENT" and rank < len(named):
            name = named[rank]
            area = _JJ_NAMED_AREAS.get(name, "COMMUNITY_BUILDING")
        else:
            area = rng.choice(("ELDERLY", "CHILD_WELFARE", "FAMILY", "DISABILITY", "COMMUNITY_BUILDING", "YOUTH"))
            name = f"晋江社工服务项目-{i + 1:02d}·{_THEMES[area]}"
        yield _evaluation(
            s,
            f"JJ-EVA-{cal.year}-{i + 1:03d}",
            f"JJ-PRJ-{i + 1:03d}",
            name,
            area,
            rng.sample(experts, 3),
            outcome,
            rng.randint(100, 3000),
        )

    workers = s.ids(
        "JJ-SW-", facts.value("junior_supervisors_selected") + facts.value("supervisor_assistants_selected"), 4
    )
    supervisors = facts.value("junior_supervisors_selected")
    for k, worker in enumerate(workers):
        yield _certified(s, worker, "SUPERVISOR" if k < supervisors else "OTHER")


# =============================================================================
# Illustrative districts (no source figures)
# =============================================================================
_ILL_PREFIX: Final[dict[str, str]] = {
    "guangzhou-tianhe": "GZTH",
    "zhuhai-xiangzhou": "ZHXZ",
    "hk-sham-shui-po": "HKSSP",
    "hk-kwun-tong": "HKKT",
    "hk-tuen-mun": "HKTM",
    "hk-sha-tin": "HKST",
    "mo-fatima": "MOFAT",
    "mo-sao-lourenco": "MOSL",
    "mo-taipa": "MOTAI",
}
_ILL_AREAS: Final = (
    ("ELDERLY", 30),
    ("FAMILY", 20),
    ("YOUTH", 15),
    ("CHILD_WELFARE", 10),
    ("DISABILITY", 10),
    ("SOCIAL_ASSISTANCE", 10),
    ("MEDICAL", 5),
)
_ILL_PROJECTS_SC: Final = (
    "长者关怀计划",
    "家庭支援计划",
    "青少年成长计划",
    "社区互助网络",
    "残障共融计划",
    "照顾者喘息服务",
)
_ILL_PROJECTS_TC: Final = (
    "長者關懷計劃",
    "家庭支援計劃",
    "青少年成長計劃",
    "社區互助網絡",
    "殘障共融計劃",
    "照顧者喘息服務",
)
_ILL_DONORS_SC: Final = ("示例企业有限公司", "示例慈善基金会", "示例商户")
_ILL_DONORS_TC: Final = ("示例企業有限公司", "示例慈善基金會", "示例商戶")


def _illustrative(seed: int, cal: _Calendar, district: District) -> Iterator[Event]:
    s = _Section(seed, cal, district)
    rng = s.rng
    prefix = _ILL_PREFIX[district.code]
    workers = s.ids(f"{prefix}-SW-", 12, 4)
    per_case = iter(_split(rng, ILL_VISITS, ILL_CASES, 1, what="visits"))
    closed = set(rng.sample(range(ILL_CASES), ILL_CLOSED))
    for i in range(ILL_CASES):
        area = _pick(rng, _ILL_AREAS)
        groups: list[str] = []
        if rng.random() < 0.4:
            groups = [rng.choice(("ELDERLY_ALONE", "LOW_INCOME", "DISABILITY", "OTHER"))]
        visit_types = [
            _pick(rng, (("HOME", 50), ("PHONE", 25), ("OFFICE", 15), ("ONLINE", 10))) for _ in range(next(per_case))
        ]
        yield from _case_events(
            s,
            _CasePlan(
                case_id=f"{prefix}-{cal.year}-{i + 1:05d}",
                service_area=area,
                groups=groups,
                station=None,
                worker=rng.choice(workers),
                referral=ILLUSTRATIVE_REFERRAL,
                visit_types=visit_types,
                closed=i in closed,
            ),
        )
    names = _ILL_PROJECTS_TC if s.people.traditional else _ILL_PROJECTS_SC
    projects = [(f"{prefix}-PRJ-{i + 1:02d}", names[i % len(names)] + ILLUSTRATIVE_MARK) for i in range(ILL_PROJECTS)]
    project_area = {pid: _pick(rng, _ILL_AREAS) for pid, _ in projects}
    for pid, name in projects[:ILL_FUNDED]:
        programme = rng.choice(("GOVERNMENT_PURCHASE", "CHARITY"))
        yield _funded(s, pid, name, programme, rng.randint(200, 1500) * 100_000, (0, cal.day_of(4, 30)))
    experts = s.ids(f"{prefix}-EXP-", 6, 3)
    for i, (pid, name) in enumerate(projects, start=1):
        outcome = _pick(rng, (("EXCELLENT", 25), ("PASS", 65), ("NEEDS_IMPROVEMENT", 10)))
        yield _evaluation(
            s,
            f"{prefix}-EVA-{cal.year}-{i:03d}",
            pid,
            name,
            project_area[pid],
            rng.sample(experts, 3),
            outcome,
            rng.randint(50, 800),
        )
    for k in range(1, ILL_SERVICES + 1):
        pid, _ = rng.choice(projects)
        yield _service(s, f"{prefix}-SVC-{cal.year}-{k:04d}", project_area[pid], pid, rng.randint(5, 60), None)
    donors = _ILL_DONORS_TC if s.people.traditional else _ILL_DONORS_SC
    for k in range(1, ILL_DONATIONS + 1):
        kind = _pick(rng, (("INDIVIDUAL", 60), ("ENTERPRISE", 20), ("FOUNDATION", 10), ("MERCHANT", 10)))
        donor = s.people.name() if kind == "INDIVIDUAL" else donors[(k + len(kind)) % len(donors)]
        cents = (rng.randint(1, 50) * 100 if kind == "INDIVIDUAL" else rng.randint(5, 200) * 1000) * 100
        yield s.event(
            "DonationReceived",
            cal.at(rng, s.day()),
            None,
            {
                "donation_id": f"{prefix}-DON-{cal.year}-{k:04d}",
                "amount": _money(cents),
                "currency": s.currency,
                "donor_type": kind,
                "donor_name": donor,
                "project_id": rng.choice(projects)[0] if kind != "INDIVIDUAL" else None,
                "beneficiaries": rng.randint(5, 200) if kind != "INDIVIDUAL" else None,
            },
        )
    for k in range(1, ILL_TRAININGS + 1):
        yield _training(s, f"{prefix}-TRN-{cal.year}-{k:02d}", rng.choice(_TRAINING_TOPICS), rng.randint(15, 60), None)
    if district.region == "GD":
        for worker in rng.sample(workers, ILL_CERTIFIED_GD):
            yield _certified(s, worker, rng.choice(("ASSISTANT", "INTERMEDIATE")))
    for vid in s.ids(f"{prefix}-VOL-", ILL_VOLUNTEERS, 6):
        yield _volunteer(s, vid)


# =============================================================================
# Public API
# =============================================================================
def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError([("year", f"must be an integer between {MIN_YEAR} and {MAX_YEAR}, got {year!r}")])


def _district(units: OrgUnits, code: str) -> District:
    found = units.district(code)
    if found is None:
        raise ConfigError(f"demo data: district {code!r} is not in org-units.json")
    return found


def generate(
    seed: int, year: int = 2026, *, facts: SeedFacts | None = None, units: OrgUnits | None = None
) -> Iterator[Event]:
    """The demo events of ``(seed, year)`` in the JSON ingest form, produced lazily and deterministically.

    ``facts`` and ``units`` default to the shipped ``seed-facts.json`` and ``org-units.json``.
    Raises :class:`ValidationError` (field ``year``) at once for a year outside [MIN_YEAR, MAX_YEAR],
    and :class:`ConfigError` if a district it needs is missing from the facts or org units.
    """
    _check_year(year)
    facts = facts or seed_facts()
    units = units or org_units()
    sources = [(facts.district(code), _district(units, code)) for code in SOURCE_DISTRICTS]
    illustrative = [_district(units, code) for code in ILLUSTRATIVE_DISTRICTS]
    return _stream(seed, _Calendar(year), sources, illustrative)


def _stream(
    seed: int, cal: _Calendar, sources: list[tuple[DistrictFacts, District]], illustrative: list[District]
) -> Iterator[Event]:
    builders = {NANSHAN: _nanshan, TINGHU: _tinghu, JINJIANG: _jinjiang}
    for facts, district in sources:
        yield from builders[district.code](seed, cal, facts, district)
    for district in illustrative:
        yield from _illustrative(seed, cal, district)


def planned_counts(facts: SeedFacts | None = None, units: OrgUnits | None = None) -> dict[str, dict[str, int]]:
    """Events per district and type of the full stream; the same for every seed and year."""
    facts = facts or seed_facts()
    units = units or org_units()
    ns, th, jj = facts.district(NANSHAN), facts.district(TINGHU), facts.district(JINJIANG)
    hardship = ns.value("hardship_case_files")
    out: dict[str, dict[str, int]] = {
        NANSHAN: {
            "CaseOpened": hardship + NS_OTHER_CASES,
            "VisitMade": ns.value("home_visits") + NS_HARDSHIP_OTHER_VISITS + NS_OTHER_CASE_VISITS,
            "CaseClosed": NS_CLOSED_CASES,
            "ProjectEvaluated": ns.value("project_library_projects"),
            "ServiceDelivered": NS_SAFETY_NET_SERVICES + NS_OTHER_SERVICES,
            "TrainingHeld": NS_TRAININGS,
            "WorkerCertified": ns.value("senior_social_workers_trained")
            + ns.value("intermediate_social_workers_trained"),
        },
        TINGHU: {
            "ProjectFunded": th.value("featured_projects") + th.value("venture_philanthropy_projects"),
            "ServiceDelivered": TH_SERVICE_EVENTS,
            "ProjectEvaluated": th.value("venture_philanthropy_projects"),
            "WorkerCertified": th.value("licensed_social_workers") + th.value("generalist_certificates"),
            "TrainingHeld": TH_TRAININGS,
            "DonationReceived": sum(n for _, n, _ in TH_DONATIONS),
            "VolunteerRegistered": th.value("registered_volunteers"),
        },
        JINJIANG: {
            "ProjectFunded": jj.value("micro_projects_since_2023"),
            "ProjectEvaluated": JJ_EVALUATED_PROJECTS,
            "WorkerCertified": jj.value("junior_supervisors_selected") + jj.value("supervisor_assistants_selected"),
        },
    }
    for code in ILLUSTRATIVE_DISTRICTS:
        counts = {
            "CaseOpened": ILL_CASES,
            "VisitMade": ILL_VISITS,
            "CaseClosed": ILL_CLOSED,
            "ProjectFunded": ILL_FUNDED,
            "ProjectEvaluated": ILL_PROJECTS,
            "ServiceDelivered": ILL_SERVICES,
            "DonationReceived": ILL_DONATIONS,
            "TrainingHeld": ILL_TRAININGS,
            "VolunteerRegistered": ILL_VOLUNTEERS,
        }
        if _district(units, code).region == "GD":
            counts["WorkerCertified"] = ILL_CERTIFIED_GD
        out[code] = counts
    return out


def planned_total(facts: SeedFacts | None = None, units: OrgUnits | None = None) -> int:
    """Number of events of the full stream."""
    return sum(sum(c.values()) for c in planned_counts(facts, units).values())


@dataclass
class WriteSummary:
    """What :func:`write_jsonl` wrote."""

    events: int = 0
    bytes: int = 0
    sha256: str = ""
    counts: dict[str, Counter[str]] = field(default_factory=dict)


def encode_event(doc: Event) -> bytes:
    """One JSON Lines record: compact, UTF-8 (Chinese unescaped), key order as built, newline-terminated."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_jsonl(events: Iterable[Event], fp: IO[bytes]) -> WriteSummary:
    """Write ``events`` to the binary file ``fp`` as JSON Lines; count them per district and type."""
    summary = WriteSummary()
    digest = hashlib.sha256()
    for doc in events:
        line = encode_event(doc)
        fp.write(line)
        digest.update(line)
        summary.events += 1
        summary.bytes += len(line)
        summary.counts.setdefault(doc["district"], Counter())[doc["type"]] += 1
    summary.sha256 = digest.hexdigest()
    return summary


def build_metadata(
    seed: int, year: int, summary: WriteSummary, *, limit: int | None = None, facts: SeedFacts | None = None
) -> dict[str, Any]:
    """The sidecar document describing a written stream (seed, year, counts, what is illustrative)."""
    complete = limit is None or summary.events < limit
    return {
        "generator": "demo.data",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "year": year,
        "time_zone": f"{TIME_ZONE_NAME} (+08:00)",
        "time_window": {"from": f"{year}-01-01", "to": date(year, *DATA_AS_OF).isoformat()},
        "complete": complete,
        "limit": limit,
        "events": summary.events,
        "bytes": summary.bytes,
        "sha256": summary.sha256,
        "counts": {d: dict(sorted(c.items())) for d, c in summary.counts.items()},
        "source_districts": list(SOURCE_DISTRICTS),
        "illustrative_districts": list(ILLUSTRATIVE_DISTRICTS),
        "illustrative_note": (
            "The source articles give no figures for Hong Kong, Macao, Guangzhou Tianhe or Zhuhai Xiangzhou; "
            f"their events are illustrative only (cases: referral_source {ILLUSTRATIVE_REFERRAL!r}, station null; "
            f"project names end with {ILLUSTRATIVE_MARK!r})."
        ),
        "synthetic_detail": (
            "Around the figures the source districts also hold synthetic detail that is not a source figure: "
            "Nanshan non-hardship cases, non-HOME visits, case closures, non-SOCIAL_ASSISTANCE services, evaluation "
            "scores and beneficiaries; Tinghu featured-project funding amounts; Jinjiang PASS / NEEDS_IMPROVEMENT "
            "evaluations."
        ),
        "facts": [
            {"district": c.district, "metric": c.metric, "value": c.value, "carried": c.carried}
            for c in fact_coverage(facts)
        ],
    }


def write_metadata(meta: dict[str, Any], fp: IO[bytes]) -> None:
    """Write the sidecar document as indented UTF-8 JSON."""
    fp.write((json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def sidecar_name(out_name: str) -> str:
    """``FILE`` -> ``FILE.meta.json``."""
    return f"{out_name}.meta.json"
