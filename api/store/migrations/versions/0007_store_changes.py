"""Changes told across processes (issue 16): ``store_changes``, a counter per topic (alerts, vessels, keys...) put
up by every write that changes it, which the other processes sharing a SQLite file read when it changed
(api/store/changes.py; PostgreSQL's hear NOTIFY instead and leave it empty).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # frozen here as the table is at 0007 (a migration never imports the live tables)
    op.create_table(
        "store_changes",
        sa.Column("topic", sa.String(32), primary_key=True),
        sa.Column("rev", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_changes")
