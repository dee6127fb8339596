"""The API's request and response models, in families per resource (``AlertPublic``, ``AlertUpdate``, ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.store.tables import AUDIT_KINDS, DISMISSAL_REASONS
from engine.alerts import ALERT_KINDS
from engine.geo.regions import ZONE_KINDS
from models.schema import BANDS

AlertKind = Literal[ALERT_KINDS]  # type: ignore[valid-type]
ZoneKind = Literal[ZONE_KINDS]  # type: ignore[valid-type]
Band = Literal[BANDS]  # type: ignore[valid-type]
Role = Literal["viewer", "analyst", "admin"]
TriageStatus = Literal["confirmed", "dismissed", "escalated", "new"]
Status = Literal["new", "confirmed", "dismissed", "escalated"]
DismissalReason = Literal[DISMISSAL_REASONS]  # type: ignore[valid-type]


def _clean_text(value: str) -> str:
    # NUL and lone surrogates cannot be stored (PostgreSQL text, SQLite UTF-8): refuse them here with a 422
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the range of UTC times") from exc


Text = Annotated[str, AfterValidator(_clean_text)]


def _named(value: str) -> str:
    """A name with more than blanks, by Python's idea of a blank (the regex ``\\S`` lets "\\x1f" through, which
    ``str.strip`` removes: the store would then refuse it)."""
    if not value.strip():
        raise ValueError("give the key a name: it is recorded with every triage decision made with it")
    return value


UTCTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
MMSI = Annotated[int, Field(ge=0, le=999_999_999)]


# ----- alerts
class AlertPublic(BaseModel):
    alert_id: str
    kind: str
    mmsi: int
    other_mmsi: int | None
    start: datetime
    end: datetime
    lat: float | None
    lon: float | None
    score: float
    reasons: list[str]
    status: Status
    updated_at: datetime
    muted: bool = Field(description="a mute in force takes it out of the scores and of the default list")
    mute_id: int | None = Field(description="the mute that does (GET /api/v1/mutes/{id}); null when not muted")
    below_bar: bool = Field(
        default=False, description="a raised bar of its kind or zone (GET /api/v1/quality) takes it out of the "
        "scores: scored under the bar and not confirmed or escalated; listed, but a client notifies nobody of it",
    )  # fmt: skip
    raised_bar: RaisedBar | None = Field(default=None, description="that bar and why (null when not below one)")


class TriageEntry(BaseModel):
    status: str
    reason: str | None = Field(description="a dismissal's reason code (null for other decisions, and for dismissals "
                               "recorded before reason codes were asked)")  # fmt: skip
    note: str
    by: str = Field(description="name of the key that made the decision")
    key_id: str | None = Field(description="id of that key (null for decisions recorded before key ids were kept)")
    at: datetime


class AlertDetail(AlertPublic):
    triage: list[TriageEntry] = Field(description="every triage decision, oldest first")


class AlertHistory(BaseModel):
    """An alert's decisions, an audit record kept forever: also after the engine withdrew the alert."""

    alert_id: str
    kind: str
    mmsi: int
    other_mmsi: int | None
    withdrawn: bool = Field(description="the engine withdrew the alert (later evidence proved it wrong)")
    triage: list[TriageEntry] = Field(description="every triage decision, oldest first")


class AlertUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TriageStatus = Field(description="confirmed, dismissed or escalated ('new' reopens an alert)")
    reason: DismissalReason | None = Field(
        default=None,
        description=f"why it is dismissed: required with a dismissal, only there ({', '.join(DISMISSAL_REASONS)})",
    )
    note: Annotated[Text, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _reason_goes_with_a_dismissal(self) -> AlertUpdate:
        if self.status == "dismissed" and self.reason is None:
            raise ValueError(f'a dismissal needs a reason: give "reason", one of {", ".join(DISMISSAL_REASONS)}')
        if self.status != "dismissed" and self.reason is not None:
            raise ValueError("a reason code goes with a dismissal only; say why in the note")
        return self


class AlertsPage(BaseModel):
    items: list[AlertPublic]
    next_cursor: str | None = Field(description="give as ?cursor= for the next page; null after the last page")


# ----- mutes
MutePattern = Literal["vessel", "pair", "zone", "station"]
MuteState = Literal["in_force", "expired", "ended"]


class MuteIn(BaseModel):
    """A pattern of alerts to take out of the scores and of the default list until ``expires_at``.

    ``vessel``: kind and mmsi (either vessel of a pair's alert); ``pair``: mmsi and other_mmsi in either order, a
    kind if given (any kind otherwise); ``zone``: kind and the zone's name as the alerts' reasons give it
    (zone_entry: "entered restricted zone <name>"); ``station``: the ais_gap alerts whose reasons name the station
    (a gap's reasons name stations only when the station's outage was part of it).
    """

    model_config = ConfigDict(extra="forbid")

    pattern: MutePattern
    kind: AlertKind | None = None
    mmsi: MMSI | None = None
    other_mmsi: MMSI | None = None
    zone: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    station: Annotated[Text, Field(min_length=1, max_length=64, pattern=r"^\S+$")] | None = None
    reason: Annotated[Text, Field(min_length=1, max_length=500, pattern=r"\S")] = Field(
        description="why: shown in the scores' reasons ('muted by analyst ... until ...: <reason>') and kept"
    )
    expires_at: UTCTime = Field(description="when the mute ends by itself: in the future, at most 90 days ahead")


class MutePublic(BaseModel):
    id: int
    pattern: str
    kind: str | None
    mmsi: int | None
    other_mmsi: int | None
    zone: str | None
    station: str | None
    reason: str
    by: str = Field(description="name of the key that made the mute")
    key_id: str | None
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = Field(description="when an analyst ended it early (DELETE); null otherwise")
    ended_by: str | None
    ended_key_id: str | None
    state: MuteState = Field(description="in_force, expired (past expires_at) or ended (deleted early)")


class MutesList(BaseModel):
    items: list[MutePublic]


# ----- vessels
class VesselPublic(BaseModel):
    mmsi: int
    name: str | None
    callsign: str | None
    imo: int | None
    ship_type: int | None
    flag: str | None
    lat: float | None
    lon: float | None
    first_seen: datetime | None
    last_seen: datetime | None
    positions: int | None
    smuggling_score: float | None
    fire_score: float | None
    score: float | None = Field(description="the higher of the two scores")
    band: str | None
    smuggling_band: str | None
    fire_band: str | None
    unusual: float | None
    reasons: list[str] | None
    alerts: int | None
    alert_counts: dict[str, int] = Field(description="alerts by kind")
    updated_at: datetime
    watchlists: list[str] | None = Field(None, description="watchlists it matched at its latest scoring; null: none")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> VesselPublic:
        counts = {k: int(row.get(f"alerts_{k}") or 0) for k in ALERT_KINDS}
        return cls.model_validate(row | {"alert_counts": {k: v for k, v in counts.items() if v}})


class IdentityRecord(BaseModel):
    t: datetime
    name: str | None
    callsign: str | None
    imo: int | None
    ship_type: int | None


class VesselDetail(VesselPublic):
    smuggling_reasons: list[str] | None
    fire_reasons: list[str] | None
    identity_history: list[IdentityRecord] = Field(description="identities as first seen, oldest first")
    recent_alerts: list[AlertPublic]


class VesselDecision(TriageEntry):
    alert_id: str
    kind: str
    mmsi: int
    other_mmsi: int | None


class VesselTriage(BaseModel):
    """What analysts decided about a vessel: its alerts' decisions and the mutes naming it, an audit record."""

    mmsi: int
    decisions: list[VesselDecision] = Field(description="decisions on its alerts (either vessel of a pair), newest "
                                            "first; withdrawn alerts' too")  # fmt: skip
    mutes: list[MutePublic] = Field(description="vessel and pair mutes naming it, in force or not, newest first")


class VesselsPage(BaseModel):
    items: list[VesselPublic]
    total: int
    page: int
    page_size: int


# ----- GeoJSON
Position = Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, max_length=10_000)]


class Polygon(BaseModel):
    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1, max_length=1, description="one exterior ring; no holes")]


class MultiPolygon(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[
        list[Annotated[list[Ring], Field(min_length=1, max_length=1)]], Field(min_length=1, max_length=100)
    ]


class ZoneProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    zone_kind: ZoneKind
    source: Annotated[Text, Field(max_length=500)] | None = Field(default=None, description="where the area comes from")
    description: Annotated[Text, Field(max_length=2000)] | None = None


class ZoneIn(BaseModel):
    """A zone as a GeoJSON Feature (RFC 7946: [lon, lat])."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"] = "Feature"
    geometry: Annotated[Polygon | MultiPolygon, Field(discriminator="type")]
    properties: ZoneProperties


class ZonePropertiesPublic(BaseModel):
    kind: Literal["zone"] = "zone"
    name: str
    zone_kind: str
    source: str
    description: str | None = None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class ZonePublic(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: ZonePropertiesPublic


class ZoneCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ZonePublic]


class TrackCollection(BaseModel):
    """A FeatureCollection with one LineString (or a Point for a single fix); times, sog and cog per vertex."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]


# ----- keys
def _in_future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=100, pattern=r"\S"), AfterValidator(_named)]
    role: Role
    expires_at: Annotated[UTCTime, AfterValidator(_in_future)] | None = Field(
        default=None, description="the key is refused after this time (UTC, in the future); never by default"
    )


class KeyPublic(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = Field(default=None, description="refused after this time; null: never")
    last_used_at: datetime | None = Field(
        default=None, description="when the key was last used (at most a minute stale); null: never used"
    )


class KeyCreated(KeyPublic):
    key: str = Field(description="the key itself: shown this once, store it now")


# ----- audit
AuditKind = Literal[AUDIT_KINDS]  # type: ignore[valid-type]


class AuditEntry(BaseModel):
    id: int
    at: datetime
    key_id: str | None = Field(description="the key that made the change; null for the bootstrap key and the CLI")
    actor: str = Field(description="the key's name")
    kind: AuditKind
    subject: str = Field(description="the alert, zone, key or mute id the change was on")
    details: dict[str, Any] = Field(description="what the change was: a decision's status, reason and note, ...")


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(description="give it as ?cursor= for the next (older) page; null after the last")


# ----- health
class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    schema_version: str | None
    reasons: list[str] = Field(default_factory=list,
                               description="why it is degraded: the database, a silent feed, the engine behind")


# ----- receiving stations
class StationOutage(BaseModel):
    start: AwareDatetime = Field(description="the station's last message before it went quiet")
    end: AwareDatetime | None = Field(description="its first message once back; null while the outage goes on")
    usual_per_10min: float = Field(description="messages it usually hears per 10 min (median of its last day)")
    heard: int = Field(description="messages it heard during the outage")


class StationPublic(BaseModel):
    station: str = Field(description="the station's id (the tag block s:)")
    last_heard: AwareDatetime | None
    usual_per_10min: float | None = Field(description="null until the station has an hour of history")
    current_per_10min: int = Field(description="messages in its latest complete 10-minute bucket")
    down: bool = Field(description="in outage now: a station_outage event, never a vessel's gap")
    outages_24h: int = Field(description="outages that started or went on in the last 24 h of data")
    outages: list[StationOutage] = Field(description="those outages")


class StationsList(BaseModel):
    stations: list[StationPublic]


# ----- triage quality
class DismissalCount(BaseModel):
    reason: str = Field(description="the dismissal's reason code ('unknown' for dismissals recorded without one)")
    n: int


class RaisedBar(BaseModel):
    threshold: float = Field(description="alerts count in the vessels' scores from this score up")
    said: str = Field(description="the bar in words, as the vessels' reasons give it")


class QualityCounts(BaseModel):
    confirmed: int
    dismissed: int
    escalated: int
    undecided: int = Field(description="alerts going on in the window that nobody decided")
    precision: float | None = Field(description="confirmed / (confirmed + dismissed); null without either")
    dismissal_reasons: list[DismissalCount] = Field(description="dismissals by reason code, most frequent first")


class KindQuality(QualityCounts):
    kind: str
    raised_bar: RaisedBar | None = Field(description="the kind's raised bar, when its precision earns it one")


class ZoneQuality(QualityCounts):
    zone: str = Field(description="the zone zone_entry alerts' reasons name")
    raised_bar: RaisedBar | None = Field(description="the zone's raised bar (for its zone_entry alerts)")


class StationQuality(QualityCounts):
    station: str = Field(description="the station ais_gap alerts' reasons name (gaps an outage was part of)")


class QualityReport(BaseModel):
    """Triage precision over the window's decisions, per kind, zone and station, and the raised bars."""

    days: float
    since: datetime = Field(description="decisions made from this time on are counted")
    min_precision: float = Field(description="a kind or zone below this precision gets a raised bar")
    min_decisions: int = Field(description="... over at least this many confirmed or dismissed alerts")
    max_bar: float = Field(description="a raised bar never goes above this score")
    kinds: list[KindQuality]
    zones: list[ZoneQuality]
    stations: list[StationQuality]


# ----- dossiers and where a vessel can be now (issue 17)
class TrackPoint(BaseModel):
    t: datetime
    lat: float
    lon: float
    sog: float | None
    cog: float | None


class DossierAlert(AlertPublic):
    triage: list[TriageEntry] = Field(description="every triage decision on it, oldest first")


class ScoreBreakdown(BaseModel):
    score: float | None
    band: str | None
    reasons: list[str] = Field(description="the score's reasons as the scorer gives them, each with what it adds")


class CoverageGap(BaseModel):
    start: datetime = Field(description="the last stored position before the silence")
    end: datetime = Field(description="the first one after it")
    hours: float


class Coverage(BaseModel):
    """What the store heard of the vessel, and where it heard nothing: how far the rest can be trusted."""

    first_seen: datetime | None
    last_seen: datetime | None
    positions: int | None = Field(description="position reports the engine counted")
    feed_time: datetime | None = Field(description="the newest position of any vessel in the store: the feed's clock")
    silent_hours: float | None = Field(description="hours from its last report to the feed's clock")
    track_points: int = Field(description="positions stored for the dossier's period (thinned)")
    track_start: datetime | None
    track_end: datetime | None
    track_interval_s: float = Field(description="the store keeps one position per vessel per this interval")
    track_retention_hours: float = Field(description="and deletes positions older than this")
    gap_min_hours: float = Field(description="silences between stored positions from this long are listed")
    gaps: list[CoverageGap]


class WatchlistSection(BaseModel):
    entries: list[dict[str, Any]] = Field(
        description="the watchlist entries naming the vessel by its stored identity: the list, the entry (MMSI, IMO, "
        "call sign, name, reason, source, who added it and when), what matched, the match in words, and when the "
        "live service first matched it"
    )
    note: str


class Dossier(BaseModel):
    """Everything the store holds on one vessel, for a case file: a triage aid, not a legal finding."""

    mmsi: int
    generated_at: datetime
    since: datetime | None = Field(description="alerts, decisions and track from this time on; null: all stored")
    disclaimer: str
    vessel: VesselPublic
    identity_history: list[IdentityRecord] = Field(description="identities as first seen, oldest first")
    scores: dict[str, ScoreBreakdown] = Field(description="smuggling and fire, each with its reasons")
    alerts: list[DossierAlert] = Field(description="its alerts (either vessel of a pair), newest first")
    alerts_left_out: int = Field(description="older alerts past the dossier's limit, not listed")
    other_decisions: list[VesselDecision] = Field(
        description="decisions on alerts not listed: withdrawn by the engine, or before the period"
    )
    mutes: list[MutePublic] = Field(description="vessel and pair mutes naming it, newest first")
    watchlists: WatchlistSection
    coverage: Coverage
    track: list[TrackPoint] = Field(description="stored positions of the period, oldest first")


class InterceptTarget(BaseModel):
    mmsi: int
    name: str | None
    band: str | None
    score: float | None
    last_fix: TrackPoint
    model: Literal["course", "reach"] = Field(
        description="course: met on its last course and speed; reach: stale, dark or without a course, met at the "
        "edge of where it can have gone (the earliest it can be met, a lower bound)"
    )
    why: str = Field(description="the model and the speeds in words")
    meet_hours: float = Field(description="hours from the patrol's start to the meeting")
    meet_at: datetime
    meet_lat: float
    meet_lon: float
    patrol_km: float = Field(description="the patrol's straight run to the meeting point")
    crosses_land: bool = Field(description="the straight run crosses GLOBE land (ends within 2 km of a coast aside)")


class InterceptList(BaseModel):
    """High and critical vessels a patrol can meet, earliest first. Straight runs: a run across land is flagged,
    not routed round it."""

    start_lat: float
    start_lon: float
    speed_kn: float
    within_h: float
    start_at: datetime = Field(description="when the patrol leaves: the feed's clock (the newest fix in the store)")
    items: list[InterceptTarget]
    out_of_reach: int = Field(description="high and critical vessels with a position it cannot meet within the hours")
