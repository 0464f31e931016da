"""Pure rules of the ingest edge: limits, parsing, districts, per-event outcomes (no broker, no HTTP)."""

from __future__ import annotations

import json

import pytest

from hub import tokens
from hub.http_api import ApiError, authenticate
from hub.ingest.batch import (
    Limits,
    Outcome,
    check_content_type,
    check_may_publish,
    forbidden,
    parse_body,
    prepare,
    response_body,
    status_of,
)
from hub.tokens import TokenSet
from tests.factories import valid_event_doc

LIMITS = Limits(max_body_bytes=1000, max_events=3)
_, NANSHAN = tokens.issue("publisher", district="shenzhen-nanshan")


def _refused(exc_info: pytest.ExceptionInfo[ApiError], status: int, code: str) -> str:
    assert (exc_info.value.status, exc_info.value.code) == (status, code), exc_info.value.as_dict()
    return exc_info.value.message


@pytest.mark.parametrize(
    "header",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", "application/x+json"],
)
def test_json_content_types_are_accepted(header: str) -> None:
    check_content_type(header)


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "no Content-Type was sent"),
        ("text/plain", "got 'text/plain'"),
        ("application/x-www-form-urlencoded", "application/json"),
        ("application/json; charset=latin-1", "UTF-8"),
    ],
)
def test_other_content_types_are_415(header: str | None, words: str) -> None:
    with pytest.raises(ApiError) as info:
        check_content_type(header)
    assert words in _refused(info, 415, "unsupported_media_type")


def test_one_object_is_one_event_and_an_array_is_a_batch() -> None:
    assert parse_body(b'{"type": "CaseOpened"}', LIMITS) == ([{"type": "CaseOpened"}], False)
    assert parse_body(b'[{"a": 1}, 2, null]', LIMITS) == ([{"a": 1}, 2, None], True)


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"", 400, "empty_body", "empty body"),
        (b"  \n", 400, "empty_body", "empty body"),
        (b'{"type": "CaseOpened",', 400, "malformed_json", "line 1 column"),
        (b'[{"a": 1}\n {"b": 2}]', 400, "malformed_json", "line 2 column 2"),
        (b'{"amount": "1", "amount": "2"}', 400, "malformed_json", "duplicate key 'amount'"),
        (b'{"amount": NaN}', 400, "malformed_json", "NaN is not valid JSON"),
        (b'"\xff\xfe"', 400, "malformed_json", "not UTF-8"),
        (b"[" * 100_000, 400, "malformed_json", "malformed JSON"),
        (b'"CaseOpened"', 422, "invalid_body", "got string"),
        (b"42", 422, "invalid_body", "got number"),
        (b"[]", 422, "empty_batch", "at least one event"),
        (b"[{}, {}, {}, {}]", 413, "too_many_events", "4 events; at most 3"),
    ],
)
def test_bodies_refused_as_a_whole(body: bytes, status: int, code: str, words: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_body(body, LIMITS)
    assert words in _refused(info, status, code)


def test_authentication_and_roles() -> None:
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    analyst_token, analyst = tokens.issue("analyst")
    store = TokenSet((entry, analyst))
    assert authenticate(store, f"Bearer {token}") == entry
    assert authenticate(store, f"bearer  {token} ") == entry
    for header, code in ((None, "missing_token"), ("Basic abc", "missing_token"), ("Bearer", "missing_token")):
        with pytest.raises(ApiError) as info:
            authenticate(store, header)
        _refused(info, 401, code)
    with pytest.raises(ApiError) as info:
        authenticate(store, f"Bearer {token}x")
    _refused(info, 401, "invalid_token")
    check_may_publish(entry)
    with pytest.raises(ApiError) as info:
        check_may_publish(authenticate(store, f"Bearer {analyst_token}"))
    assert "role analyst" in _refused(info, 403, "forbidden_role")


def test_events_of_another_known_district_are_refused_each_and_the_others_kept() -> None:
    own = valid_event_doc("CaseOpened")
    theirs_invalid = valid_event_doc("DonationReceived", district="guangzhou-tianhe", station=None, amount="-1.00")
    items: list[object] = [
        own,
        valid_event_doc("CaseOpened", district="guangzhou-tianhe", station=None),
        7,
        valid_event_doc("VisitMade", district="hk-wan-chai", region="HK", station=None),
        theirs_invalid,
    ]
    prepared = prepare(items, NANSHAN)
    assert [(i, ev.event_id) for i, ev in prepared.valid] == [(0, own["event_id"])]
    assert sorted(i for i, o in prepared.outcomes.items() if o.forbidden) == [1, 3, 4]
    rule = "may publish only events of GD/shenzhen-nanshan"
    assert prepared.outcomes[1].errors == (
        ("district", f"GD/guangzhou-tianhe is not this token's district: token {NANSHAN.id} {rule}"),
    )
    assert prepared.outcomes[3].errors[0][1].startswith("HK/hk-wan-chai is not this token's district")
    # an invalid event of another district is refused for its district, not listed with its field errors
    assert [f for f, _ in prepared.outcomes[4].errors] == ["district"]
    assert prepared.outcomes[4].event_id == theirs_invalid["event_id"]
    assert prepared.outcomes[2].status == "rejected" and not prepared.outcomes[2].forbidden


def test_a_valid_event_gets_through_only_with_its_own_districts_token() -> None:
    _, tianhe = tokens.issue("publisher", district="guangzhou-tianhe")
    doc = valid_event_doc("CaseOpened")
    assert [ev.district for _, ev in prepare([doc], NANSHAN).valid] == ["shenzhen-nanshan"]
    refused = prepare([doc], tianhe)
    assert refused.valid == [] and refused.outcomes[0].forbidden
    assert refused.outcomes[0].errors[0][1].endswith("may publish only events of GD/guangzhou-tianhe")


def test_unknown_district_and_wrong_region_are_left_to_validation() -> None:
    items: list[object] = [
        valid_event_doc("CaseOpened", district="shenzhen-futian"),
        valid_event_doc("CaseOpened", region="HK", station=None),
        valid_event_doc("CaseOpened", district=42),
    ]
    prepared = prepare(items, NANSHAN)
    assert prepared.valid == []
    assert [[f for f, _ in o.errors] for o in prepared.outcomes.values()] == [["district"], ["district"], ["district"]]
    assert not any(o.forbidden for o in prepared.outcomes.values())


def test_prepare_keeps_valid_events_beside_bad_items() -> None:
    good = valid_event_doc("DonationReceived")
    bad = valid_event_doc("DonationReceived", amount="-1.00")
    prepared = prepare([good, "text", bad, None], NANSHAN)
    assert [(i, ev.event_id) for i, ev in prepared.valid] == [(0, good["event_id"])]
    assert prepared.outcomes[1].errors == (("event", "must be a JSON object, not string"),)
    assert prepared.outcomes[2].event_id == bad["event_id"]
    assert [f for f, _ in prepared.outcomes[2].errors] == ["amount"]
    assert prepared.outcomes[3].errors == (("event", "must be a JSON object, not null"),)


def _ok(i: int) -> Outcome:
    return Outcome(i, f"e{i}", "accepted", topic="t", partition=0, offset=i)


def _bad(i: int) -> Outcome:
    return Outcome(i, f"e{i}", "rejected", (("amount", "must be greater than 0"),))


def _down(i: int) -> Outcome:
    return Outcome(i, f"e{i}", "failed", (("event", "broker down"),))


def _theirs(i: int) -> Outcome:
    return forbidden(i, f"e{i}", NANSHAN, "GD", "guangzhou-tianhe")


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([_ok(0), _ok(1)], 202),
        ([_ok(0), _bad(1)], 207),
        ([_bad(0), _bad(1)], 422),
        ([_ok(0), _down(1)], 503),
        ([_bad(0), _down(1)], 503),
        ([_theirs(0)], 403),
        ([_bad(0), _theirs(1)], 403),
        ([_ok(0), _theirs(1)], 207),
        ([_theirs(0), _down(1)], 503),
    ],
)
def test_status_of_a_request(outcomes: list[Outcome], status: int) -> None:
    assert status_of(outcomes) == status


def test_response_body_is_ordered_counted_and_explains_failures() -> None:
    status, body = response_body([_down(2), _bad(1), _ok(0)], ("broker_unavailable", "Kafka at x:1 did not answer"))
    assert status == 503
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert (body["accepted"], body["rejected"], body["failed"]) == (1, 1, 1)
    assert body["results"][0] == {
        "index": 0,
        "event_id": "e0",
        "status": "accepted",
        "topic": "t",
        "partition": 0,
        "offset": 0,
    }
    assert body["results"][1]["errors"] == [{"field": "amount", "message": "must be greater than 0"}]
    assert body["error"]["code"] == "broker_unavailable"
    assert "1 of 3 events were not published: Kafka at x:1 did not answer" in body["error"]["message"]
    json.dumps(body)  # plain JSON, ready to send
    _, all_bad = response_body([_bad(0)])
    assert all_bad["error"]["code"] == "all_rejected"
    _, all_good = response_body([_ok(0)])
    assert "error" not in all_good


def test_a_response_with_nothing_accepted_and_another_districts_event_is_403_naming_them() -> None:
    status, body = response_body([_theirs(2), _bad(1), _theirs(0)])
    assert status == 403 and (body["accepted"], body["rejected"], body["failed"]) == (0, 3, 0)
    error = body["error"]
    assert error["code"] == "forbidden_district"
    assert error["message"].startswith("nothing was published: event(s) 0, 2 name a district this token may not")
    assert [(d["index"], d["field"]) for d in error["details"]] == [(0, "district"), (2, "district")]
    assert body["results"][0]["errors"] == [{"field": "district", "message": _theirs(0).errors[0][1]}]
    mixed_status, mixed = response_body([_ok(0), _theirs(1)])
    assert mixed_status == 207 and "error" not in mixed and mixed["results"][1]["status"] == "rejected"
