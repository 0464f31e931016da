"""The partner subscriber on the real broker and the hub's registry: exactly once, entitlement, dead letters, outages.

Standard clients reading the hub's topics are in ``tests/test_subscriber_interop.py``;
schema changes under a running subscriber in ``tests/test_subscriber_evolution.py``.
Fixtures: ``tests/fixtures/subscribers.py``; helpers: ``tests/subscriber_support.py``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from consumers.sinks import SinkUnavailable, SqlSink, WriteResult, read_jsonl
from consumers.subscriber import Subscriber
from hub.errors import SchemaRegistryError
from hub.registry.client import RegistryClient
from hub.settings import HubSettings
from hub.wire import frame
from tests.partner_events import SharedProducer, as_decoded, event, mix, zone_event_ids
from tests.subscriber_support import (
    FAST_RETRY,
    HUB,
    dead_letters,
    hk,
    hub_env,
    sql_rows,
    subscribe,
    wait_until,
    zone_end,
)


# -- the done-when of issue 7 -------------------------------------------------------------------------
def test_hk_receives_every_gba_event_exactly_once_and_nothing_from_mainland(
    subscriber_settings: HubSettings,
    subscriber_registry_client: RegistryClient,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
) -> None:
    crossings = mix(48)
    subscriber_producer.send(crossings)
    subscriber_producer.send(crossings[:6])  # the gateway re-sent some after a crash: same event_id, new offsets
    gba = {c.event_id for c in crossings if "gba" in c.zones}
    mainland_only = {c.event_id for c in crossings if c.zones == ("mainland",)}
    assert gba and mainland_only and any(len(c.zones) == 2 for c in crossings)

    url = f"sqlite:///{tmp_path / 'hk.db'}"
    with SqlSink(url, "hk") as sink:
        progress = subscribe(subscriber_settings, sink)
    assert progress.caught_up and progress.state == "caught up"
    assert progress.duplicates >= 6
    assert all(t.startswith("shared.gba.") for t in progress.topics)

    stored = sql_rows(url)
    ids = [r["event_id"] for r in stored]
    assert gba <= set(ids)
    assert not mainland_only & set(ids)
    assert {r["zone"] for r in stored} == {"gba"}
    assert all(r["source_topic"].startswith("shared.gba.") for r in stored)
    # everything in the zone, each once: compared with an independent read of every shared.gba.* topic
    assert sorted(ids) == sorted(set(zone_event_ids(subscriber_settings, subscriber_registry_client, "gba")))

    donation = next(c for c in crossings if c.event_type == "DonationReceived" and c.shared_record["region"] == "HK")
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT amount, currency, donor_type FROM donation_received WHERE event_id = ?", (donation.event_id,)
        ).one()
    engine.dispose()
    expected = as_decoded("DonationReceived", donation.shared_record)
    assert (row[0], row[1], row[2]) == (str(expected["amount"]), expected["currency"], expected["donor_type"])


def _stored_count(kind: str, target: Path) -> int:
    """Records the sink has passed (sum of its stored next offsets), read like an operator would."""
    if kind == "sqlite":
        if not target.exists():
            return 0
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return int(conn.execute("SELECT COALESCE(SUM(next_offset), 0) FROM subscriber_offsets").fetchone()[0])
            except sqlite3.OperationalError:  # the tables do not exist yet
                return 0
    offsets = target / "offsets.json"
    if not offsets.exists():
        return 0
    doc = json.loads(offsets.read_text())
    return sum(n for parts in doc["offsets"].values() for n in parts.values())


def _stored_ids(kind: str, target: Path) -> list[str]:
    if kind == "sqlite":
        return [r["event_id"] for r in sql_rows(f"sqlite:///{target}")]
    return [line["event"]["event_id"] for line in read_jsonl(target)]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_sigkill_and_restart_lose_and_duplicate_nothing(
    kind: str,
    subscriber_settings: HubSettings,
    subscriber_registry_client: RegistryClient,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
) -> None:
    crossings = [
        event(t, place)
        for t in ("CaseOpened", "VisitMade", "DonationReceived")
        for place in ("HK", "MO", "SZ")
        for _ in range(120)
    ]
    crossings += [event("CaseOpened", "JS") for _ in range(30)]
    subscriber_producer.send(crossings)
    subscriber_producer.send(crossings[::40])  # duplicates with the same event_id
    total = zone_end(subscriber_settings, "gba")
    target = tmp_path / ("hk.db" if kind == "sqlite" else "hk-jsonl")
    url = f"sqlite:///{target}" if kind == "sqlite" else f"jsonl://{target}"
    args = [HUB, "subscribe", "--as", "hk", "--sink", url, "--batch-size", "10", "--linger", "0", "--no-progress"]

    first = subprocess.Popen(
        args, env=hub_env(subscriber_settings), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # several batches committed, far from the end: batches are 10 records
        wait_until(lambda: _stored_count(kind, target) >= 50 or first.poll() is not None, "the first batches")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        _, err = first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL, err.decode()
    at_kill = _stored_count(kind, target)
    assert 0 < at_kill < total, f"the kill must land in the middle of the stream ({at_kill} of {total})"

    second = subprocess.run(
        [*args, "--until-caught-up"],
        env=hub_env(subscriber_settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    assert "caught up" in second.stdout

    ids = _stored_ids(kind, target)
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicated == []
    assert {c.event_id for c in crossings if "gba" in c.zones} <= set(ids)
    assert not {c.event_id for c in crossings if c.zones == ("mainland",)} & set(ids)
    assert set(ids) == set(zone_event_ids(subscriber_settings, subscriber_registry_client, "gba"))
    assert _stored_count(kind, target) >= total


def test_asking_for_a_zone_outside_the_entitlement_is_a_one_line_error(
    subscriber_settings: HubSettings, tmp_path: Path
) -> None:
    target = tmp_path / "never"
    for extra in (["--zone", "mainland"], ["--topic", "shared.mainland.case-opened"]):
        proc = subprocess.run(
            [HUB, "subscribe", "--as", "hk", "--sink", f"jsonl://{target}", *extra],
            env=hub_env(subscriber_settings),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "partner hk may not read" in lines[0] and "mainland" in lines[0] and "gba" in lines[0]
    assert not target.exists()  # refused before the sink was touched


# -- dead letters and outages ----------------------------------------------------------------------------


def test_undecodable_records_go_to_the_dlq_and_the_offset_advances(
    subscriber_settings: HubSettings, subscriber_producer: SharedProducer, tmp_path: Path
) -> None:
    topic = "shared.gba.case-closed"
    before = subscriber_producer.send([event("CaseClosed", "HK")], zones=["gba"])
    garbage = subscriber_producer.send_raw(topic, b"not avro at all", key=b"x")
    unknown_id = subscriber_producer.send_raw(topic, frame(987654, b"\x00\x02"), key=b"x")
    after = subscriber_producer.send([event("CaseClosed", "MO")], zones=["gba"])
    url = f"sqlite:///{tmp_path / 'dlq.db'}"
    with SqlSink(url, "hk-dlq") as sink:
        progress = subscribe(subscriber_settings, sink, topics=[topic])
        positions = sink.positions()
    assert progress.dead_letters == 2
    ids = {r["event_id"] for r in sql_rows(url)}
    assert {before[0].event_id, after[0].event_id} <= ids
    for p in (garbage, unknown_id, after[0]):
        assert positions[(topic, p.partition)] > p.offset
    letters = {
        (d.source_topic, d.source_partition, d.source_offset): d
        for d in dead_letters(subscriber_settings, "subscriber:hk-dlq")
    }
    bad = letters[(topic, garbage.partition, garbage.offset)]
    assert bad.stage == "decode" and "magic byte" in bad.reason and bad.original_value == b"not avro at all"
    missing = letters[(topic, unknown_id.partition, unknown_id.offset)]
    assert "987654" in missing.reason and "unknown" in missing.reason


class _FlakyRegistry:
    """The real registry client behind a link that drops the first ``failures`` schema look-ups."""

    def __init__(self, real: RegistryClient, failures: int) -> None:
        self.real = real
        self.failures = failures

    def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        return self.real.register(subject, schema)

    def get_schema(self, schema_id: int) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise SchemaRegistryError(f"cannot reach the schema registry at {self.real.url}: connection refused")
        return self.real.get_schema(schema_id)


class _FlakySqlSink(SqlSink):
    """A real SQLite sink whose first ``failures`` writes find the database locked."""

    def __init__(self, url: str, subscriber: str, failures: int) -> None:
        super().__init__(url, subscriber)
        self.failures = failures

    def write(self, records: Any) -> WriteResult:
        if self.failures > 0:
            self.failures -= 1
            raise SinkUnavailable(f"sink {self.description}: database is locked")
        return super().write(records)


def test_registry_and_sink_outages_are_waited_out_not_skipped(
    subscriber_settings: HubSettings,
    subscriber_registry_client: RegistryClient,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
) -> None:
    topic = "shared.gba.training-held"
    produced = subscriber_producer.send([event("TrainingHeld", "HK") for _ in range(5)], zones=["gba"])
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    waits: list[str] = []
    with RegistryClient(subscriber_registry_client.url) as fresh:  # empty caches: the look-ups really happen
        sink = _FlakySqlSink(url, "hk-outage", failures=2)
        sub = Subscriber(
            subscriber_settings,
            hk(),
            sink,
            topics=[topic],
            registry=_FlakyRegistry(fresh, 3),
            backoff=FAST_RETRY,
            linger_s=0.05,
        )
        progress = sub.run(until_caught_up=True, on_progress=lambda p: waits.append(p.waiting or ""))
        sink.close()
    assert progress.caught_up and progress.dead_letters == 0
    assert any(w.startswith("schema registry:") for w in waits)
    assert any(w.startswith("sink:") and "locked" in w for w in waits)
    assert {p.event_id for p in produced} <= {r["event_id"] for r in sql_rows(url)}
