"""The API's settings: one class, from ``SEAWATCH_*`` environment variables (or keyword arguments).

Defaults are safe to expose: no key exists until an admin creates one (``api.keys.create_key``), CORS is
closed, nothing is readable without a key. Outside ``environment="development"`` the unsafe options are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.quality import NoisyBar

Role = Literal["viewer", "analyst", "admin"]
MIN_BOOTSTRAP_KEY_CHARS = 32  # an admin key given by environment must be as strong as a generated one


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEAWATCH_", extra="ignore")

    environment: Literal["development", "production"] = "production"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; SQLite file by default"
    )
    database_path: Path = Field(default=Path("seawatch.db"), description="the SQLite file when no URL is given")
    admin_key: SecretStr | None = Field(
        default=None, description="an admin key to accept from the start (e.g. from a secret store); none by default"
    )
    anonymous_role: Role | None = Field(
        default=None, description="role of requests without a key; development only (a demo on localhost)"
    )
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from browsers")
    page_size_default: int = Field(default=50, ge=1)
    page_size_max: int = Field(default=500, ge=1)
    bbox_max_span_deg: float = Field(default=60.0, gt=0, le=360, description="widest bbox side accepted")
    vessels_cache_s: float = Field(
        default=2.0,
        ge=0,
        description="how long a vessels page may be served from memory: writes by this process show at once, and "
        "writes by other processes sharing the database too while changes are followed (follow_changes), within "
        "this time otherwise; 0 turns the cache off",
    )
    zones_poll_s: float = Field(
        default=2.0, gt=0, description="the live engine reads the stored zones this often, for an edit it did not "
        "hear of at once (follow_changes off, or the notice lost)",
    )  # fmt: skip
    follow_changes: bool = Field(
        default=True,
        description="hear other processes' writes to the database at once (PostgreSQL LISTEN/NOTIFY, or SQLite's "
        "change counters polled every 50 ms: api/store/changes.py), so that caches and live streams follow them",
    )
    # a page is ~0.7 kB a vessel: 256 pages of 50 hold ~9 MB, 256 of the largest (page_size_max) ~90 MB
    vessels_cache_entries: int = Field(default=256, ge=1, description="vessels pages (and totals) kept in memory")
    track_points_max: int = Field(default=10_000, ge=1)
    track_interval_s: float = Field(default=60.0, gt=0, description="tracks keep one point per vessel per interval")
    track_retention_hours: float = Field(default=24.0 * 7, gt=0)
    examples: bool = Field(
        default=False,
        description="alert on, and draw, the region pack's example zones (made up: the demo); off, facts only",
    )
    stream_poll_s: float = Field(default=2.0, gt=0, description="how often the live stream checks the store")
    stream_ping_s: float = Field(default=15.0, gt=0, description="keep-alive comments on an idle live stream")
    recent_alerts_hours: float = Field(
        default=72.0, gt=0, description="the live engine keeps in memory (and scores vessels with) the alerts with "
        "evidence this recent, open ones included; the store keeps every alert",
    )  # fmt: skip
    batch_ms: float = Field(
        default=100.0, gt=0, le=10_000, description="a live micro-batch closes this long after its first message "
        "(or at 20,000 messages, or at once for a distress message): an alert that waits for the engine waits up to "
        "this; shorter means more engine steps a second (benchmarks/RESULTS.md, Live service)",
    )  # fmt: skip
    evict_after_hours: float = Field(
        default=48.0, ge=0, description="a vessel silent this long (feed time) gives up its per-vessel payloads in "
        "the live engine, which no later alert needs (engine/runner.py); 0: never",
    )  # fmt: skip
    # triage quality (issue 12): a detector analysts mostly dismiss gets a raised bar in the scores there
    quality_window_days: float = Field(
        default=30.0, gt=0, le=3650, description="decisions of the last this many days make the precision and the bars"
    )
    noisy_precision: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="below this triage precision (analysts dismiss more than two alerts in three) a kind or a zone "
        "gets a raised bar; 0 turns the bars off",
    )
    noisy_min_decisions: int = Field(
        default=10, ge=1, description="confirmed or dismissed alerts a kind or zone needs in the window for a bar: "
        "fewer say little (one analyst's bad morning)",
    )  # fmt: skip
    noisy_max_bar: float = Field(
        default=80.0, ge=0, le=100, description="the raised bar never goes above this score: a noisy detector's "
        "strongest alerts still count",
    )  # fmt: skip

    # hardening (issue 14): what one caller may ask of the API; a rate of 0 turns that limit off
    max_body_bytes: int = Field(
        default=2 * 2**20, ge=1024, description="request bodies over this are refused with 413 before they are "
        "read (the largest legitimate one is a zone: a 10,000-vertex coastline polygon is ~0.4 MB)",
    )  # fmt: skip
    rate_per_address: float = Field(
        default=50.0, ge=0, description="requests a second from one address, sustained (429 with Retry-After "
        "beyond); the map page makes a few a second. /healthz and /metrics are not counted",
    )  # fmt: skip
    rate_burst_address: int = Field(default=200, ge=1, description="requests one address may make at once")
    rate_per_key: float = Field(
        default=20.0, ge=0, description="requests a second with one API key, sustained (429 with Retry-After beyond)"
    )
    rate_burst_key: int = Field(default=100, ge=1, description="requests one key may make at once")
    # a wrong key costs a scrypt (tens of ms of a core): 10 tries at once, then one every 6 s, per address and key id
    auth_failures_per_minute: float = Field(
        default=10.0, ge=0, description="failed key checks a minute allowed per address and per key id, sustained"
    )
    auth_failures_burst: int = Field(default=10, ge=1, description="failed key checks allowed at once")
    # retention (issue 14): what the periodic prune deletes; 0 keeps it forever. Triage decisions, mutes and the
    # audit log are kept forever whatever these say.
    alert_retention_days: float = Field(
        default=365.0, ge=0, description="undecided alerts the engine has not changed for this long (by the "
        "store's clock, not the data's) are deleted; alerts an analyst decided are kept: they are the models' labels",
    )  # fmt: skip
    history_retention_days: float = Field(
        default=0.0, ge=0, description="vessels' identity history (name, call sign, IMO, type changes) seen longer "
        "ago than this (by the data's time: a replayed archive's would go at once) is deleted; 0, the default, keeps "
        "it: it is small, and evidence",
    )  # fmt: skip
    sighting_retention_days: float = Field(
        default=365.0, ge=0, description="watchlist sightings (a listed vessel's first match, which the live stream "
        "announced) recorded longer ago than this, by the store's clock, of vessels no scoring within it found "
        "listed, are deleted; a vessel still listed keeps its own. 365 as the undecided alerts: a sighting is an "
        "event of the same stream, not the analysts' word (their lists are kept)",
    )  # fmt: skip
    prune_every_s: float = Field(
        default=3600.0, ge=0, description="how often the API deletes what is past retention (tracks too: "
        "SEAWATCH_TRACK_RETENTION_HOURS); 0: never (prune from outside with Store.prune)",
    )  # fmt: skip

    # retraining from the store (issue 12): the model registry that `seawatch models`, the admin API and `seawatch
    # serve` share (models/registry.py)
    models_dir: Path = Field(
        default=Path(".seawatch") / "models", description="the model registry: versions, and the one in use; "
        "`seawatch serve` follows it (default <its --state dir>/models)",
    )  # fmt: skip

    # where a vessel can be now and what a patrol can meet (issue 17): the defaults of GET /vessels/{mmsi}/reach
    # and GET /intercept, which a request's query overrides
    reach_hours: float = Field(
        default=6.0, gt=0, le=48, description="hours after the last fix a reach is drawn for when the request "
        "names none: the AIS gap detector calls 6 h dark",
    )  # fmt: skip
    dead_reckon_h: float = Field(
        default=2.0, ge=0, le=24, description="an intercept meets a vessel heard within this many hours on its last "
        "course and speed, a staler one at the nearest edge of its reach: 2 h at 20 kn is 74 km, past which an "
        "unchanged course is a guess",
    )  # fmt: skip
    patrol_speed_kn: float = Field(
        default=25.0, gt=0, le=60, description="a patrol's speed when the intercept request names none: a coast "
        "guard patrol boat's cruise (25-30 kn)",
    )  # fmt: skip
    patrol_within_h: float = Field(
        default=4.0, gt=0, le=72, description="an intercept lists meetings within this many hours when the request "
        "names none: half a patrol boat's day at sea",
    )  # fmt: skip

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.page_size_default > self.page_size_max:
            raise ValueError("page_size_default must not exceed page_size_max")
        if self.environment == "development":
            return self
        problems = []
        if self.anonymous_role is not None:
            problems.append("SEAWATCH_ANONYMOUS_ROLE opens the API without a key: leave it unset")
        if "*" in self.cors_origins:
            problems.append("SEAWATCH_CORS_ORIGINS='*' lets any web page call the API: list the origins")
        if self.admin_key is not None and len(self.admin_key.get_secret_value()) < MIN_BOOTSTRAP_KEY_CHARS:
            problems.append(f"SEAWATCH_ADMIN_KEY is shorter than {MIN_BOOTSTRAP_KEY_CHARS} characters: generate one")
        if problems:
            raise ValueError(
                "unsafe settings outside development (SEAWATCH_ENVIRONMENT=development allows them): "
                + "; ".join(problems)
            )
        return self

    def noisy_bar(self, days: float | None = None) -> NoisyBar:
        """The raised bar's rule (models/quality.py), over ``days`` (the quality window by default)."""
        return NoisyBar(min_precision=self.noisy_precision, min_decisions=self.noisy_min_decisions,
                        max_score=self.noisy_max_bar, window_days=days or self.quality_window_days)  # fmt: skip

    def registry_dir(self, state_dir: Path | None = None) -> Path:
        """The model registry's folder: SEAWATCH_MODELS_DIR, or ``state_dir``/models when it is not set."""
        if "models_dir" in self.model_fields_set or state_dir is None:
            return self.models_dir.expanduser()
        return state_dir / "models"

    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.database_path.expanduser()}"
