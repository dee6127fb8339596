"""The app factory: ``create_app(settings)``. The store is opened in the lifespan, never at import.

The stream runner (``seawatch serve``) may hand over the store it writes to, register its Prometheus metrics in
``app.state.registry`` (or pass its own registry), and listen for zone edits with :func:`add_zones_listener`.
While the app runs, the lifespan prunes the store every ``prune_every_s`` (``Store.prune``: what is past retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from api.broadcast import Broadcaster
from api.cache import RevisionCache
from api.errors import add_error_handlers
from api.keys import KeyChecker
from api.limits import AddressLimit, TokenBuckets
from api.metrics import HTTPMetrics, MetricsMiddleware, QualityMetrics, StationMetrics
from api.routes import alerts, audit, dossier, health, keys, models, mutes, quality, reach, vessels, watchlists, zones
from api.routes import map as map_routes
from api.routes import stations as stations_routes
from api.routes.stations import StationsReader
from api.settings import Settings
from api.store import Store
from models.quality import window_start

API_PREFIX = "/api/v1"
ZonesListener = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)


def open_store(settings: Settings) -> Store:
    def days(value: float) -> timedelta | None:
        return timedelta(days=value) if value > 0 else None

    return Store(
        settings.store_url(),
        track_interval_s=settings.track_interval_s,
        track_retention=timedelta(hours=settings.track_retention_hours),
        alert_retention=days(settings.alert_retention_days),
        history_retention=days(settings.history_retention_days),
        sighting_retention=days(settings.sighting_retention_days),
    )


async def prune_periodically(store: Store, every_s: float) -> None:
    """``store.prune()`` now and every ``every_s`` seconds, in a worker thread; a failure is logged and retried at
    the next turn (a database briefly away must not stop the API)."""
    while True:
        try:
            pruned = await asyncio.to_thread(store.prune)
        except SQLAlchemyError as exc:
            log.warning("pruning the store failed (tried again in %g s): %s", every_s, exc)
        else:
            if any(pruned.values()):
                log.info("pruned past retention: %s", pruned)
        await asyncio.sleep(every_s)


def add_zones_listener(app: FastAPI, listener: ZonesListener) -> None:
    """Call ``listener(feature_collection)`` with all zones after every zone edit (from a worker thread).

    The collection is in the region-pack shape: ``engine.geo.regions.parse_pack(fc, "api", None).zones``.
    """
    app.state.zone_listeners.append(listener)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    registry: CollectorRegistry | None = None,
    on_zones_changed: ZonesListener | None = None,
    stations: StationsReader | None = None,
    liveness: health.LivenessReader | None = None,
) -> FastAPI:
    """The Seawatch API. ``store``: an open store to share (kept open at shutdown); by default the app opens
    the one ``settings`` name and closes it. ``registry``: where /metrics reads (a new one by default).
    ``stations``: the live engine's receiving stations (``engine.detectors.stations.station_report``), for
    ``/api/v1/stations`` and a gauge per station on /metrics.
    """
    settings = settings or Settings()
    registry = registry or CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or await asyncio.to_thread(open_store, settings)
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        failures = TokenBuckets(settings.auth_failures_per_minute / 60, settings.auth_failures_burst)
        app.state.keys = KeyChecker(app.state.store, admin_key, failures)
        app.state.key_limits = TokenBuckets(settings.rate_per_key, settings.rate_burst_key)
        app.state.broadcaster = Broadcaster(asyncio.get_running_loop())
        app.state.vessels_cache = RevisionCache(settings.vessels_cache_entries, settings.vessels_cache_s)
        app.state.health_check = health.HealthCheck()
        app.state.store.add_listener(app.state.broadcaster.notify)
        checker: KeyChecker = app.state.keys

        def forget_keys(topics: frozenset[str]) -> None:  # a key revoked in any process is refused here at once
            if "keys" in topics:
                checker.forget()

        app.state.store.changes.subscribe(forget_keys)
        following = settings.follow_changes and app.state.store.follow_changes() is not None
        pruning = None
        if settings.prune_every_s > 0:
            pruning = asyncio.create_task(prune_periodically(app.state.store, settings.prune_every_s))
        try:
            yield
        finally:
            if pruning is not None:
                pruning.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
            app.state.store.changes.unsubscribe(forget_keys)
            if following:
                app.state.store.stop_following()
            app.state.store.remove_listener(app.state.broadcaster.notify)
            app.state.broadcaster.close()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="Seawatch",
        summary="AIS risk detection: vessels and their risk, alerts, triage, mutes and triage quality, zones, the live "
        "alert stream",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # 413 for a Content-Length over it at the first read, and for a body streamed without one as it passes it
        max_body_size=settings.max_body_bytes,
    )
    add_error_handlers(app)  # a refused body's 422 even when its input cannot be written as JSON
    app.state.settings = settings
    app.state.registry = registry
    app.state.zone_listeners = [on_zones_changed] if on_zones_changed else []
    app.state.stations = stations
    app.state.liveness = liveness  # the live service's troubles for /healthz (none: an API without an engine)
    if stations is not None:
        registry.register(StationMetrics(stations))

    def quality_report() -> dict[str, Any] | None:
        opened: Store | None = getattr(app.state, "store", None)
        if opened is None:
            return None
        bar = settings.noisy_bar()
        try:
            return opened.quality(window_start(datetime.now(UTC), bar), bar)
        except SQLAlchemyError as exc:  # the database away: /metrics still gives the counters that say so
            log.warning("/metrics without the triage quality gauges: the store did not answer (%s)", exc)
            return None

    registry.register(QualityMetrics(quality_report))
    for router in (vessels.router, alerts.router, mutes.router, quality.router, zones.router, keys.router,
                   stations_routes.router, audit.router, models.router, dossier.router, reach.router,
                   watchlists.router):  # fmt: skip
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(map_routes.router)  # the map page (/) and its geography (/map/*)
    map_routes.mount_static(app)
    addresses = TokenBuckets(settings.rate_per_address, settings.rate_burst_address)
    app.add_middleware(AddressLimit, addresses=addresses)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(MetricsMiddleware, metrics=HTTPMetrics(registry))
    return app
