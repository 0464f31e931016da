"""The pure verifier: a valid log passes; any single edit, drop, swap or copy of a record, and any change to
what landed, is reported with its kind, naming the flow and the seq."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.transfers.chain import ChainHead, append
from hub.transfers.record import encode
from hub.transfers.signing import SigningKey
from hub.transfers.verify import KINDS, LandedPartition, Report, verify
from hub.wire import frame
from tests.transfer_chains import FlowWorld, entries, flow_world

CN = SigningKey.generate()
HK = SigningKey.generate()
KEYS = {"cn": [CN.public], "hk": [HK.public]}

batches = st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=8)


def _kinds(report: Report) -> set[str]:
    return {p.kind for p in report.problems}


def _target(world: FlowWorld, values: Sequence[bytes | None], landed: LandedPartition | None = None) -> Report:
    return verify(entries(values), KEYS, cluster=world.target, landed=[landed or world.target_landed])


def _source(world: FlowWorld, values: Sequence[bytes | None], landed: LandedPartition | None = None) -> Report:
    return verify(entries(values), KEYS, cluster=world.source, landed=[landed or world.source_landed])


@given(batches)
def test_a_valid_log_verifies_on_both_sides_and_without_landed_data(sizes: list[int]) -> None:
    world = flow_world(CN, sizes)
    for report in (_target(world, world.values()), _source(world, world.values())):
        assert report.ok, [p.message for p in report.problems]
        assert report.landed_checked
        [flow] = report.flows
        assert (flow.flow, flow.records, flow.last_seq) == ("cn->hk", len(sizes), len(sizes))
    bare = verify(entries(world.values()), KEYS, cluster="hk")
    assert bare.ok and not bare.landed_checked


@given(batches, st.data())
def test_any_edit_of_a_byte_of_a_record_is_reported(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    values: list[bytes | None] = list(world.values())
    i = data.draw(st.integers(0, len(values) - 1), label="record")
    value = values[i]
    assert value is not None
    at = data.draw(st.integers(0, len(value) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != value[at]), label="new byte")
    values[i] = value[:at] + bytes([new]) + value[at + 1 :]
    report = verify(entries(values), KEYS, cluster="hk")
    assert not report.ok
    assert _kinds(report) <= {"malformed", "tampered", "gap", "reorder", "duplicate", "unknown-key"}
    assert _kinds(report) & {"malformed", "tampered", "unknown-key"}


@given(batches, st.data())
def test_any_edit_of_a_field_that_stays_well_formed_is_tampering(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    i = data.draw(st.integers(0, len(sizes) - 1), label="record")
    record = world.records[i]
    t = record.transfer
    edits = [
        replace(record, transfer=replace(t, replicated_at_ms=t.replicated_at_ms + 1)),
        replace(record, transfer=replace(t, payload_sha256="f" * 64)),
        replace(record, transfer=replace(t, source_topic="shared.gba.visit-made")),
        replace(record, transfer=replace(t, transactional_id="someone-else")),
        replace(record, transfer=replace(t, target_first=t.target_first + 1, target_last=t.target_last + 1)),
        replace(record, signature=CN.sign(b"another message")),
        replace(record, prev_hash="a" * 64),
    ]
    edited = data.draw(st.sampled_from(edits), label="edit")
    values: list[bytes | None] = list(world.values())
    values[i] = encode(edited)
    report = verify(entries(values), KEYS, cluster="hk")
    tampered = [p for p in report.problems if p.kind == "tampered"]
    assert tampered and tampered[0].seq == record.seq and tampered[0].flow == "cn->hk"
    assert tampered[0].message.startswith(f"cn->hk seq {record.seq}: tampered: hub.transfers[0]@{i}")


@given(batches.filter(lambda s: len(s) >= 2), st.data())
def test_dropping_a_record_leaves_a_gap_or_uncovered_data(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    i = data.draw(st.integers(0, len(sizes) - 1), label="dropped")
    values: list[bytes | None] = list(world.values())
    del values[i]
    report = _target(world, values)
    assert "count-mismatch" in _kinds(report), "its target offsets are covered by no record"
    if i < len(sizes) - 1:
        [gap] = [p for p in report.problems if p.kind == "gap"]
        assert gap.seq == i + 2 and f"seq {i + 1} missing" in gap.message
    else:
        assert _kinds(report) == {"count-mismatch"}
        assert verify(entries(values), KEYS, cluster="hk").ok, "the chain alone cannot see a dropped tail"
        assert _source(world, values).ok, "on the source side a missing tail looks like replication lag"


@given(batches.filter(lambda s: len(s) >= 2), st.data())
def test_swapping_two_records_is_a_reorder_and_nothing_else(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    i = data.draw(st.integers(0, len(sizes) - 2), label="i")
    j = data.draw(st.integers(i + 1, len(sizes) - 1), label="j")
    values: list[bytes | None] = list(world.values())
    values[i], values[j] = values[j], values[i]
    report = _target(world, values)
    assert _kinds(report) == {"reorder"}
    expected = 1 if j == i + 1 else 2
    assert len(report.problems) == expected


@given(batches, st.data())
def test_a_copied_record_is_a_duplicate(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    values: list[bytes | None] = list(world.values())
    i = data.draw(st.integers(0, len(values) - 1), label="copied")
    at = data.draw(st.integers(i + 1, len(values)), label="inserted at")
    values.insert(at, values[i])
    report = _target(world, values)
    assert _kinds(report) == {"duplicate"}
    [dup] = report.problems
    assert dup.seq == i + 1 and f"repeats the record at hub.transfers[0]@{i}" in dup.message


@given(batches, st.data())
def test_any_change_to_what_landed_is_reported(sizes: list[int], data: st.DataObject) -> None:
    world = flow_world(CN, sizes)
    side = data.draw(st.sampled_from(["source", "target"]), label="side")
    landed = world.target_landed if side == "target" else world.source_landed
    records = list(landed.records)
    k = data.draw(st.integers(0, len(records) - 1), label="landed record")
    change = data.draw(st.sampled_from(["edit", "drop", "add"]), label="change")
    offset, value = records[k]
    if change == "edit":
        assert value is not None
        records[k] = (offset, value + b"!")
    elif change == "drop":
        del records[k]
    else:
        records.insert(k + 1, (offset + 1, frame(1, b"sneaked in")))  # where a commit marker was
    changed = replace(landed, records=tuple(records))
    check = _target if side == "target" else _source
    report = check(world, list(world.values()), changed)
    if change == "add" and side == "source" and offset + 1 > world.records[-1].transfer.source_last:
        assert report.ok, "above the last transfer a source partition is only ahead of the replicator"
        return
    expected = {"edit": "digest-mismatch", "drop": "count-mismatch", "add": "count-mismatch"}[change]
    assert _kinds(report) == {expected}
    assert all(p.flow == "cn->hk" and p.seq is not None for p in report.problems)


def test_only_the_flow_with_a_problem_reports_it_when_flows_interleave() -> None:
    cn_hk = flow_world(CN, [1, 2, 1])
    hk_cn = flow_world(HK, [2, 2], source="hk", target="cn")
    mixed = [cn_hk.values()[0], hk_cn.values()[0], cn_hk.values()[1], hk_cn.values()[1], cn_hk.values()[2]]
    doc = json.loads(mixed[2])
    doc["count"] = 1
    mixed[2] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    report = verify(entries(list(mixed)), KEYS, cluster="hk", landed=[cn_hk.target_landed, hk_cn.source_landed])
    by_flow = {f.flow: f for f in report.flows}
    assert by_flow["hk->cn"].ok and by_flow["hk->cn"].records == 2
    kinds = {p.kind for p in by_flow["cn->hk"].problems}
    assert kinds == {"tampered", "count-mismatch"}
    tampered, uncovered = by_flow["cn->hk"].problems
    assert tampered.seq == 2 and tampered.kind == "tampered"
    assert "(offsets 2..3) are covered by no transfer record" in uncovered.message, "a forged record covers nothing"


def test_keys_are_those_of_the_sending_jurisdiction() -> None:
    world = flow_world(CN, [1, 1])
    wrong = verify(entries(list(world.values())), {"cn": [HK.public]}, cluster="hk")
    assert [p.kind for p in wrong.problems] == ["unknown-key", "unknown-key"]
    assert f"is signed by key {CN.key_id}, not a known key of cn ({HK.key_id})" in wrong.problems[0].message
    none = verify(entries(list(world.values())), {"hk": [HK.public]}, cluster="hk")
    [problem] = none.problems
    assert problem.message == "cn->hk: unknown-key: no public key of cn: 2 signatures not checked"
    rotated = verify(entries(list(world.values())), {"cn": [HK.public, CN.public]}, cluster="hk")
    assert rotated.ok


def test_a_chain_that_does_not_start_at_one_has_a_gap() -> None:
    world = flow_world(CN, [1, 1, 1, 1])
    report = verify(entries(list(world.values()[2:])), KEYS, cluster="hk")
    [gap] = report.problems
    assert gap.message == "cn->hk seq 3: gap: seqs 1..2 missing (the chain starts here)"


def test_a_record_that_does_not_decode_is_malformed_and_the_rest_is_still_checked() -> None:
    world = flow_world(CN, [1, 1])
    values: list[bytes | None] = [world.values()[0], None, b"{}", world.values()[1]]
    report = verify(entries(values), KEYS, cluster="hk")
    assert [p.message for p in report.malformed] == [
        "?: malformed: hub.transfers[0]@1: record: empty value (a tombstone is not a transfer record)",
        "?: malformed: hub.transfers[0]@2: v: must be 1, got None",
    ]
    assert report.flows[0].ok and not report.ok


def test_a_target_partition_no_record_names_is_all_uncovered() -> None:
    world = flow_world(CN, [2])
    report = verify([], KEYS, cluster="hk", landed=[world.target_landed])
    [problem] = report.problems
    assert problem.message == (
        "cn->hk: count-mismatch: 2 committed records of target cn.shared.gba.case-opened[0] (offsets 0..1) "
        "are covered by no transfer record"
    )


def test_records_that_overlap_on_the_source_are_duplicates() -> None:
    world = flow_world(CN, [2, 2])
    second = world.records[1]
    overlapping = replace(
        second.transfer, source_first=1, source_last=2, count=1, payload_sha256=world.records[0].transfer.payload_sha256
    )
    record, _ = append(ChainHead.of(world.records[0]), overlapping, CN)
    report = _source(world, [world.values()[0], encode(record)])
    assert "duplicate" in _kinds(report)
    assert any(
        "source shared.gba.case-opened[0] offsets 1..2 were covered by seq 1" in p.message for p in report.problems
    )


def test_every_kind_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "transfers.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in doc, kind


@settings(max_examples=25)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=5), st.lists(st.integers(1, 3), min_size=1, max_size=5))
def test_a_valid_log_of_two_flows_verifies_in_any_interleaving(a: list[int], b: list[int]) -> None:
    one, two = flow_world(CN, a), flow_world(HK, b, source="hk", target="cn")
    merged: list[bytes | None] = []
    va, vb = one.values(), two.values()
    while va or vb:
        if va and (not vb or len(va) >= len(vb)):
            merged.append(va.pop(0))
        else:
            merged.append(vb.pop(0))
    report = verify(entries(merged), KEYS, cluster="hk", landed=[one.target_landed, two.source_landed])
    assert report.ok, [p.message for p in report.problems]
