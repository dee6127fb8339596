"""The alert store: alerts and triage, vessels, tracks, zones and API keys, on SQLite or PostgreSQL."""

from api.store.alerts import AlertFilter, BBox, CursorError
from api.store.store import Store
from api.store.tables import ALERT_STATUSES, DISMISSAL_REASONS, ROLES
from api.store.vessels import SORTABLE, VesselFilter

__all__ = [
    "ALERT_STATUSES",
    "DISMISSAL_REASONS",
    "ROLES",
    "SORTABLE",
    "AlertFilter",
    "BBox",
    "CursorError",
    "Store",
    "VesselFilter",
]
