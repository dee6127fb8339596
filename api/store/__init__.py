"""The alert store: alerts, triage and mutes, vessels, tracks, zones, API keys, the audit log and watchlists, on
SQLite or PostgreSQL."""

from api.store.alerts import AlertFilter, BBox, CursorError
from api.store.audit import AuditFilter
from api.store.mutes import MAX_MUTE, MuteError
from api.store.store import Store
from api.store.tables import ALERT_STATUSES, AUDIT_KINDS, DISMISSAL_REASONS, ROLES
from api.store.vessels import SORTABLE, VesselFilter
from models.watchlist import WatchlistError

__all__ = [
    "ALERT_STATUSES",
    "AUDIT_KINDS",
    "DISMISSAL_REASONS",
    "MAX_MUTE",
    "ROLES",
    "SORTABLE",
    "AlertFilter",
    "AuditFilter",
    "BBox",
    "CursorError",
    "MuteError",
    "Store",
    "VesselFilter",
    "WatchlistError",
]
