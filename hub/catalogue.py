"""The event catalogue: which event types exist and what keys them.

Pure data mirroring the event catalogue (``docs/events.md``);
``tests/test_schemas.py`` checks it, the catalogue's tables and the ``.avsc``
files against each other, so none of the three can drift.
"""

from __future__ import annotations

from typing import Final

#: Event type -> field holding its aggregate id in the raw (district) form.
#: The aggregate id is the Kafka key, so one aggregate's events stay ordered.
RAW_KEY_FIELD: Final[dict[str, str]] = {
    "CaseOpened": "case_id",
    "VisitMade": "case_id",
    "CaseClosed": "case_id",
    "DonationReceived": "donation_id",
    "ProjectEvaluated": "project_id",
    "ProjectFunded": "project_id",
    "ServiceDelivered": "service_id",
    "TrainingHeld": "training_id",
    "WorkerCertified": "worker_id",
    "VolunteerRegistered": "volunteer_id",
}

CORE_EVENTS: Final[tuple[str, ...]] = ("CaseOpened", "VisitMade", "DonationReceived", "ProjectEvaluated")
EXTENSION_EVENTS: Final[tuple[str, ...]] = (
    "CaseClosed",
    "ServiceDelivered",
    "ProjectFunded",
    "TrainingHeld",
    "WorkerCertified",
    "VolunteerRegistered",
)
EVENT_TYPES: Final[tuple[str, ...]] = CORE_EVENTS + EXTENSION_EVENTS

ENVELOPE_FIELDS: Final[tuple[str, ...]] = ("event_id", "occurred_at", "region", "district", "station")
