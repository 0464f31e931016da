"""The read-model tables (SQLAlchemy Core), built from the shared events.

Every fact table is keyed by ``(zone, district, natural id)``: an event in two
zones is a fact of each zone's report, and the hub's ids (and pseudonyms) are
district-scoped. Every fact row carries its envelope (``event_id``,
``region``, ``station``, ``occurred_at`` in UTC, ``occurred_ms``) and the
local period columns ``local_date``, ``month``, ``quarter``, ``year``
(Asia/Shanghai) so that reports group by plain columns on any dialect. Instants are
:class:`hub.sql.UtcDateTime` (naive UTC timestamps in the database, aware UTC datetimes in Python).

The data tables of a projection can be built under a name suffix
(:func:`build`) so that a rebuild fills ``cases__shadow`` etc. while the live
tables answer queries, then swaps them (:func:`projections.store.swap_shadow`).
``projection_offsets`` is never suffixed.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, Numeric, String, Table

from hub.errors import ProjectionError
from hub.sql import UtcDateTime
from hub.tracking import OffsetsTable

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

#: Suffix of the shadow tables a rebuild fills.
SHADOW_SUFFIX: Final = "__shadow"

#: The only projection so far: every fact table plus the indicators derived from them.
READ_MODELS: Final = "read_models"
FACT_TABLES: Final[tuple[str, ...]] = (
    "cases",
    "visits",
    "donations",
    "evaluations",
    "fundings",
    "services",
    "trainings",
    "certifications",
    "volunteers",
)
DATA_TABLES: Final[tuple[str, ...]] = (*FACT_TABLES, "indicators")
PROJECTION_TABLES: Final[dict[str, tuple[str, ...]]] = {READ_MODELS: DATA_TABLES}


def _money() -> Numeric[Any]:
    return Numeric(18, 2, asdecimal=True)


def _envelope(*, nullable: bool = False) -> list[Column[Any]]:
    """Columns every fact row carries (``district`` and ``zone`` are part of each key)."""
    return [
        Column("event_id", String, nullable=nullable),
        Column("region", String(8), nullable=False),
        Column("station", String, nullable=True),
        Column("occurred_at", UtcDateTime, nullable=nullable),
        Column("occurred_ms", BigInteger, nullable=nullable),
        Column("local_date", Date, nullable=nullable),
        Column("month", String(7), nullable=nullable),
        Column("quarter", String(7), nullable=nullable),
        Column("year", String(4), nullable=nullable),
    ]


def _key(*natural: str) -> list[Column[Any]]:
    cols = [Column("zone", String(32), primary_key=True), Column("district", String(64), primary_key=True)]
    return cols + [Column(name, String, primary_key=True) for name in natural]


def _fx() -> list[Column[Any]]:
    return [
        Column("amount", _money(), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("amount_reporting", _money(), nullable=False),
        Column("reporting_currency", String(3), nullable=False),
        Column("fx_rate", Numeric(18, 8, asdecimal=True), nullable=False),
        Column("fx_valid_from", Date, nullable=True),
    ]


def _period_index() -> Index:
    return Index(None, "zone", "district", "local_date")


def build(metadata: MetaData, suffix: str = "") -> dict[str, Table]:
    """Create the data tables of the read models in ``metadata``, each named ``<name><suffix>``.

    Returns them by base name (``"cases"``, ...). Index and constraint names
    follow ``metadata``'s naming convention, so they carry the suffix too.
    """
    t: dict[str, Table] = {}

    def table(name: str, *items: Any) -> None:
        t[name] = Table(name + suffix, metadata, *items)

    table(
        "cases",
        *_key("case_ref"),
        # The envelope of a case is its CaseOpened's (NULL until that arrives).
        *_envelope(nullable=True),
        Column("service_area", String),
        Column("risk_level", String),
        Column("client_ref", String),
        Column("client_age_band", String(16)),
        Column("client_gender", String(16)),
        Column("vulnerable_groups", String, doc="Sorted, comma-joined VulnerableGroup symbols."),
        Column("worker_ref", String),
        Column("referral_source", String),
        Column("closed_event_id", String),
        Column("closed_at", UtcDateTime),
        Column("closed_ms", BigInteger),
        Column("closed_local_date", Date),
        Column("closed_month", String(7)),
        Column("closed_quarter", String(7)),
        Column("closed_year", String(4)),
        Column("close_outcome", String),
        Column("closed_worker_ref", String),
        # Derived from the facts by the store's refresh step; never incremented.
        Column("status", String(8), nullable=False, server_default="unknown"),
        Column("visit_count", Integer, nullable=False, server_default="0"),
        Column("home_visit_count", Integer, nullable=False, server_default="0"),
        Column("last_visit_at", UtcDateTime),
        Index(None, "zone", "district", "local_date"),
        Index(None, "zone", "district", "closed_local_date"),
    )
    table(
        "visits",
        *_key("visit_id"),
        *_envelope(),
        Column("case_ref", String, nullable=False),
        Column("worker_ref", String),
        Column("visit_type", String(16), nullable=False),
        Column("duration_minutes", Integer, nullable=False),
        Column("volunteer_count", Integer, nullable=False),
        Index(None, "zone", "district", "case_ref"),
        _period_index(),
    )
    table(
        "donations",
        *_key("donation_id"),
        *_envelope(),
        *_fx(),
        Column("donor_type", String(32), nullable=False),
        Column("donor_name", String),
        Column("project_id", String),
        Column("beneficiaries", Integer),
        _period_index(),
    )
    table(
        "evaluations",
        *_key("evaluation_id"),
        *_envelope(),
        Column("project_id", String, nullable=False),
        Column("project_name", String, nullable=False),
        Column("service_area", String, nullable=False),
        Column("period_start", Date, nullable=False),
        Column("period_end", Date, nullable=False),
        Column("score_professional", Integer, nullable=False),
        Column("score_effectiveness", Integer, nullable=False),
        Column("score_financial", Integer, nullable=False),
        Column("score_overall", Integer, nullable=False),
        Column("outcome", String(32), nullable=False),
        Column("beneficiaries", Integer, nullable=False),
        Column("evaluator_count", Integer, nullable=False),
        _period_index(),
    )
    # Natural id of a grant: its event_id (ProjectFunded has no id and a project may be funded repeatedly).
    fundings_envelope = [c for c in _envelope() if c.name != "event_id"]
    table(
        "fundings",
        Column("zone", String(32), primary_key=True),
        Column("district", String(64), primary_key=True),
        Column("event_id", String, primary_key=True),
        *fundings_envelope,
        Column("project_id", String, nullable=False),
        Column("project_name", String, nullable=False),
        Column("programme", String(32), nullable=False),
        *_fx(),
        _period_index(),
    )
    table(
        "services",
        *_key("service_id"),
        *_envelope(),
        Column("service_area", String, nullable=False),
        Column("project_id", String),
        Column("person_times", Integer, nullable=False),
        Column("volunteer_count", Integer, nullable=False),
        _period_index(),
    )
    table(
        "trainings",
        *_key("training_id"),
        *_envelope(),
        Column("topic", String, nullable=False),
        Column("participants", Integer, nullable=False),
        Column("hours", Integer, nullable=False),
        _period_index(),
    )
    # One row per (worker, level): the first certification at that level.
    table("certifications", *_key("worker_ref", "level"), *_envelope(), _period_index())
    # One row per volunteer: the first registration.
    table("volunteers", *_key("volunteer_ref"), *_envelope(), _period_index())
    table(
        "indicators",
        Column("zone", String(32), primary_key=True),
        Column("region", String(8), primary_key=True),
        Column("district", String(64), primary_key=True),
        Column("period_kind", String(8), primary_key=True),
        Column("period", String(7), primary_key=True),
        Column("indicator", String(64), primary_key=True),
        Column("value", Numeric(24, 6, asdecimal=True), nullable=False),
        Index(None, "zone", "period_kind", "period"),
    )
    return t


#: ``projection_offsets``: the next offset to apply per (projection, topic, partition), written by the tracking
#: writer (:mod:`hub.tracking`) in the transaction of the rows; ``last_record_ms`` is for time lag.
PROJECTION_OFFSETS: Final = OffsetsTable("projection_offsets", owner_column="projection", record_time=True)


metadata: Final = MetaData(naming_convention=NAMING_CONVENTION)
"""The live schema: what Alembic migrates to."""
TABLES: Final[dict[str, Table]] = build(metadata)
projection_offsets: Final[Table] = PROJECTION_OFFSETS.build(metadata)


@cache
def tables_for(suffix: str = "") -> dict[str, Table]:
    """The data tables under ``suffix`` (``""``: the live ones, in :data:`metadata`)."""
    if not suffix:
        return TABLES
    if not suffix.replace("_", "").isalnum() or not suffix.startswith("__"):
        raise ProjectionError(
            f"table suffix must look like __shadow (two underscores, then letters/digits): {suffix!r}"
        )
    return build(MetaData(naming_convention=NAMING_CONVENTION), suffix)
