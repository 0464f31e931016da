"""The shared corpus of bad inputs: (event type, overrides, field, rule fragment).

Every front end (SDK, HTTP ingest, bulk CLI) is tested against the same
corpus so that they reject the same inputs with the same field named.
"""

from __future__ import annotations

import json
from typing import Any

from hub.validation import MAX_EVALUATORS, MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from tests.factories import DROP, valid_event_doc

LONG_EVALUATORS = [f"EXP-{i:03d}" for i in range(MAX_EVALUATORS + 1)]

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("CaseOpened", {"nickname": "Ah Ying"}, "nickname", "unknown field"),
    ("CaseOpened", {"case_id": DROP}, "case_id", "is required"),
    ("VisitMade", {"occurred_at": DROP}, "occurred_at", "is required"),
    ("CaseOpened", {"event_id": "not-a-uuid"}, "event_id", "must be a UUID"),
    ("CaseOpened", {"event_id": "0b8e6f2a3c4d4e5f8a9b0c1d2e3f4a5b"}, "event_id", "must be a UUID"),
    ("CaseOpened", {"event_id": ""}, "event_id", "must not be empty"),
    ("VisitMade", {"occurred_at": "2026-03-02T09:30:00"}, "occurred_at", "must include a UTC offset"),
    ("VisitMade", {"occurred_at": "2026-03-02"}, "occurred_at", "must be an ISO-8601 timestamp with offset"),
    ("VisitMade", {"occurred_at": "yesterday"}, "occurred_at", "must be an ISO-8601 timestamp with offset"),
    ("VisitMade", {"occurred_at": "2026-02-30T09:30:00+08:00"}, "occurred_at", "is not a valid timestamp"),
    ("VisitMade", {"occurred_at": 1772415000000}, "occurred_at", "must be an ISO-8601 timestamp string, not number"),
    ("VisitMade", {"occurred_at": "2150-01-01T00:00:00Z"}, "occurred_at", "must be from 1970-01-01"),
    ("VisitMade", {"occurred_at": "0001-01-01T00:00:00+08:00"}, "occurred_at", "must be from 1970-01-01"),
    ("VisitMade", {"occurred_at": "2026-03-02T09:30:00+24:00"}, "occurred_at", "is not a valid timestamp"),
    ("CaseOpened", {"region": "XX"}, "region", "unknown symbol 'XX'; allowed: GD, HK, MO, JS, FJ"),
    ("CaseOpened", {"region": 5}, "region", "must be one of GD, HK, MO, JS, FJ"),
    ("CaseOpened", {"region": "HK", "station": None}, "district", "belongs to region GD, not HK"),
    ("CaseOpened", {"district": "shenzhen-futian"}, "district", "unknown district 'shenzhen-futian'"),
    ("CaseOpened", {"station": "ns-nowhere"}, "station", "'ns-nowhere' is not a station of district shenzhen-nanshan"),
    ("DonationReceived", {"currency": "USD"}, "currency", "unsupported currency 'USD'; allowed: CNY, HKD, MOP"),
    ("DonationReceived", {"currency": "cny"}, "currency", "unsupported currency 'cny'"),
    ("DonationReceived", {"amount": "0.00"}, "amount", "must be greater than 0"),
    ("ProjectFunded", {"amount": "-5.00"}, "amount", "must be greater than 0"),
    ("DonationReceived", {"amount": "12.345"}, "amount", "must have at most 2 decimal places"),
    ("DonationReceived", {"amount": "12345678901234567.00"}, "amount", "must have at most 16 integer digits"),
    ("DonationReceived", {"amount": 1250.0}, "amount", "not a JSON number"),
    ("ProjectFunded", {"amount": 1250}, "amount", "not a JSON number"),
    ("DonationReceived", {"amount": "1,250.00"}, "amount", 'must be a decimal string like "1250.00"'),
    ("DonationReceived", {"amount": "NaN"}, "amount", 'must be a decimal string like "1250.00"'),
    ("ProjectEvaluated", {"score_overall": 101}, "score_overall", "must be between 0 and 100"),
    ("ProjectEvaluated", {"score_professional": -1}, "score_professional", "must be between 0 and 100"),
    ("VisitMade", {"duration_minutes": 0}, "duration_minutes", "must be between 1 and 1440"),
    ("VisitMade", {"duration_minutes": 1441}, "duration_minutes", "must be between 1 and 1440"),
    ("VisitMade", {"volunteer_count": -1}, "volunteer_count", "must not be negative"),
    ("ServiceDelivered", {"person_times": -3}, "person_times", "must not be negative"),
    ("TrainingHeld", {"participants": -1}, "participants", "must not be negative"),
    ("TrainingHeld", {"hours": -2}, "hours", "must not be negative"),
    ("DonationReceived", {"beneficiaries": -1}, "beneficiaries", "must not be negative"),
    ("ServiceDelivered", {"person_times": 2**31}, "person_times", "must be at most 2147483647"),
    ("CaseOpened", {"client_birth_year": 1800}, "client_birth_year", "must be between 1900 and 2100"),
    ("ProjectEvaluated", {"period_end": "2024-12-31"}, "period_end", "must not be before period_start"),
    ("ProjectEvaluated", {"period_start": "2025/01/01"}, "period_start", "must be a date in YYYY-MM-DD form"),
    ("ProjectEvaluated", {"period_end": "2025-02-30"}, "period_end", "is not a valid calendar date"),
    ("ProjectEvaluated", {"period_start": "2025-01-01T00:00:00+08:00"}, "period_start", "must be a date in YYYY-MM-DD"),
    ("ProjectEvaluated", {"period_start": 20250101}, "period_start", "must be a date string"),
    ("CaseOpened", {"service_area": "HEALTH"}, "service_area", "unknown symbol 'HEALTH'; allowed: ELDERLY, CHILD_"),
    ("VisitMade", {"visit_type": "home"}, "visit_type", "unknown symbol 'home'; allowed: HOME, PHONE"),
    ("CaseOpened", {"vulnerable_groups": ["ORPHAN"]}, "vulnerable_groups[0]", "unknown symbol 'ORPHAN'"),
    ("VisitMade", {"notes": "x" * (MAX_TEXT_LENGTH + 1)}, "notes", f"must be at most {MAX_TEXT_LENGTH} characters"),
    ("CaseOpened", {"client_name": "陈" * (MAX_NAME_LENGTH + 1)}, "client_name", "must be at most 200 characters"),
    ("CaseOpened", {"case_id": "N" * (MAX_ID_LENGTH + 1)}, "case_id", "must be at most 128 characters"),
    ("ProjectEvaluated", {"evaluator_ids": ["E" * 129]}, "evaluator_ids[0]", "must be at most 128 characters"),
    ("CaseOpened", {"case_id": ""}, "case_id", "must not be empty"),
    ("CaseClosed", {"worker_id": "   "}, "worker_id", "must not be blank"),
    ("VisitMade", {"station": ""}, "station", "must not be empty"),
    ("CaseOpened", {"case_id": ["NS-2026-000123"]}, "case_id", "must be a string, not array"),
    ("CaseOpened", {"case_id": None}, "case_id", "must be a string, not null"),
    ("CaseOpened", {"client_id": 45821}, "client_id", "must be a string, not number"),
    ("VisitMade", {"duration_minutes": "45"}, "duration_minutes", "must be an integer, not string"),
    ("VisitMade", {"duration_minutes": 45.0}, "duration_minutes", "must be an integer, not number"),
    ("VisitMade", {"volunteer_count": True}, "volunteer_count", "must be an integer, not boolean"),
    ("CaseOpened", {"vulnerable_groups": "LOW_INCOME"}, "vulnerable_groups", "must be an array, not string"),
    ("CaseOpened", {"vulnerable_groups": ("LOW_INCOME",)}, "vulnerable_groups", "must be an array, not tuple"),
    ("ProjectEvaluated", {"evaluator_ids": LONG_EVALUATORS}, "evaluator_ids", "must have at most 20 items"),
    ("ProjectEvaluated", {"evaluator_ids": []}, "evaluator_ids", "must have at least 1 item"),
    ("CaseOpened", {"client_gender": {"code": "F"}}, "client_gender", "not object"),
]


def json_faithful() -> list[tuple[str, dict[str, Any], str, str]]:
    """The entries whose documents survive a trip through JSON unchanged (for HTTP and files)."""
    out = []
    for event_type, overrides, field, rule in BAD:
        doc = valid_event_doc(event_type, **overrides)
        try:
            if json.loads(json.dumps(doc)) == doc:
                out.append((event_type, overrides, field, rule))
        except (TypeError, ValueError):
            continue
    return out
