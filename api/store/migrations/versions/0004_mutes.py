"""Mutes: a pattern of alerts an analyst takes out of the scores and the default alert list until it expires.

A mute is a vessel and kind, a pair of MMSIs (either order), a zone and kind, or a station's gaps; who made it
(the key's id and name), when, why and until when. Kept forever: ending one early records who and when.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # frozen here as the table is at 0004 (a migration never imports the live tables)
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pattern", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("mmsi", sa.BigInteger, nullable=True),
        sa.Column("other_mmsi", sa.BigInteger, nullable=True),
        sa.Column("zone", sa.String(200), nullable=True),
        sa.Column("station", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("ended_key_id", sa.String(32), nullable=True),
        sa.Column("ended_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_mutes_expires_at", "mutes", ["expires_at"])


def downgrade() -> None:
    """Drops the mutes and their record."""
    op.drop_index("ix_mutes_expires_at", table_name="mutes")
    op.drop_table("mutes")
