"""The crossing of one raw record into its shared form under an agreement: :func:`apply` and :class:`Crossing`.

Pure: no Kafka, no HTTP, no SQL. Deny by default: a raw field no rule names is
dropped and listed. The HMAC key comes from the caller
(:func:`hub.agreements.keys.load_key`); the pseudonyms and generalisers are
:mod:`hub.agreements.transforms`; the local date an age band is taken on is the
reporting time zone's (:mod:`hub.reporting_time`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.agreements.keys import MIN_KEY_BYTES
from hub.agreements.model import Agreement, FieldRule
from hub.agreements.transforms import GENERALISERS, PseudonymFn, pseudonym
from hub.errors import PolicyError, ValidationError
from hub.naming import shared_topic
from hub.orgunits import OrgUnits, org_units
from hub.reporting_time import local_date
from hub.zones import zones_for


@dataclass(frozen=True)
class Crossing:
    """The shared form of one raw event and what happened to each field (for the audit record)."""

    event_type: str
    event_id: str
    occurred_at: datetime | int
    agreement_id: str
    agreement_version: int
    shared_record: dict[str, Any] = field(hash=False)
    key: str
    """Shared Kafka key (UTF-8): the kept or pseudonymised aggregate id, never the raw one."""
    zones: tuple[str, ...]
    """Zones the event enters; empty means the agreement lets it go nowhere (audit it, write nothing)."""
    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    pseudonymised: tuple[str, ...]
    generalised: tuple[str, ...]

    @property
    def topics(self) -> tuple[str, ...]:
        """Shared topics to write, one per zone."""
        return tuple(shared_topic(z, self.event_type) for z in self.zones)


def _pseudonymise(fn: PseudonymFn, key: bytes, rule: FieldRule, district: str, value: Any) -> Any:
    assert rule.kind is not None
    if value is None:
        return None
    if isinstance(value, str):
        return fn(key, rule.kind, district, value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [fn(key, rule.kind, district, v) for v in value]
    raise PolicyError(f"field {rule.source}: cannot pseudonymise a {type(value).__name__}; expected text")


def apply(
    agreement: Agreement,
    key: bytes,
    event_type: str,
    raw_record: Mapping[str, Any],
    *,
    pseudonym_fn: PseudonymFn = pseudonym,
    units: OrgUnits | None = None,
) -> Crossing:
    """Cross one raw record (as fastavro decodes it) into its shared form under ``agreement``.

    Deny by default: any field of ``raw_record`` that no keep / keep_if /
    pseudonymise / generalise rule names is dropped and listed in ``dropped``.
    The shared record holds exactly the shared schema's fields. Raises
    :class:`PolicyError` if the event type is not covered, the district is
    unknown or outside the agreement's region, or a named field is missing.
    """
    if len(key) < MIN_KEY_BYTES:
        raise PolicyError(f"agreement {agreement.id}: HMAC key is {len(key)} bytes; at least {MIN_KEY_BYTES} needed")
    plan = agreement.plan(event_type)
    district_code = raw_record.get("district")
    district = (units or org_units()).district(str(district_code)) if isinstance(district_code, str) else None
    if district is None:
        raise PolicyError(f"field district: {district_code!r} is not a known district")
    if district.region != agreement.source_region or raw_record.get("region") != agreement.source_region:
        raise PolicyError(
            f"field district: {district.code} (region {district.region}, record region {raw_record.get('region')}) "
            f"is outside agreement {agreement.id}, which covers {agreement.source_region}"
        )
    occurred_at = raw_record.get("occurred_at")
    if not isinstance(occurred_at, datetime | int):
        raise PolicyError(f"field occurred_at: missing or not a timestamp in {event_type}")
    try:
        on = local_date(occurred_at)
    except ValidationError as exc:
        raise PolicyError(f"field occurred_at: {exc.errors[0][1]}") from exc
    missing = [name for name in plan.required if name not in raw_record]
    if missing:
        raise PolicyError(f"field {missing[0]}: missing from the raw {event_type} record")
    steps = plan.steps
    shared: dict[str, Any] = {}
    kept: list[str] = []
    dropped: list[str] = []
    pseudonymised: list[str] = []
    generalised: list[str] = []
    for name, value in raw_record.items():
        step = steps.get(name)
        if step is None:  # no rule, or a drop rule
            dropped.append(name)
            continue
        action, target, rule = step
        if action == "keep":
            shared[target] = value
            kept.append(rule.label)
        elif action == "pseudonymise":
            shared[target] = _pseudonymise(pseudonym_fn, key, rule, district.code, value)
            pseudonymised.append(rule.label)
        elif action == "keep_if":
            assert rule.condition is not None
            allowed = rule.condition.holds(raw_record)
            shared[target] = value if allowed else None
            (kept if allowed else dropped).append(rule.label)
        else:
            shared[target] = GENERALISERS[rule.rule or ""].fn(value, on)
            generalised.append(rule.label)
    for name, default in plan.defaults.items():
        shared.setdefault(name, default)
    # Invariant: exactly the shared schema's fields, in its order.
    ordered = {name: shared[name] for name in plan.shared_fields}
    shared_key = ordered[plan.key_field]
    if not isinstance(shared_key, str) or not shared_key:
        raise PolicyError(f"field {plan.key_field}: the shared aggregate id is empty")
    return Crossing(
        event_type=event_type,
        event_id=str(raw_record.get("event_id")),
        occurred_at=occurred_at,
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        shared_record=ordered,
        key=shared_key,
        zones=tuple(z for z in agreement.zones if z in zones_for(district)),
        kept=tuple(kept),
        dropped=tuple(dropped),
        pseudonymised=tuple(pseudonymised),
        generalised=tuple(generalised),
    )


__all__ = ["Crossing", "apply"]
