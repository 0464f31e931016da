"""The chaos run's input and its independent expectations: a large known stream, poison records, a fault plan.

Pure but for :func:`shipped_rates` (which reads the shipped rates file) and the
poison encoders (which register the raw schemas in the registry they are given).

- :func:`chaos_stream` is :func:`tests.indicator_stream.known_stream` scaled
  up: the same four districts, event types and value ranges, built in blocks
  whose ids carry the block number, so 100,000 events have unique natural ids
  and are made in a few seconds. Unlike the known stream, a visit's id never
  embeds its case's id (the real gateway refuses such a visit: the
  disclosure check of docs/gateway.md), so every event crosses.
- :func:`shipped_rates` gives the dated rates of ``fx/rates.yaml`` in the form
  of :data:`tests.indicator_stream.RATES`: the projection worker under test
  converts with the shipped file, and ``expected`` must convert with the same
  rates (the rates are input, not computation).
- :func:`poison_records` are raw records a district could write but the gateway
  must refuse, each with the stage and a fragment of the reason its dead letter
  must name.
- :func:`fault_plan` is the seeded list of faults (the replicator's kills and
  the target broker's restart among them) and the chunk of the stream after
  which each is injected, :func:`spread` deals the poison records to the
  chunks: the same seed gives the same plan, stream and poison.
- :func:`stream_regions` are the regions the stream publishes in: the chaos
  cluster homes them, the replication target the rest.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final, TypeVar

import yaml

from hub import naming
from hub.schemas import schema_text
from hub.serde import AvroSerializer, SchemaSource
from hub.validation import validate_event
from hub.wire import frame
from projections.fx import default_rates_path
from tests.factories import valid_event_doc
from tests.indicator_stream import DONOR_TYPES, LEVELS, PLACES, PROGRAMMES, Doc

T = TypeVar("T")

#: The partner whose subscriber runs through the faults, and the zone it is entitled to.
PARTNER: Final = "hk"
PARTNER_ZONE: Final = "gba"


# -- the stream -------------------------------------------------------------------------------------------
def _stamp(rng: random.Random, month: int | None = None) -> str:
    month = month or rng.randint(1, 11)
    return f"2026-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00"


def _block(rng: random.Random, block: int) -> Iterator[Doc]:
    """One block: every district of :data:`PLACES`, every event type, ids tagged with ``block``."""
    for district, (region, stations, currency, _zones) in PLACES.items():
        place = {"region": region, "district": district}
        tag = f"{district[:2].upper()}{block:05d}"

        def doc(event_type: str, *, _place: dict[str, str] = place, _stations: Any = stations, **fields: Any) -> Doc:
            station = rng.choice(_stations)
            return valid_event_doc(event_type, event_id=_uuid(rng), **_place, station=station, **fields)

        for c in range(rng.randint(9, 14)):
            case_id = f"{tag}-C-{c:03d}"
            opened_month = rng.randint(1, 10)
            groups = rng.choice([[], ["LOW_INCOME"], ["SPECIAL_HARDSHIP", "ELDERLY_ALONE"], ["DISABILITY"]])
            yield doc(
                "CaseOpened",
                case_id=case_id,
                occurred_at=_stamp(rng, opened_month),
                vulnerable_groups=groups,
                client_id=f"{tag}-P-{c:03d}",
                client_id_number=None,
                client_phone=None,
            )
            for v in range(rng.randint(0, 3)):
                yield doc(
                    "VisitMade",
                    visit_id=f"{tag}-V-{c:03d}-{v}",
                    case_id=case_id,
                    visit_type=rng.choice(["HOME", "HOME", "PHONE", "OFFICE"]),
                    volunteer_count=rng.randint(0, 3),
                    occurred_at=_stamp(rng, rng.randint(opened_month + 1, 11)),
                )
            if rng.random() < 0.4:
                yield doc("CaseClosed", case_id=case_id, occurred_at=_stamp(rng, rng.randint(opened_month + 1, 12)))
        for n in range(rng.randint(5, 9)):
            yield doc(
                "DonationReceived",
                donation_id=f"{tag}-D-{n}",
                amount=f"{rng.randint(1, 90000)}.{rng.randint(0, 99):02d}",
                currency=currency if rng.random() < 0.8 else "CNY",
                donor_type=rng.choice(DONOR_TYPES),
                beneficiaries=rng.choice([None, rng.randint(1, 400)]),
                project_id=f"{tag}-PRJ-{rng.randint(1, 4)}",
                occurred_at=_stamp(rng, rng.randint(1, 12)),
            )
        for n in range(rng.randint(3, 6)):
            yield doc(
                "ProjectEvaluated",
                evaluation_id=f"{tag}-E-{n}",
                project_id=f"{tag}-P-{rng.randint(1, 4)}",
                outcome=rng.choice(["EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL"]),
                score_overall=rng.randint(40, 99),
                beneficiaries=rng.randint(10, 3000),
                evaluator_ids=[f"{tag}-X-{rng.randint(1, 5)}"],
                occurred_at=_stamp(rng),
            )
        for _ in range(rng.randint(3, 7)):
            yield doc(
                "ProjectFunded",
                project_id=f"{tag}-P-{rng.randint(1, 5)}",
                programme=rng.choice(PROGRAMMES),
                amount=f"{rng.randint(1000, 900000)}.00",
                currency=currency,
                occurred_at=_stamp(rng),
            )
        for n in range(rng.randint(4, 8)):
            yield doc(
                "ServiceDelivered",
                service_id=f"{tag}-S-{n}",
                service_area=rng.choice(["SOCIAL_ASSISTANCE", "ELDERLY", "YOUTH"]),
                project_id=rng.choice([None, f"{tag}-P-{rng.randint(1, 3)}"]),
                person_times=rng.randint(1, 500),
                volunteer_count=rng.randint(0, 9),
                occurred_at=_stamp(rng),
            )
        for n in range(rng.randint(1, 4)):
            yield doc(
                "TrainingHeld", training_id=f"{tag}-T-{n}", participants=rng.randint(5, 90), occurred_at=_stamp(rng)
            )
        for _ in range(rng.randint(3, 8)):
            yield doc(
                "WorkerCertified",
                worker_id=f"{tag}-W-{rng.randint(1, 6)}",
                level=rng.choice(LEVELS),
                occurred_at=_stamp(rng),
            )
        for n in range(rng.randint(2, 9)):
            yield doc("VolunteerRegistered", volunteer_id=f"{tag}-VOL-{n}", occurred_at=_stamp(rng))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def chaos_stream(events: int, seed: int) -> list[Doc]:
    """``events`` raw documents of the known stream's shape (see the module docstring), the same for the same
    seed (event ids included); every closing follows its opening."""
    rng = random.Random(f"chaos stream {seed}")
    out: list[Doc] = []
    block = 0
    while len(out) < events:
        out.extend(_block(rng, block))
        block += 1
    return out[:events]


def shipped_rates() -> dict[str, list[tuple[date, Decimal]]]:
    """The rates of the shipped ``fx/rates.yaml``, as :data:`tests.indicator_stream.RATES` holds them."""
    doc = yaml.safe_load(default_rates_path().read_text(encoding="utf-8"))
    out: dict[str, list[tuple[date, Decimal]]] = {str(doc["base"]): [(date.min, Decimal(1))]}
    for currency, entries in doc["rates"].items():
        dated = sorted((_as_date(e["valid_from"]), Decimal(str(e["rate"]))) for e in entries)
        out[str(currency)] = [(date.min, dated[0][1]), *dated[1:]] if dated[0][0] > date.min else dated
    return out


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def stream_regions() -> frozenset[str]:
    """The regions whose districts the stream publishes in (those of :data:`PLACES`)."""
    return frozenset(region for region, *_ in PLACES.values())


def entitled(docs: list[Doc], zone: str = PARTNER_ZONE) -> set[str]:
    """The event ids of ``docs`` that cross into ``zone`` (the partner's entitlement)."""
    return {d["event_id"] for d in docs if zone in PLACES[d["district"]][3]}


# -- poison ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Poison:
    """A raw record the gateway must dead-letter: where it goes, its bytes, and what its dead letter must say."""

    label: str
    region: str
    district: str
    topic: str
    key: bytes
    value: bytes
    stage: str
    reason: str
    """A fragment the dead letter's reason must contain."""


KINDS: Final = (
    "garbage",
    "bad magic byte",
    "unknown schema id",
    "truncated avro",
    "out of range",
    "wrong district",
    "leaks its case id",
)


Made = tuple[bytes, str, str]
"""A poison record's value, and the stage and reason fragment of its dead letter."""


def poison_records(count: int, seed: int, registry: SchemaSource) -> list[Poison]:
    """``count`` poison records, the kinds in turn, over the districts of :data:`PLACES` (seeded)."""
    rng = random.Random(f"chaos poison {seed}")
    serializer = AvroSerializer(registry, schema_text("raw", "VisitMade"))

    def encode(topic: str, record: dict[str, Any]) -> bytes:
        return serializer(record, naming.subject_for(topic))

    def garbage(n: int, region: str, district: str, topic: str) -> Made:
        return bytes([0]) * rng.randint(1, 4), "decode", "shorter than the 5-byte Confluent header"

    def bad_magic(n: int, region: str, district: str, topic: str) -> Made:
        return bytes([rng.randint(1, 255)]) + rng.randbytes(12), "decode", "magic byte"

    def unknown_id(n: int, region: str, district: str, topic: str) -> Made:
        return frame(2_000_000_000 + n, rng.randbytes(8)), "decode", f"schema id {2_000_000_000 + n}"

    def truncated(n: int, region: str, district: str, topic: str) -> Made:
        whole = encode(topic, validate_event(_visit(region, district, n)).record)
        return whole[: 5 + (len(whole) - 5) // 3], "decode", "does not decode with the writer schema"

    def out_of_range(n: int, region: str, district: str, topic: str) -> Made:
        record = validate_event(_visit(region, district, n)).record | {"duration_minutes": 5000 + n}
        return encode(topic, record), "validate", "duration_minutes"

    def wrong_district(n: int, region: str, district: str, topic: str) -> Made:
        # a valid event of another district, written to this district's topic
        elsewhere = next(d for d in PLACES if d != district)
        record = validate_event(_visit(PLACES[elsewhere][0], elsewhere, n)).record
        return encode(topic, record), "validate", "does not match the topic"

    def leaking(n: int, region: str, district: str, topic: str) -> Made:
        # valid, but a kept field carries the raw value of a pseudonymised one: the agreement's check refuses it
        doc = _visit(region, district, n) | {"visit_id": f"POISON-C-{n}-V1"}
        return encode(topic, validate_event(doc).record), "policy", "visit_id"

    makers: dict[str, Callable[[int, str, str, str], Made]] = {
        "garbage": garbage,
        "bad magic byte": bad_magic,
        "unknown schema id": unknown_id,
        "truncated avro": truncated,
        "out of range": out_of_range,
        "wrong district": wrong_district,
        "leaks its case id": leaking,
    }
    assert set(makers) == set(KINDS)
    districts = sorted(PLACES)
    out: list[Poison] = []
    for n in range(count):
        label = KINDS[n % len(KINDS)]
        district = rng.choice(districts)
        region = PLACES[district][0]
        topic = naming.raw_topic(region, district, "VisitMade")
        value, stage, reason = makers[label](n, region, district, topic)
        out.append(Poison(label, region, district, topic, f"poison-{seed}-{n}".encode(), value, stage, reason))
    return out


def _visit(region: str, district: str, n: int) -> Doc:
    stations = PLACES[district][1]
    return valid_event_doc(
        "VisitMade",
        event_id=str(uuid.UUID(int=n + 1, version=4)),
        region=region,
        district=district,
        station=stations[n % len(stations)],
        case_id=f"POISON-C-{n}",
        visit_id=f"POISON-V-{n}",
    )


# -- the faults ---------------------------------------------------------------------------------------------
#: SIGKILL one process and start it again; restart a broker or the registry; re-publish a slice of the stream.
KILLS: Final = ("kill gateway", "kill projection worker", "kill subscriber", "kill replicator")
ONCE: Final = ("restart broker", "restart registry", "restart target broker", "republish")
#: The replicator is SIGKILLed this long (at most, seeded) after it has records to copy: any point of its cycle.
KILL_DELAY_S: Final = 2.0
#: Faults injected halfway through publishing their chunk: the replicator copies what arrives within a fraction
#: of a second, so only a chunk still being published keeps it busy through the fault.
MID_CHUNK: Final = frozenset({"kill replicator", "restart target broker"})


@dataclass(frozen=True)
class Fault:
    what: str
    after_chunk: int
    """Injected once this chunk of the stream (1-based) is published (halfway through it for the faults of
    :data:`MID_CHUNK`), while the pipeline is busy with it."""
    delay_s: float = 0.0
    """How long after the process is busy it is killed (the replicator's kills; 0 for the others)."""

    @property
    def mid_chunk(self) -> bool:
        return self.what in MID_CHUNK

    def __str__(self) -> str:
        return f"{self.what} after {self.after_chunk}" + (f" (+{self.delay_s:.2f}s)" if self.delay_s else "")


def fault_plan(seed: int, kills: int, chunks: int) -> list[Fault]:
    """``kills`` SIGKILLs of each process, one restart of each broker and of the registry and one
    re-publication, each after another chunk from the second on (so that each finds the pipeline busy with a
    chunk of its own), in the order they are injected; each replicator kill lands a seeded delay after the
    replicator is busy. Same seed, same plan."""
    faults = [what for what in KILLS for _ in range(kills)] + list(ONCE)
    assert len(faults) < chunks, f"{len(faults)} faults need more than {chunks} chunks"
    rng = random.Random(f"chaos faults {seed}")
    rng.shuffle(faults)
    after = rng.sample(range(2, chunks + 1), len(faults))
    delays = [round(rng.uniform(0.0, KILL_DELAY_S), 2) if what == "kill replicator" else 0.0 for what in faults]
    return sorted(
        (Fault(what, n, d) for what, n, d in zip(faults, after, delays, strict=True)), key=lambda f: f.after_chunk
    )


def spread(items: Sequence[T], chunks: int, seed: int) -> list[list[T]]:
    """``items`` dealt to ``chunks`` chunks at seeded places, their order kept (for the poison records)."""
    rng = random.Random(f"chaos spread {seed}")
    places = sorted(rng.randrange(chunks) for _ in items)
    out: list[list[T]] = [[] for _ in range(chunks)]
    for place, item in zip(places, items, strict=True):
        out[place].append(item)
    return out
