"""Watchlists (issue 17): named lists of vessels of interest, their entries, and the sightings of listed vessels.

``watchlists``: a unique name, a description, who made it and when. ``watchlist_entries``: a vessel named by any
subset of MMSI, IMO, call sign and name, with the reason, the source, who added it and when (deleted with their
list). ``watchlist_sightings``: a listed vessel first matched, once per entry and MMSI, with a revision from the
alerts' counter so the live stream orders it among the alerts. ``vessels`` gains ``watchlists``: the names of the
lists a vessel matches at its latest scoring (null: none).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.types import JSONList, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # frozen here as the tables are at 0006 (a migration never imports the live tables)
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("watchlist_id", sa.Integer, sa.ForeignKey("watchlists.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mmsi", sa.BigInteger, nullable=True),
        sa.Column("imo", sa.BigInteger, nullable=True),
        sa.Column("callsign", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.String(200), nullable=False, server_default=""),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_watchlist_entries_list", "watchlist_entries", ["watchlist_id", "id"])
    op.create_table(
        "watchlist_sightings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("watchlist_id", sa.Integer, nullable=False),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("mmsi", sa.BigInteger, nullable=False),
        sa.Column("matched_on", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("rev", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_watchlist_sightings_rev", "watchlist_sightings", ["rev", "key"])
    with op.batch_alter_table("vessels") as batch:
        batch.add_column(sa.Column("watchlists", JSONList, nullable=True))


def downgrade() -> None:
    """Drops the watchlists, their entries and sightings, and the vessels' marks."""
    with op.batch_alter_table("vessels") as batch:
        batch.drop_column("watchlists")
    op.drop_index("ix_watchlist_sightings_rev", table_name="watchlist_sightings")
    op.drop_table("watchlist_sightings")
    op.drop_index("ix_watchlist_entries_list", table_name="watchlist_entries")
    op.drop_table("watchlist_entries")
    op.drop_table("watchlists")
