"""The first schema: alerts and their triage, vessels and their identity history, tracks, zones, API keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.types import JSONList, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# frozen here: a new alert kind needs a new migration that adds its count column
KINDS_0001 = (
    "ais_gap",
    "encounter",
    "loitering",
    "spoofing",
    "land_position",
    "identity_conflict",
    "identity_change",
    "invalid_identity",
    "draught_change",
    "zone_entry",
    "border_crossing",
    "distress",
)


def _identity() -> list[sa.Column]:
    return [
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("callsign", sa.String(16), nullable=True),
        sa.Column("imo", sa.BigInteger, nullable=True),
        sa.Column("ship_type", sa.BigInteger, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("mmsi", sa.BigInteger, nullable=False),
        sa.Column("other_mmsi", sa.BigInteger, nullable=True),
        sa.Column("start", UTCDateTime, nullable=False),
        sa.Column("end", UTCDateTime, nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", JSONList, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("rev", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alerts_start", "alerts", ["start"])
    op.create_index("ix_alerts_mmsi", "alerts", ["mmsi"])
    op.create_index("ix_alerts_other_mmsi", "alerts", ["other_mmsi"])
    op.create_index("ix_alerts_kind_start", "alerts", ["kind", "start"])
    op.create_index("ix_alerts_rev", "alerts", ["rev", "alert_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE alerts_rev_seq")

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

    op.create_table(
        "vessels",
        sa.Column("mmsi", sa.BigInteger, primary_key=True, autoincrement=False),
        *_identity(),
        sa.Column("flag", sa.String(8), nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("first_seen", UTCDateTime, nullable=True),
        sa.Column("last_seen", UTCDateTime, nullable=True),
        sa.Column("positions", sa.BigInteger, nullable=True),
        sa.Column("smuggling_score", sa.Float, nullable=True),
        sa.Column("fire_score", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("band", sa.String(16), nullable=True),
        sa.Column("smuggling_band", sa.String(16), nullable=True),
        sa.Column("fire_band", sa.String(16), nullable=True),
        sa.Column("unusual", sa.Float, nullable=True),
        sa.Column("reasons", JSONList, nullable=True),
        sa.Column("smuggling_reasons", JSONList, nullable=True),
        sa.Column("fire_reasons", JSONList, nullable=True),
        sa.Column("alerts", sa.BigInteger, nullable=True),
        *[sa.Column(f"alerts_{kind}", sa.BigInteger, nullable=True) for kind in KINDS_0001],
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_vessels_score", "vessels", ["score"])
    op.create_index("ix_vessels_updated_at", "vessels", ["updated_at"])
    op.create_index("ix_vessels_lat_lon", "vessels", ["lat", "lon"])

    op.create_table(
        "vessel_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mmsi", sa.BigInteger, nullable=False),
        sa.Column("t", UTCDateTime, nullable=False),
        *_identity(),
    )
    op.create_index("ix_vessel_history_mmsi_t", "vessel_history", ["mmsi", "t"])

    op.create_table(
        "track_points",
        sa.Column("mmsi", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("t", UTCDateTime, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("sog", sa.Float, nullable=True),
        sa.Column("cog", sa.Float, nullable=True),
    )
    op.create_index("ix_track_points_t", "track_points", ["t"])

    op.create_table(
        "zones",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("zone_kind", sa.String(32), nullable=False),
        sa.Column("geometry", JSONList, nullable=False),
        sa.Column("properties", JSONList, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_api_keys_name", "api_keys", ["name"])


def downgrade() -> None:
    for table in ("api_keys", "zones", "track_points", "vessel_history", "vessels", "alert_triage", "alerts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS alerts_rev_seq")
