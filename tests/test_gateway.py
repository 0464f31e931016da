"""The gateway against the real broker and registry: the managed process, raw events in, topics read back.

Every test publishes events with ids of its own (a fresh token) through the
district SDK and reads what the gateway wrote. The kill test SIGKILLs the
gateway mid-stream and restarts it; it runs last and leaves it running.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from hub import naming
from hub.dlq import decode_dead_letter
from hub.gateway import launcher
from hub.kafka_clients import connection_config
from hub.kafka_reader import read_topic
from hub.publishing.publisher import Ack, Publisher
from hub.registry import launcher as registry_service
from hub.registry.client import RegistryClient
from hub.schemas import schema_text
from hub.serde import AvroDeserializer, AvroSerializer
from hub.settings import HubSettings
from hub.validation import validate_event
from hub.wire import frame
from tests.byte_fuzz import PAYLOADS, Payload, materialise
from tests.factories import valid_event_doc
from tests.fixtures.gateway import RunningGateway

pytestmark = pytest.mark.kafka

#: (region, district, id prefix) of the districts the generated stream covers.
DISTRICTS: Final = (
    ("GD", "shenzhen-nanshan", "NS"),
    ("GD", "zhuhai-xiangzhou", "ZHXZ"),
    ("HK", "hk-sham-shui-po", "HKSSP"),
    ("MO", "mo-sao-lourenco", "MOSL"),
    ("JS", "yancheng-tinghu", "YCTH"),
    ("FJ", "jinjiang", "JJ"),
)
ZONES_OF: Final = {"GD": {"gba", "mainland"}, "HK": {"gba"}, "MO": {"gba"}, "JS": {"mainland"}, "FJ": {"mainland"}}
#: The zones the shipped agreements let events into: the only shared topics the gateway writes.
GATEWAY_ZONES: Final = sorted(set().union(*ZONES_OF.values()))
SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
GIVEN: Final = "秀英志强丽珍建国海燕俊杰美玲国华淑芬家豪嘉欣子轩雨桐浩然思琪"
WAIT_S: Final = 120.0
CASES_PER_DISTRICT: Final = 10


# -- the generated stream -------------------------------------------------------------------------
@dataclass
class Stream:
    """A generated stream: the JSON docs, the personal values they hold, and the id relations to check."""

    token: str
    docs: list[dict[str, Any]] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    case_of: dict[str, str] = field(default_factory=dict)  # event_id -> raw case_id
    worker_of: dict[str, str] = field(default_factory=dict)  # event_id -> raw worker_id

    def add(self, event_type: str, region: str, district: str, **fields: Any) -> dict[str, Any]:
        doc = valid_event_doc(event_type, region=region, district=district, station=None, **fields)
        self.docs.append(doc)
        if "case_id" in fields:
            self.case_of[doc["event_id"]] = fields["case_id"]
        if "worker_id" in fields:
            self.worker_of[doc["event_id"]] = fields["worker_id"]
        return doc

    @property
    def region_of(self) -> dict[str, str]:
        return {d["event_id"]: d["region"] for d in self.docs}


def generate(cases_per_district: int) -> Stream:
    """Cases with visits and closures, donations by individuals, evaluations, workers, volunteers: all with PII."""
    token = uuid.uuid4().hex[:8]
    rng = random.Random(token)
    out = Stream(token)

    def name() -> str:
        return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)

    def phone() -> str:
        return f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"

    for region, district, prefix in DISTRICTS:
        workers = [f"{prefix}-SW-{token}-{w}" for w in range(3)]
        for i in range(cases_per_district):
            case_id, client_id, worker = f"{prefix}-{token}-C{i:03d}", f"{prefix}-P-{token}-{i:03d}", workers[i % 3]
            client, tel, id_number = name(), phone(), "".join(str(rng.randint(0, 9)) for _ in range(17)) + "X"
            notes = f"入户走访{client}，电话{tel}，证件{id_number}，了解居住和身体状况。"
            out.secrets |= {case_id, client_id, worker, client, tel, id_number, notes}
            ids = {"case_id": case_id, "worker_id": worker}
            out.add(
                "CaseOpened",
                region,
                district,
                **ids,
                client_id=client_id,
                client_name=client,
                client_phone=tel,
                client_id_number=id_number,
            )
            for k in range(2):
                out.add("VisitMade", region, district, **ids, visit_id=f"{prefix}-V-{token}-{i:03d}{k}", notes=notes)
            out.add("CaseClosed", region, district, **ids)
        for worker in workers:
            out.add("WorkerCertified", region, district, worker_id=worker)
        donor, volunteer, volunteer_id = name(), name(), f"{prefix}-VOL-{token}"
        evaluators = [f"EXP-{token}-{prefix}-{e}" for e in range(3)]
        out.secrets |= {donor, volunteer, volunteer_id, *evaluators}
        out.add(
            "DonationReceived",
            region,
            district,
            donation_id=f"{prefix}-D-{token}",
            donor_type="INDIVIDUAL",
            donor_name=donor,
            amount="800.00",
            currency={"HK": "HKD", "MO": "MOP"}.get(region, "CNY"),
            project_id=None,
        )
        out.add(
            "ProjectEvaluated",
            region,
            district,
            evaluation_id=f"{prefix}-E-{token}",
            project_id=f"{prefix}-PRJ-{token}",
            evaluator_ids=evaluators,
        )
        out.add("VolunteerRegistered", region, district, volunteer_id=volunteer_id, volunteer_name=volunteer)
    return out


# -- reading and writing ------------------------------------------------------------------------------
def publish(gw: RunningGateway, docs: list[dict[str, Any]]) -> dict[str, Ack]:
    with RegistryClient(gw.settings.schema_registry_url) as registry, Publisher(gw.settings, registry) as pub:
        results = pub.publish_many(docs)
    acks = {r.event_id: r for r in results if isinstance(r, Ack)}
    assert len(acks) == len(docs), [r for r in results if not isinstance(r, Ack)][:3]
    return acks


class Tail:
    """A read_committed consumer of every partition of some topics, from the beginning."""

    def __init__(self, settings: HubSettings, *topics: str) -> None:
        self.consumer = KafkaConsumer(
            **connection_config(settings), enable_auto_commit=False, isolation_level="read_committed"
        )
        tps = [TopicPartition(t, p) for t in topics for p in sorted(self.consumer.partitions_for_topic(t) or ())]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)

    def poll(self) -> list[ConsumerRecord]:
        return [r for recs in self.consumer.poll(timeout_ms=200).values() for r in recs]

    def close(self) -> None:
        self.consumer.close()


def wait_for_audit(settings: HubSettings, event_ids: set[str]) -> None:
    """Wait until ``hub.audit`` holds a record of every event id (the audit key is the event id)."""
    tail = Tail(settings, naming.AUDIT_TOPIC)
    missing = set(event_ids)
    deadline = time.monotonic() + WAIT_S
    try:
        while missing and time.monotonic() < deadline:
            missing -= {r.key.decode() for r in tail.poll() if r.key}
    finally:
        tail.close()
    assert not missing, f"{len(missing)} of {len(event_ids)} events never crossed within {WAIT_S:.0f}s"


def shared_topics(settings: HubSettings, zones: Iterable[str] | None = None) -> list[str]:
    """Every ``shared.*`` topic, or those of ``zones`` (other tests write test zones of their own, some garbage)."""
    prefixes = tuple(naming.shared_prefix(z) for z in zones) if zones is not None else ("shared.",)
    admin = KafkaAdminClient(**connection_config(settings))
    try:
        return sorted(t for t in admin.list_topics() if t.startswith(prefixes))
    finally:
        admin.close()


@dataclass
class SharedCopy:
    zone: str
    topic: str
    key: bytes
    value: bytes
    record: dict[str, Any]


def shared_copies(settings: HubSettings, event_ids: set[str]) -> dict[str, list[SharedCopy]]:
    """Every shared record (the gateway's zones, all event types) of ``event_ids``, by event id."""
    out: dict[str, list[SharedCopy]] = defaultdict(list)
    with RegistryClient(settings.schema_registry_url) as registry:
        decode = AvroDeserializer(registry)
        for topic in shared_topics(settings, GATEWAY_ZONES):
            for r in read_topic(settings, topic):
                record = decode(r.value)
                if record["event_id"] in event_ids:
                    zone = naming.parse_shared_topic(topic).zone
                    out[record["event_id"]].append(SharedCopy(zone, topic, r.key, r.value, record))
    return out


def audit_records(settings: HubSettings, event_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with RegistryClient(settings.schema_registry_url) as registry:
        decode = AvroDeserializer(registry)
        for r in read_topic(settings, naming.AUDIT_TOPIC):
            if r.key and r.key.decode() in event_ids:
                out[r.key.decode()].append(decode(r.value))
    return out


# -- one generated stream, several properties -----------------------------------------------------------
@dataclass
class Crossed:
    stream: Stream
    acks: dict[str, Ack]
    copies: dict[str, list[SharedCopy]]


@pytest.fixture(scope="module")
def crossed(gateway: RunningGateway) -> Crossed:
    stream = generate(CASES_PER_DISTRICT)
    acks = publish(gateway, stream.docs)
    wait_for_audit(gateway.settings, set(acks))
    return Crossed(stream, acks, shared_copies(gateway.settings, set(acks)))


def test_the_stream_is_a_few_hundred_events_of_every_region(crossed: Crossed) -> None:
    regions = Counter(crossed.stream.region_of.values())
    assert set(regions) == {"GD", "HK", "MO", "JS", "FJ"}
    assert len(crossed.stream.docs) >= 250


def test_no_personal_value_is_in_any_byte_of_any_shared_topic(gateway: RunningGateway, crossed: Crossed) -> None:
    secrets = [s.encode() for s in crossed.stream.secrets]
    assert len(secrets) > 300
    scanned = 0
    for topic in shared_topics(gateway.settings):
        for r in read_topic(gateway.settings, topic):
            blob = (r.key or b"") + (r.value or b"") + b"".join(k.encode() + (v or b"") for k, v in r.headers)
            leaked = [s.decode() for s in secrets if s in blob]
            assert not leaked, f"{topic} offset {r.offset} carries {leaked}"
            scanned += 1
    assert scanned >= sum(len(c) for c in crossed.copies.values())


def test_each_event_is_in_exactly_the_zones_of_its_region(crossed: Crossed) -> None:
    for event_id, region in crossed.stream.region_of.items():
        zones = Counter(c.zone for c in crossed.copies[event_id])
        assert set(zones) == ZONES_OF[region], (event_id, region, zones)
        assert set(zones.values()) == {1}, f"{event_id} written more than once: {zones}"
        keys_values = {(c.key, c.value) for c in crossed.copies[event_id]}
        assert len(keys_values) == 1, "one event in two zones is one record (same key, same bytes)"


def test_no_hk_or_mo_event_reaches_the_mainland_zone(crossed: Crossed) -> None:
    mainland = [c for copies in crossed.copies.values() for c in copies if c.zone == "mainland"]
    assert mainland
    assert {c.record["region"] for c in mainland} == {"GD", "JS", "FJ"}
    gba = [c for copies in crossed.copies.values() for c in copies if c.zone == "gba"]
    assert {c.record["region"] for c in gba} == {"GD", "HK", "MO"}


def test_pseudonyms_are_the_same_for_one_id_across_event_types(crossed: Crossed) -> None:
    case_refs: dict[str, set[str]] = defaultdict(set)
    worker_refs: dict[str, set[str]] = defaultdict(set)
    for event_id, case_id in crossed.stream.case_of.items():
        for copy in crossed.copies[event_id]:
            case_refs[case_id].add(copy.record["case_ref"])
            assert copy.key == copy.record["case_ref"].encode()
    for event_id, worker_id in crossed.stream.worker_of.items():
        for copy in crossed.copies[event_id]:
            worker_refs[worker_id].add(copy.record["worker_ref"])
    assert len(case_refs) == len(DISTRICTS) * CASES_PER_DISTRICT and all(len(refs) == 1 for refs in case_refs.values())
    assert len(worker_refs) == len(DISTRICTS) * 3 and all(len(refs) == 1 for refs in worker_refs.values())
    assert len({next(iter(r)) for r in case_refs.values()}) == len(case_refs), "two cases share a ref"


def test_the_audit_has_one_record_per_crossing(gateway: RunningGateway, crossed: Crossed) -> None:
    """A crossing is one raw record (topic, partition, offset) under one agreement; its audit record names the
    shared topics written (one per zone of the event) and is keyed by the event id."""
    records = audit_records(gateway.settings, set(crossed.acks))
    agreement = {"GD": "gd-exchange", "HK": "hk-exchange", "MO": "mo-exchange", "JS": "js-exchange"}
    agreement["FJ"] = "fj-exchange"
    for doc in crossed.stream.docs:
        event_id, ack = doc["event_id"], crossed.acks[doc["event_id"]]
        (audit,) = records[event_id]
        assert (audit["source_topic"], audit["source_partition"], audit["source_offset"]) == (
            ack.topic,
            ack.partition,
            ack.offset,
        )
        slug = naming.event_slug(doc["type"])
        assert sorted(audit["targets"]) == sorted(f"shared.{z}.{slug}" for z in ZONES_OF[doc["region"]])
        assert sorted(audit["targets"]) == sorted(c.topic for c in crossed.copies[event_id])
        assert audit["agreement_id"] == agreement[doc["region"]]


# -- dead letters ---------------------------------------------------------------------------------------------
def test_poison_records_go_to_the_dlq_and_the_records_after_them_still_cross(gateway: RunningGateway) -> None:
    settings = gateway.settings
    topic = naming.raw_topic("GD", "shenzhen-nanshan", "VisitMade")
    token = uuid.uuid4().hex[:8]
    with RegistryClient(settings.schema_registry_url) as registry:
        encode = AvroSerializer(registry, schema_text("raw", "VisitMade"))
        case_id = f"NS-{token}-C001"
        leaking = validate_event(valid_event_doc("VisitMade", case_id=case_id, visit_id=f"{case_id}-V001"))
        valid = validate_event(valid_event_doc("VisitMade", case_id=f"NS-{token}-C002"))
        invalid = valid.record | {"duration_minutes": 5000}
        poison = {
            "garbage": b"\x00\x00\x00",
            "unknown schema id": frame(2_000_000_000 + random.randint(0, 99_999), b"\x02"),
            "refused by the agreement": encode(leaking.record, naming.subject_for(topic)),
            "invalid": encode(invalid, naming.subject_for(topic)),
        }
    producer = KafkaProducer(**connection_config(settings), acks="all")
    try:
        where = {
            label: producer.send(topic, key=label.encode(), value=value).get(timeout=30)
            for label, value in poison.items()
        }
    finally:
        producer.close()
    after = [valid_event_doc("VisitMade", case_id=f"NS-{token}-C{i:03d}", visit_id=f"NS-V-{token}-{i}") for i in (3, 4)]
    acks = publish(gateway, after)
    assert all(a.topic == topic and a.offset > max(m.offset for m in where.values()) for a in acks.values())
    wait_for_audit(settings, set(acks))

    letters = {}
    for r in read_topic(settings, naming.DLQ_TOPIC):
        letter = decode_dead_letter(r.value)
        if letter.source_topic == topic and letter.original_key in {k.encode() for k in poison}:
            assert letter.original_key is not None
            letters[letter.original_key.decode()] = (letter, r.key, dict(r.headers))
    assert set(letters) == set(poison)
    expected_stage = {"garbage": "decode", "unknown schema id": "decode", "refused by the agreement": "policy"}
    expected_stage["invalid"] = "validate"
    for label, (letter, key, headers) in letters.items():
        meta = where[label]
        assert (letter.source_partition, letter.source_offset) == (meta.partition, meta.offset)
        assert key == f"{topic}:{meta.partition}:{meta.offset}".encode()
        assert letter.original_value == poison[label]
        assert (letter.consumer, letter.stage) == ("gateway", expected_stage[label])
        assert headers["hub.dlq.stage"] == letter.stage.encode()
        assert letter.reason
    assert "shorter than the 5-byte Confluent header" in letters["garbage"][0].reason
    assert re.search(r"schema id \d+", letters["unknown schema id"][0].reason)
    assert "visit_id" in letters["refused by the agreement"][0].reason
    assert letters["refused by the agreement"][0].event_id == leaking.event_id
    assert "duration_minutes" in letters["invalid"][0].reason
    assert not audit_records(settings, {leaking.event_id, str(invalid["event_id"])})


def test_a_missing_key_stops_the_gateway_at_start_naming_the_variable(gateway: RunningGateway) -> None:
    from hub.errors import PolicyError

    environ = {k: v for k, v in gateway.environ.items() if k != "HUB_AGREEMENT_KEY_JS_EXCHANGE"}
    other = gateway.settings.model_copy(update={"secrets_file": None})
    with pytest.raises(PolicyError, match="HUB_AGREEMENT_KEY_JS_EXCHANGE"):
        launcher.start(other, ["JS"], environ=environ, timeout_s=30)
    assert launcher.running_pid(other, ["JS"]) is None


# -- outages ----------------------------------------------------------------------------------------------------
def test_a_registry_outage_is_waited_out_not_dead_lettered(gateway: RunningGateway, kafka: HubSettings) -> None:
    """A record whose writer schema the gateway has not seen arrives while the registry is down: the gateway
    retries until the registry is back, then crosses it; nothing goes to the DLQ."""
    settings = gateway.settings
    topic = naming.raw_topic("GD", "shenzhen-nanshan", "VisitMade")
    newer = json.loads(schema_text("raw", "VisitMade"))
    token = uuid.uuid4().hex[:8]
    newer["fields"].append({"name": f"outage_test_{token}", "type": ["null", "string"], "default": None})
    doc = validate_event(valid_event_doc("VisitMade", case_id=f"NS-{token}-C001", visit_id=f"NS-V-{token}"))
    with RegistryClient(settings.schema_registry_url) as registry:
        value = AvroSerializer(registry, newer)(doc.record, f"gateway-outage-test-{token}-value")
    log = launcher.paths_of(settings).log
    warnings_before = log.read_text(errors="replace").count("crossing a batch failed")
    port = urlsplit(settings.schema_registry_url).port
    registry_service.stop(kafka)
    try:
        producer = KafkaProducer(**connection_config(settings), acks="all")
        try:
            meta = producer.send(topic, key=b"outage", value=value).get(timeout=30)
        finally:
            producer.close()
        deadline = time.monotonic() + WAIT_S
        while log.read_text(errors="replace").count("crossing a batch failed") == warnings_before:
            assert time.monotonic() < deadline, "the gateway never tried to fetch the writer schema"
            time.sleep(0.2)
    finally:
        registry_service.start(kafka, port=port, timeout_s=120)
    wait_for_audit(settings, {doc.event_id})
    (audit,) = audit_records(settings, {doc.event_id})[doc.event_id]
    assert (audit["source_topic"], audit["source_offset"]) == (topic, meta.offset)
    letters = [decode_dead_letter(r.value) for r in read_topic(settings, naming.DLQ_TOPIC)]
    assert not [x for x in letters if (x.source_topic, x.source_offset) == (topic, meta.offset)]


# -- crash: SIGKILL mid-stream, restart ------------------------------------------------------------------------
def _wait_for_crossings(tail: Tail, seen: set[str], ids: set[str], count: float) -> None:
    """Read ``hub.audit`` on (adding the event ids of ``ids`` to ``seen``) until ``count`` of them crossed."""
    deadline = time.monotonic() + WAIT_S
    while len(seen) < count:
        assert time.monotonic() < deadline, f"{len(seen)} of {count:.0f} events crossed within {WAIT_S:.0f}s"
        seen |= {k for k in (r.key.decode() for r in tail.poll() if r.key) if k in ids}


def test_killed_mid_stream_and_restarted_no_event_is_missing_and_copies_are_identical(
    gateway: RunningGateway,
) -> None:
    """At-least-once: after SIGKILLs nothing is missing; re-crossed copies are byte-identical, so readers that
    deduplicate by event_id (docs/gateway.md) see exactly the expected set."""
    settings = gateway.settings
    districts = [("GD", "shenzhen-nanshan"), ("HK", "hk-sham-shui-po"), ("JS", "yancheng-tinghu"), ("MO", "mo-taipa")]
    docs = []
    for i in range(4000):
        region, district = districts[i % len(districts)]
        event_type = ("CaseOpened", "VisitMade", "CaseClosed")[i % 3]
        case_id = f"K-{uuid.uuid4().hex[:12]}"
        docs.append(valid_event_doc(event_type, region=region, district=district, station=None, case_id=case_id))
    ids = {d["event_id"] for d in docs}
    region_of = {d["event_id"]: d["region"] for d in docs}

    launcher.stop(settings)  # a backlog first, so that the kills land while it is being crossed
    publish(gateway, docs)
    tail = Tail(settings, naming.AUDIT_TOPIC)
    seen: set[str] = set()
    kills = 0
    try:
        gateway.start()
        for fraction in (0.2, 0.45, 0.7):
            _wait_for_crossings(tail, seen, ids, fraction * len(ids))
            assert gateway.kill() is not None
            kills += 1
            gateway.start()
        _wait_for_crossings(tail, seen, ids, len(ids))
    finally:
        tail.close()
        if gateway.pid is None:
            gateway.start()
    assert kills == 3
    assert seen == ids, f"{len(ids - seen)} events never crossed"

    copies = shared_copies(settings, ids)
    duplicates = 0
    for event_id in ids:
        by_zone: dict[str, list[SharedCopy]] = defaultdict(list)
        for copy in copies[event_id]:
            by_zone[copy.zone].append(copy)
        assert set(by_zone) == ZONES_OF[region_of[event_id]], f"{event_id} missing from a zone"
        for zone_copies in by_zone.values():
            duplicates += len(zone_copies) - 1
            assert len({(c.key, c.value) for c in zone_copies}) == 1, "a re-crossed copy differs from the first"
    deduplicated = {zone: {e for e in ids if any(c.zone == zone for c in copies[e])} for zone in ("gba", "mainland")}
    assert deduplicated["gba"] == {e for e in ids if region_of[e] in ("GD", "HK", "MO")}
    assert deduplicated["mainland"] == {e for e in ids if region_of[e] in ("GD", "JS")}

    audits = audit_records(settings, ids)
    crossings = {(e, a["source_topic"], a["source_partition"], a["source_offset"]) for e in ids for a in audits[e]}
    assert len(crossings) == len(ids), "one crossing per raw record once copies are folded"
    copies_in_audit = sum(len(a) for a in audits.values()) - len(ids)
    print(
        f"\n{kills} SIGKILLs over {len(ids)} events: {duplicates} duplicate shared records "
        f"and {copies_in_audit} duplicate audit records; shared copies byte-identical"
    )


def test_the_last_batch_before_a_quiet_spell_is_committed_without_waiting_for_another(
    gateway: RunningGateway,
) -> None:
    """Two batches are in flight; the last one must still be acknowledged (and its offsets committed) when
    nothing follows it, or an idle gateway shows a false backlog and re-crosses that batch after a restart."""
    docs = [valid_event_doc("CaseOpened", case_id=f"QUIET-{uuid.uuid4().hex[:8]}") for _ in range(7)]
    acks = publish(gateway, docs)
    wait_for_audit(gateway.settings, set(acks))
    wanted: dict[TopicPartition, int] = {}
    for ack in acks.values():
        tp = TopicPartition(ack.topic, ack.partition)
        wanted[tp] = max(wanted.get(tp, 0), ack.offset + 1)
    consumer = KafkaConsumer(**connection_config(gateway.settings), group_id=launcher.status(gateway.own).group_id)
    try:
        deadline = time.monotonic() + 30
        behind = dict(wanted)
        while behind and time.monotonic() < deadline:
            behind = {tp: end for tp, end in wanted.items() if (consumer.committed(tp) or 0) < end}
            time.sleep(0.5)
    finally:
        consumer.close()
    assert not behind, f"committed offsets still short of the crossed records after 30 s: {behind}"


@fuzz_settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example crosses through a real broker
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payloads=st.lists(PAYLOADS, min_size=4, max_size=14))
def test_random_and_truncated_bytes_on_a_raw_topic_are_dead_letters_and_the_partition_moves_on(
    gateway: RunningGateway, payloads: list[Payload]
) -> None:
    settings = gateway.settings
    topic = naming.raw_topic("GD", "shenzhen-nanshan", "VisitMade")
    token = uuid.uuid4().hex[:8]
    with RegistryClient(settings.schema_registry_url) as registry:
        encode = AvroSerializer(registry, schema_text("raw", "VisitMade"))
        whole = encode(
            validate_event(valid_event_doc("VisitMade", case_id=f"NS-{token}-C001")).record, naming.subject_for(topic)
        )
    sent: dict[bytes, bytes] = {}
    producer = KafkaProducer(**connection_config(settings), acks="all")
    try:
        for i, payload in enumerate(payloads):
            value = materialise(payload, whole)
            key = f"fuzz-{token}-{i}".encode()
            producer.send(topic, key=key, value=value).get(timeout=30)
            sent[key] = value
    finally:
        producer.close()
    after = [valid_event_doc("VisitMade", case_id=f"NS-{token}-C{i:03d}", visit_id=f"NS-V-{token}-{i}") for i in (2, 3)]
    acks = publish(gateway, after)
    wait_for_audit(settings, set(acks))  # the partition moved past every fuzz record (raw topics: one partition)
    letters = {}
    for r in read_topic(settings, naming.DLQ_TOPIC):
        letter = decode_dead_letter(r.value)
        if letter.source_topic == topic and letter.original_key in sent:
            letters[letter.original_key] = letter
    assert set(letters) == set(sent), "every fuzz record is a dead letter"
    for key, letter in letters.items():
        assert (letter.stage, letter.original_value) == ("decode", sent[key]) and letter.reason
