"""Triage decisions as an audit record kept forever: independent of the alert row, with reason codes and key ids.

``alert_triage`` deleted its rows with their alert (ON DELETE CASCADE), so a withdrawal erased the analysts' word.
``triage_decisions`` has no foreign key: each row names its alert, the alert's kind and vessels, the status, a
dismissal's reason code, the note, and who decided (the key's id and name) and when. Existing rows move over in
their order; their reason code and key id are unknown (null): only the key's name was recorded then.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# frozen here, as the tables were at 0002 and are at 0003 (a migration never imports the live tables)
_alerts = sa.table("alerts", sa.column("alert_id"), sa.column("kind"), sa.column("mmsi"), sa.column("other_mmsi"))
_old = sa.table("alert_triage", sa.column("id"), sa.column("alert_id"), sa.column("status"), sa.column("note"),
                sa.column("by"), sa.column("at"))  # fmt: skip
_new = sa.table("triage_decisions", sa.column("id"), sa.column("alert_id"), sa.column("kind"), sa.column("mmsi"),
                sa.column("other_mmsi"), sa.column("status"), sa.column("reason"), sa.column("note"),
                sa.column("key_id"), sa.column("by"), sa.column("at"))  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "triage_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("mmsi", sa.BigInteger, nullable=False),
        sa.Column("other_mmsi", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_triage_decisions_alert_id", "triage_decisions", ["alert_id", "at"])
    # every old row has its alert (the cascade deleted the others); ids are given anew, in the old order
    old, a = _old.c, _alerts.c
    rows = (
        sa.select(old.alert_id, a.kind, a.mmsi, a.other_mmsi, old.status, old.note, old.by, old.at)
        .join_from(_old, _alerts, old.alert_id == a.alert_id)
        .order_by(old.id)
    )
    columns = ["alert_id", "kind", "mmsi", "other_mmsi", "status", "note", "by", "at"]
    op.execute(sa.insert(_new).from_select(columns, rows))
    op.drop_index("ix_alert_triage_alert_id", table_name="alert_triage")
    op.drop_table("alert_triage")


def downgrade() -> None:
    """Back to ``alert_triage``: decisions on alerts no longer stored, reason codes and key ids are lost."""
    op.create_table(
        "alert_triage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_alert_triage_alert_id", "alert_triage", ["alert_id", "at"])
    new, a = _new.c, _alerts.c
    rows = (
        sa.select(new.alert_id, new.status, new.note, new.by, new.at)
        .join_from(_new, _alerts, new.alert_id == a.alert_id)
        .order_by(new.id)
    )
    op.execute(sa.insert(_old).from_select(["alert_id", "status", "note", "by", "at"], rows))
    op.drop_index("ix_triage_decisions_alert_id", table_name="triage_decisions")
    op.drop_table("triage_decisions")
