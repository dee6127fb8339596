"""Withdrawn alerts: the tombstones the live stream reads to tell clients an alert was withdrawn.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdrawn_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("rev", sa.BigInteger, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_withdrawn_alerts_rev", "withdrawn_alerts", ["rev", "alert_id"])


def downgrade() -> None:
    op.drop_index("ix_withdrawn_alerts_rev", table_name="withdrawn_alerts")
    op.drop_table("withdrawn_alerts")
