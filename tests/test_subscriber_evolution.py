"""Schema evolution under partner subscribers: a compatible change while one runs, and an upgraded reader.

The v2 ``CaseOpened`` (an optional ``referral_channel``) is registered in the
session's real registry; the running subscriber keeps decoding with its pinned
v1 reader, with no dead letter, and a subscriber pinning v2 receives the field.
Fixtures: ``tests/fixtures/subscribers.py``; helpers: ``tests/subscriber_support.py``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from consumers.sinks import JsonlSink, SqlSink, read_jsonl
from consumers.subscriber import Subscriber, pinned_readers
from hub.agreements import Crossing
from hub.naming import subject_for
from hub.registry.client import RegistryClient
from hub.schemas import load_schema, schema_text
from hub.settings import HubSettings
from tests.partner_events import SharedProducer, as_decoded, event
from tests.subscriber_support import FAST_RETRY, READERS, dead_letters, hk, sql_rows, subscribe, wait_until


def _v2_case_opened() -> str:
    doc = load_schema("shared", "CaseOpened")
    doc["fields"].append(
        {
            "name": "referral_channel",
            "type": ["null", "string"],
            "default": None,
            "doc": "How the referral reached the station, if recorded.",
        }
    )
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def test_a_compatible_schema_change_while_subscribed(
    subscriber_settings: HubSettings,
    subscriber_registry_client: RegistryClient,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
) -> None:
    topic = "shared.gba.case-opened"
    subject = subject_for(topic)
    v1_id = subscriber_registry_client.register(subject, schema_text("shared", "CaseOpened"))
    url = f"sqlite:///{tmp_path / 'evolution.db'}"
    sink = SqlSink(url, "hk-evolution")
    sub = Subscriber(subscriber_settings, hk(), sink, topics=[topic], backoff=FAST_RETRY, linger_s=0.05)
    failures: list[BaseException] = []

    def _run() -> None:
        try:
            sub.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    runner = threading.Thread(target=_run, daemon=True)
    runner.start()
    try:
        old = subscriber_producer.send([event("CaseOpened", "HK") for _ in range(3)], zones=["gba"])
        wait_until(lambda: {p.event_id for p in old} <= {r["event_id"] for r in sql_rows(url)}, "the v1 events")
        dead_before = sub.progress.dead_letters

        v2 = _v2_case_opened()
        assert subscriber_registry_client.check_compatibility(subject, v2) == []
        v2_id = subscriber_registry_client.register(subject, v2)
        assert v2_id != v1_id and subscriber_registry_client.get_latest(subject).id == v2_id
        new = [_with(event("CaseOpened", "MO"), referral_channel="hotline") for _ in range(3)]
        produced = subscriber_producer.send(new, zones=["gba"], schema=v2)
        assert subscriber_producer.serializer("CaseOpened", v2).schema_id(subject) == v2_id
        wait_until(lambda: {p.event_id for p in produced} <= {r["event_id"] for r in sql_rows(url)}, "the v2 events")
    finally:
        sub.stop()
        runner.join(timeout=60)
        sub.close()
        sink.close()
    assert not runner.is_alive() and failures == []
    assert sub.progress.dead_letters == dead_before
    coords = {(p.topic, p.partition, p.offset) for p in produced}
    assert not [
        d
        for d in dead_letters(subscriber_settings, "subscriber:hk-evolution")
        if (d.source_topic, d.source_partition, d.source_offset) in coords
    ]

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {r.event_id: r for r in conn.execute(select(_case_opened_table(url)))}
    engine.dispose()
    for c in new:
        row = stored[c.event_id]._mapping
        v1_view = as_decoded("CaseOpened", {k: v for k, v in c.shared_record.items() if k != "referral_channel"})
        assert {k: row[k] for k in v1_view} == v1_view
        assert "referral_channel" not in row


def _with(c: Crossing, **fields: Any) -> Crossing:
    return dataclasses.replace(c, shared_record={**c.shared_record, **fields})


def _case_opened_table(url: str) -> Any:
    sink = SqlSink(url, "x")
    sink.prepare({"CaseOpened": READERS["CaseOpened"]})
    table = sink.tables["CaseOpened"]
    sink.close()
    return table


def test_the_upgraded_reader_receives_the_new_field(
    subscriber_settings: HubSettings,
    subscriber_registry_client: RegistryClient,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
) -> None:
    """After the v2 registration (above, or here if run alone), a subscriber pinning v2 gets the field."""
    topic = "shared.gba.case-opened"
    v2 = _v2_case_opened()
    subscriber_registry_client.register(subject_for(topic), v2)
    c = _with(event("CaseOpened", "HK"), referral_channel="walk-in")
    subscriber_producer.send([c], zones=["gba"], schema=v2)
    target = tmp_path / "upgraded"
    with JsonlSink(target, "hk-upgraded") as sink:
        subscribe(subscriber_settings, sink, topics=[topic], readers={**pinned_readers(), "CaseOpened": v2})
    [line] = [line for line in read_jsonl(target) if line["event"]["event_id"] == c.event_id]
    assert line["event"]["referral_channel"] == "walk-in"
