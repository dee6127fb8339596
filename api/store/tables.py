"""The store's tables (SQLAlchemy Core). Migrations in ``api/store/migrations`` create exactly these.

Times are aware UTC (:class:`UTCDateTime`); lists of reasons and GeoJSON geometries are JSON. ``alerts.rev`` is
the revision of the upsert that last changed a row: the live stream follows it (see ``Store.alerts_since``).
``withdrawn_alerts`` keeps, with its revision, each alert withdrawn after it was stored, so the stream can say so.
``triage_decisions`` is the analysts' audit trail: every decision, never deleted, not even with its alert.
``mutes`` keeps every mute (a pattern of alerts taken out of the scores and the default list until it expires);
deleting one through the API ends it (``ended_at``): the record stays.
``audit_log`` records every change made through the API (triage, zones, keys, mutes) and every model promoted or
rolled back (the API or ``seawatch models``); triggers refuse UPDATE and
DELETE on it (migration 0005).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.store.types import JSONList, UTCDateTime
from engine.alerts import ALERT_KINDS

metadata = sa.MetaData()

ALERT_STATUSES = ("new", "confirmed", "dismissed", "escalated")
# why an analyst dismissed an alert (issue 12): a dismissal without one of these is refused
DISMISSAL_REASONS = ("legitimate_activity", "reception_problem", "data_error", "duplicate", "other")
ROLES = ("viewer", "analyst", "admin")

alerts = sa.Table(
    "alerts",
    metadata,
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
    sa.Index("ix_alerts_start", "start"),
    sa.Index("ix_alerts_mmsi", "mmsi"),
    sa.Index("ix_alerts_other_mmsi", "other_mmsi"),
    sa.Index("ix_alerts_kind_start", "kind", "start"),
    sa.Index("ix_alerts_rev", "rev", "alert_id"),
)

withdrawn_alerts = sa.Table(
    "withdrawn_alerts",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("rev", sa.BigInteger, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_withdrawn_alerts_rev", "rev", "alert_id"),
)

# An audit record, kept forever: a decision outlives its alert (a withdrawal deletes the alert, not this), so it
# holds no foreign key and says itself which alert, kind and vessels it was about, and who decided (the key's id
# and name), when, what and why.
triage_decisions = sa.Table(
    "triage_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("mmsi", sa.BigInteger, nullable=False),
    sa.Column("other_mmsi", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),  # a dismissal's reason code; null otherwise (and before 0003)
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("key_id", sa.String(32), nullable=True),  # null for decisions recorded before 0003 (name only)
    sa.Column("by", sa.String(100), nullable=False),  # the key's name
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_triage_decisions_alert_id", "alert_id", "at"),
)

# A mute: a pattern of alerts an analyst takes out until ``expires_at`` (models.indicators.MUTE_PATTERNS says which
# columns each pattern uses). Kept forever: ending one early records who and when, and erases nothing.
mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pattern", sa.String(16), nullable=False),  # vessel, pair, zone, station
    sa.Column("kind", sa.String(32), nullable=True),  # null: any kind (a pair's mute may leave it out)
    sa.Column("mmsi", sa.BigInteger, nullable=True),
    sa.Column("other_mmsi", sa.BigInteger, nullable=True),
    sa.Column("zone", sa.String(200), nullable=True),
    sa.Column("station", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=True),  # null for the development admin key
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("ended_key_id", sa.String(32), nullable=True),
    sa.Column("ended_by", sa.String(100), nullable=True),
    sa.Index("ix_mutes_expires_at", "expires_at"),
)


def _identity() -> list[sa.Column[Any]]:
    return [
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("callsign", sa.String(16), nullable=True),
        sa.Column("imo", sa.BigInteger, nullable=True),
        sa.Column("ship_type", sa.BigInteger, nullable=True),
    ]


vessels = sa.Table(
    "vessels",
    metadata,
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
    sa.Column("score", sa.Float, nullable=True),  # the higher of the two: what "min_score" and sorting use
    sa.Column("band", sa.String(16), nullable=True),
    sa.Column("smuggling_band", sa.String(16), nullable=True),
    sa.Column("fire_band", sa.String(16), nullable=True),
    sa.Column("unusual", sa.Float, nullable=True),
    sa.Column("reasons", JSONList, nullable=True),
    sa.Column("smuggling_reasons", JSONList, nullable=True),
    sa.Column("fire_reasons", JSONList, nullable=True),
    sa.Column("alerts", sa.BigInteger, nullable=True),
    *[sa.Column(f"alerts_{kind}", sa.BigInteger, nullable=True) for kind in ALERT_KINDS],
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("watchlists", JSONList, nullable=True),  # names of the watchlists it matches; null: none (0006)
    sa.Index("ix_vessels_score", "score"),
    sa.Index("ix_vessels_updated_at", "updated_at"),
    sa.Index("ix_vessels_lat_lon", "lat", "lon"),
)

vessel_history = sa.Table(
    "vessel_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mmsi", sa.BigInteger, nullable=False),
    sa.Column("t", UTCDateTime, nullable=False),
    *_identity(),
    sa.Index("ix_vessel_history_mmsi_t", "mmsi", "t"),
)

track_points = sa.Table(
    "track_points",
    metadata,
    sa.Column("mmsi", sa.BigInteger, primary_key=True, autoincrement=False),
    # the thinning bucket (t // interval): one point per vessel per bucket, whichever process writes it first
    sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("t", UTCDateTime, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("sog", sa.Float, nullable=True),
    sa.Column("cog", sa.Float, nullable=True),
    sa.Index("ix_track_points_t", "t"),
)

zones = sa.Table(
    "zones",
    metadata,
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

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("salt", sa.LargeBinary(32), nullable=False),
    sa.Column("hash", sa.LargeBinary(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),  # refused after this; null: never
    sa.Column("last_used_at", UTCDateTime, nullable=True),  # written at most once a minute (api/keys.py)
    sa.Index("ix_api_keys_name", "name"),
)

AUDIT_KINDS = ("triage", "zone.create", "zone.update", "zone.delete", "key.create", "key.revoke", "mute.create",
               "mute.end", "model.promote", "model.rollback", "watchlist.create", "watchlist.delete",
               "watchlist.entry.add", "watchlist.entry.delete", "watchlist.import")  # fmt: skip

# Append-only (triggers refuse UPDATE and DELETE): who changed what, when. ``subject`` is the alert, zone, key or
# mute id; ``details`` what the change was (a decision's status, reason and note; a zone's name and kind; ...).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=True),  # null: the bootstrap key, the command line
    sa.Column("actor", sa.String(100), nullable=False),  # the key's name
    sa.Column("kind", sa.String(32), nullable=False),  # one of AUDIT_KINDS
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("details", JSONList, nullable=False),
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_actor", "actor", "id"),
    sa.Index("ix_audit_log_kind", "kind", "id"),
)

# Watchlists (issue 17; api/store/watchlists.py): named lists of vessels of interest kept by analysts. An entry names a
# vessel by any subset of MMSI, IMO, call sign and name; the scorer matches them against the vessels heard
# (models/watchlist.py). Deleting a list deletes its entries; the audit log keeps what they were.
watchlists = sa.Table(
    "watchlists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

watchlist_entries = sa.Table(
    "watchlist_entries",
    metadata,
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
    sa.Index("ix_watchlist_entries_list", "watchlist_id", "id"),
)

# A listed vessel first matched (once per entry and MMSI): the live stream's ``watchlist`` event, following the
# alerts' revisions (``rev`` from the same counter, so one cursor orders both). Kept when its list is deleted.
watchlist_sightings = sa.Table(
    "watchlist_sightings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # the stream cursor's second part, one per entry and vessel: "watch-<entry id>-<mmsi>"
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("entry_id", sa.Integer, nullable=False),
    sa.Column("watchlist_id", sa.Integer, nullable=False),
    sa.Column("watchlist", sa.String(200), nullable=False),
    sa.Column("mmsi", sa.BigInteger, nullable=False),
    sa.Column("matched_on", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("rev", sa.BigInteger, nullable=False),
    sa.Index("ix_watchlist_sightings_rev", "rev", "key"),
)

# What each write told other processes it changed (api/store/changes.py): a counter per topic, put up in the
# writing transaction. SQLite's processes read it when the file changed; PostgreSQL's hear NOTIFY and leave it empty.
store_changes = sa.Table(
    "store_changes",
    metadata,
    sa.Column("topic", sa.String(32), primary_key=True),
    sa.Column("rev", sa.BigInteger, nullable=False),
)
