"""Initial read models: the fact tables, indicators and projection offsets.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("case_ref", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=True),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("quarter", sa.String(length=7), nullable=True),
        sa.Column("year", sa.String(length=4), nullable=True),
        sa.Column("service_area", sa.String(), nullable=True),
        sa.Column("risk_level", sa.String(), nullable=True),
        sa.Column("client_ref", sa.String(), nullable=True),
        sa.Column("client_age_band", sa.String(length=16), nullable=True),
        sa.Column("client_gender", sa.String(length=16), nullable=True),
        sa.Column("vulnerable_groups", sa.String(), nullable=True),
        sa.Column("worker_ref", sa.String(), nullable=True),
        sa.Column("referral_source", sa.String(), nullable=True),
        sa.Column("closed_event_id", sa.String(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_local_date", sa.Date(), nullable=True),
        sa.Column("closed_month", sa.String(length=7), nullable=True),
        sa.Column("closed_quarter", sa.String(length=7), nullable=True),
        sa.Column("closed_year", sa.String(length=4), nullable=True),
        sa.Column("close_outcome", sa.String(), nullable=True),
        sa.Column("closed_worker_ref", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=8), server_default="unknown", nullable=False),
        sa.Column("visit_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("home_visit_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_visit_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("zone", "district", "case_ref", name=op.f("pk_cases")),
    )
    op.create_index(
        op.f("ix_cases_zone_district_closed_local_date"),
        "cases",
        ["zone", "district", "closed_local_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cases_zone_district_local_date"), "cases", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "certifications",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("worker_ref", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "worker_ref", "level", name=op.f("pk_certifications")),
    )
    op.create_index(
        op.f("ix_certifications_zone_district_local_date"),
        "certifications",
        ["zone", "district", "local_date"],
        unique=False,
    )

    op.create_table(
        "donations",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("donation_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_reporting", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("reporting_currency", sa.String(length=3), nullable=False),
        sa.Column("fx_rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("fx_valid_from", sa.Date(), nullable=True),
        sa.Column("donor_type", sa.String(length=32), nullable=False),
        sa.Column("donor_name", sa.String(), nullable=True),
        sa.Column("project_id", sa.String(), nullable=True),
        sa.Column("beneficiaries", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("zone", "district", "donation_id", name=op.f("pk_donations")),
    )
    op.create_index(
        op.f("ix_donations_zone_district_local_date"), "donations", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "evaluations",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("evaluation_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("project_id", sa.String(), nullable=False),
        sa.Column("project_name", sa.String(), nullable=False),
        sa.Column("service_area", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("score_professional", sa.Integer(), nullable=False),
        sa.Column("score_effectiveness", sa.Integer(), nullable=False),
        sa.Column("score_financial", sa.Integer(), nullable=False),
        sa.Column("score_overall", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("beneficiaries", sa.Integer(), nullable=False),
        sa.Column("evaluator_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "evaluation_id", name=op.f("pk_evaluations")),
    )
    op.create_index(
        op.f("ix_evaluations_zone_district_local_date"), "evaluations", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "fundings",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("project_id", sa.String(), nullable=False),
        sa.Column("project_name", sa.String(), nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_reporting", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("reporting_currency", sa.String(length=3), nullable=False),
        sa.Column("fx_rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("fx_valid_from", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("zone", "district", "event_id", name=op.f("pk_fundings")),
    )
    op.create_index(
        op.f("ix_fundings_zone_district_local_date"), "fundings", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "indicators",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("indicator", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.PrimaryKeyConstraint(
            "zone", "region", "district", "period_kind", "period", "indicator", name=op.f("pk_indicators")
        ),
    )
    op.create_index(
        op.f("ix_indicators_zone_period_kind_period"), "indicators", ["zone", "period_kind", "period"], unique=False
    )

    op.create_table(
        "projection_offsets",
        sa.Column("projection", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_record_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "topic", "partition", name=op.f("pk_projection_offsets")),
    )
    op.create_table(
        "services",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("service_area", sa.String(), nullable=False),
        sa.Column("project_id", sa.String(), nullable=True),
        sa.Column("person_times", sa.Integer(), nullable=False),
        sa.Column("volunteer_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "service_id", name=op.f("pk_services")),
    )
    op.create_index(
        op.f("ix_services_zone_district_local_date"), "services", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "trainings",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("training_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "training_id", name=op.f("pk_trainings")),
    )
    op.create_index(
        op.f("ix_trainings_zone_district_local_date"), "trainings", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "visits",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("case_ref", sa.String(), nullable=False),
        sa.Column("worker_ref", sa.String(), nullable=True),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("volunteer_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "visit_id", name=op.f("pk_visits")),
    )
    op.create_index(op.f("ix_visits_zone_district_case_ref"), "visits", ["zone", "district", "case_ref"], unique=False)
    op.create_index(
        op.f("ix_visits_zone_district_local_date"), "visits", ["zone", "district", "local_date"], unique=False
    )

    op.create_table(
        "volunteers",
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("volunteer_ref", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.PrimaryKeyConstraint("zone", "district", "volunteer_ref", name=op.f("pk_volunteers")),
    )
    op.create_index(
        op.f("ix_volunteers_zone_district_local_date"), "volunteers", ["zone", "district", "local_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_volunteers_zone_district_local_date"), table_name="volunteers")

    op.drop_table("volunteers")
    op.drop_index(op.f("ix_visits_zone_district_local_date"), table_name="visits")
    op.drop_index(op.f("ix_visits_zone_district_case_ref"), table_name="visits")

    op.drop_table("visits")
    op.drop_index(op.f("ix_trainings_zone_district_local_date"), table_name="trainings")

    op.drop_table("trainings")
    op.drop_index(op.f("ix_services_zone_district_local_date"), table_name="services")

    op.drop_table("services")
    op.drop_table("projection_offsets")
    op.drop_index(op.f("ix_indicators_zone_period_kind_period"), table_name="indicators")

    op.drop_table("indicators")
    op.drop_index(op.f("ix_fundings_zone_district_local_date"), table_name="fundings")

    op.drop_table("fundings")
    op.drop_index(op.f("ix_evaluations_zone_district_local_date"), table_name="evaluations")

    op.drop_table("evaluations")
    op.drop_index(op.f("ix_donations_zone_district_local_date"), table_name="donations")

    op.drop_table("donations")
    op.drop_index(op.f("ix_certifications_zone_district_local_date"), table_name="certifications")

    op.drop_table("certifications")
    op.drop_index(op.f("ix_cases_zone_district_local_date"), table_name="cases")
    op.drop_index(op.f("ix_cases_zone_district_closed_local_date"), table_name="cases")

    op.drop_table("cases")
