"""The replicator's pure rules: names, which topics a flow may copy, positions, schema ids, batches, lag."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError, ReplicationError
from hub.replication import positions
from hub.replication.batch import Copy, SourceRecord, positions_after, transfers
from hub.replication.flow import FlowSpec, candidates, replicable
from hub.replication.progress import WINDOW_S, Progress, lag
from hub.replication.schema_ids import RecordRef, SchemaIdMap, framed, rewrite
from hub.transfers.chain import ChainHead
from hub.transfers.record import payload_digest
from hub.wire import frame, unframe

FLOW = FlowSpec.of("cn", "hk", r"^shared\.gba\.[a-z0-9-]+$")


# -- flow ----------------------------------------------------------------------------------------------
def test_a_flow_is_named_after_its_clusters_and_its_principal_is_its_transactional_id() -> None:
    assert (FLOW.name, FLOW.chain, FLOW.principal) == ("cn-hk", "cn->hk", "replicator.cn-hk")
    assert FLOW.transactional_id == "replicator.cn-hk"
    assert FLOW.source_log_transactional_id == "replicator.cn-hk.source-log"
    assert FLOW.target_topic("shared.gba.case-opened") == "cn.shared.gba.case-opened"
    assert FLOW.target_subject("shared.gba.case-opened") == "cn.shared.gba.case-opened-value"


@pytest.mark.parametrize(
    ("source", "target", "topics", "message"),
    [
        ("cn", "cn", ".*", "two clusters"),
        ("CN", "hk", ".*", "cluster alias"),
        ("cn", "hk", "(", "not a regular expression"),
    ],
)
def test_a_malformed_flow_is_refused(source: str, target: str, topics: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FlowSpec.of(source, target, topics)


def test_candidates_come_from_the_declared_layout_and_the_listing_both() -> None:
    wide = FlowSpec.of("cn", "hk", r".*")
    declared = ["raw.gd.shenzhen-nanshan.case-opened", "shared.gba.case-opened"]
    listed = ["shared.gba.case-opened", "shared.gba.extra"]  # a principal never lists what it may not describe
    assert candidates(wide, declared, listed) == [
        "raw.gd.shenzhen-nanshan.case-opened",
        "shared.gba.case-opened",
        "shared.gba.extra",
    ]
    assert candidates(FLOW, declared, listed) == ["shared.gba.case-opened", "shared.gba.extra"]


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("hk.shared.gba.case-opened", "copy from cluster hk"),
        ("mo.shared.gba.case-opened", "copy from cluster mo"),
        ("hub.transfers", "not a shared topic"),
        ("_schemas", "not a shared topic"),
        ("raw.gd.shenzhen-nanshan.case-opened", "not a shared topic"),
    ],
)
def test_a_flow_copies_only_local_shared_topics(topic: str, message: str) -> None:
    with pytest.raises(ReplicationError, match=message):
        replicable(FLOW, topic, {"cn", "hk", "mo"})
    replicable(FLOW, "shared.mainland.case-opened", {"cn", "hk", "mo"})


# -- positions -----------------------------------------------------------------------------------------
def test_positions_and_the_chain_head_fold_to_the_last_value_of_each_key() -> None:
    head = ChainHead(3, "a" * 64)
    log: list[tuple[bytes | None, bytes | None]] = [
        *positions.records("cn-hk", {("shared.gba.x", 0): 5, ("shared.gba.x", 1): 2}, ChainHead(1, "b" * 64)),
        *positions.records("cn-hk", {("shared.gba.x", 0): 9}, head),
        *positions.records("mo-hk", {("shared.gba.x", 0): 100}, ChainHead(7, "c" * 64)),
        (b"not json", b"whatever"),
        (None, b"x"),
    ]
    got = positions.fold("cn-hk", log)
    assert got.positions == {("shared.gba.x", 0): 9, ("shared.gba.x", 1): 2}
    assert got.head == head
    assert positions.fold("hk-mo", log) == positions.Resume()


def test_keys_are_canonical_so_compaction_keeps_one_value_per_partition() -> None:
    assert positions.position_key("cn-hk", "shared.gba.x", 2) == (
        b'{"flow":"cn-hk","kind":"position","partition":2,"topic":"shared.gba.x","v":1}'
    )
    assert positions.head_key("cn-hk") == b'{"flow":"cn-hk","kind":"chain-head","v":1}'


def test_a_tombstone_forgets_a_position() -> None:
    key = positions.position_key("cn-hk", "shared.gba.x", 0)
    assert positions.fold("cn-hk", [(key, positions.position_value(4)), (key, None)]).positions == {}


@pytest.mark.parametrize(
    "value", [b"{", b"[]", b'{"next_offset": -1}', b'{"next_offset": "3"}', b'{"next_offset": true}']
)
def test_a_malformed_position_of_the_flow_stops_it(value: bytes) -> None:
    with pytest.raises(ReplicationError, match=r"hub\.replication\.offsets"):
        positions.fold("cn-hk", [(positions.position_key("cn-hk", "shared.gba.x", 0), value)])


# -- schema ids ----------------------------------------------------------------------------------------
WHERE = RecordRef("shared.gba.x", 1, 42)


def test_a_rewrite_changes_the_id_and_keeps_the_body() -> None:
    value = frame(7, b"\x02avro-body")
    assert framed(value, WHERE) == (7, value)
    out = rewrite(value, 123456)
    assert unframe(out)[0] == 123456 and bytes(unframe(out)[1]) == b"\x02avro-body"
    assert payload_digest([out]) == payload_digest([value])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "tombstone"),
        (b"\x00\x00", "shorter than the 5-byte"),
        (b"\x01\x00\x00\x00\x07body", "unknown magic byte 1"),
        (b'{"json": true}', "unknown magic byte"),
    ],
)
def test_a_value_that_is_not_framed_is_refused_naming_where_it_is(value: bytes | None, message: str) -> None:
    with pytest.raises(ReplicationError, match=rf"shared\.gba\.x partition 1 offset 42: .*{message}"):
        framed(value, WHERE)


def test_the_id_map_learns_each_pair_once_and_never_changes_one() -> None:
    ids = SchemaIdMap()
    assert ids.missing([("s-value", 1), ("s-value", 2), ("s-value", 1)]) == [("s-value", 1), ("s-value", 2)]
    ids.put("s-value", 1, 10)
    ids.put("s-value", 1, 10)
    assert ids.get("s-value", 1) == 10 and ids.get("t-value", 1) is None and len(ids) == 1
    assert ids.missing([("s-value", 1), ("s-value", 2)]) == [("s-value", 2)]
    with pytest.raises(ReplicationError, match="registered as target id 10, now 11"):
        ids.put("s-value", 1, 11)


# -- batches -------------------------------------------------------------------------------------------
def _record(topic: str, partition: int, offset: int, body: bytes = b"b") -> SourceRecord:
    return SourceRecord(topic, partition, offset, b"k", frame(1, body), (("h", b"v"),), 1_000 + offset)


def test_positions_after_a_batch_are_past_its_last_record_per_partition() -> None:
    batch = [_record("t", 0, 4), _record("t", 1, 9), _record("t", 0, 6), _record("u", 0, 0)]
    assert positions_after(batch) == {("t", 0): 7, ("t", 1): 10, ("u", 0): 1}


def test_one_transfer_per_source_partition_with_both_offset_ranges_and_the_body_digest() -> None:
    records = [
        _record("shared.gba.x", 0, 10, b"a"),
        _record("shared.gba.x", 1, 3, b"b"),
        _record("shared.gba.x", 0, 12, b"c"),
    ]
    copies = [Copy(r, FLOW.target_topic(r.topic), rewrite(r.value or b"", 99)) for r in records]
    out = transfers(FLOW, copies, [100, 50, 101], replicated_at_ms=5)
    assert [(t.partition, t.source_first, t.source_last, t.target_first, t.target_last, t.count) for t in out] == [
        (0, 10, 12, 100, 101, 2),
        (1, 3, 3, 50, 50, 1),
    ]
    assert out[0].payload_sha256 == payload_digest([frame(1, b"a"), frame(1, b"c")])
    assert {(t.source, t.target, t.target_topic, t.transactional_id) for t in out} == {
        ("cn", "hk", "cn.shared.gba.x", "replicator.cn-hk")
    }


def test_copies_out_of_order_are_refused() -> None:
    records = [_record("shared.gba.x", 0, 10), _record("shared.gba.x", 0, 11)]
    copies = [Copy(r, "cn.shared.gba.x", r.value or b"") for r in records]
    with pytest.raises(ReplicationError, match="out of order"):
        transfers(FLOW, copies, [5, 4], replicated_at_ms=5)


# -- progress ------------------------------------------------------------------------------------------
def test_lag_is_end_minus_position_never_negative() -> None:
    assert (lag(10, 4), lag(10, 10), lag(10, 12)) == (6, 0, 0)
    p = Progress("cn-hk", "cn", "hk", started_s=0.0)
    p.measured({("t", 0): 4, ("t", 1): 3}, {("t", 0): 10, ("t", 1): 3, ("t", 2): 2})
    assert [(x.partition, x.lag) for x in p.partitions.values()] == [(0, 6), (1, 0), (2, 2)]
    assert p.total_lag == 8


def test_throughput_is_records_per_second_over_the_window() -> None:
    p = Progress("cn-hk", "cn", "hk", started_s=0.0)
    assert p.throughput(1.0) == 0.0
    p.committed(100, 1.0)
    assert p.throughput(2.0) == 0.0, "one commit is no rate yet"
    p.committed(300, 3.0)
    assert p.throughput(3.0) == 150.0
    p.committed(100, 3.0 + WINDOW_S + 5)  # the first commits leave the window
    assert p.throughput(3.0 + WINDOW_S + 5) == pytest.approx(100 / (WINDOW_S + 5))
    doc = p.doc(pid=1, now_s=40.0)
    assert (doc["records"], doc["transactions"], doc["flow"], doc["state"]) == (500, 3, "cn-hk", "starting")
