"""Prometheus metrics: request counts and latency per route, in the app's registry (the runner adds its own)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HTTPMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "seawatch_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "seawatch_http_request_duration_seconds", "time to answer HTTP requests", ["method", "route"],
            registry=registry,
        )  # fmt: skip


class MetricsMiddleware:
    """Counts every HTTP request by its route template (not its path, which would grow without bound)."""

    def __init__(self, app: ASGIApp, metrics: HTTPMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


class StationMetrics(Collector):
    """A gauge per receiving station: messages in its latest 10 minutes, its usual rate, and whether it is down."""

    def __init__(self, stations: Callable[[], list[dict[str, Any]]]) -> None:
        self.stations = stations

    def collect(self) -> Iterator[Any]:
        rows = self.stations()
        current = GaugeMetricFamily("seawatch_station_messages_per_10min", "messages the station heard in its "
                                    "latest complete 10 minutes", labels=["station"])  # fmt: skip
        usual = GaugeMetricFamily("seawatch_station_usual_messages_per_10min", "messages the station usually hears "
                                  "per 10 minutes (median of its last day)", labels=["station"])  # fmt: skip
        down = GaugeMetricFamily("seawatch_station_down", "1 while the station is in outage", labels=["station"])
        for row in rows:
            current.add_metric([row["station"]], float(row["current_per_10min"]))
            if row["usual_per_10min"] is not None:
                usual.add_metric([row["station"]], float(row["usual_per_10min"]))
            down.add_metric([row["station"]], 1.0 if row["down"] else 0.0)
        yield from (current, usual, down)


class QualityMetrics(Collector):
    """Triage precision and counts per kind over the quality window, and each kind's raised bar (0 without one).

    ``report`` gives the store's quality report (``Store.quality``), or None while no store is open."""

    def __init__(self, report: Callable[[], dict[str, Any] | None]) -> None:
        self.report = report

    def collect(self) -> Iterator[Any]:
        report = self.report()
        if report is None:
            return
        precision = GaugeMetricFamily("seawatch_triage_precision", "confirmed / (confirmed + dismissed) of the alerts "
                                      "decided in the quality window", labels=["kind"])  # fmt: skip
        decisions = GaugeMetricFamily("seawatch_triage_alerts", "alerts of the quality window by their latest "
                                      "decision (confirmed, dismissed, escalated, undecided)",
                                      labels=["kind", "status"])  # fmt: skip
        bar = GaugeMetricFamily("seawatch_triage_raised_bar", "the score a noisy kind's alerts count from in the "
                                "scores (0: no raised bar)", labels=["kind"])  # fmt: skip
        for row in report["kinds"]:
            if row["precision"] is not None:
                precision.add_metric([row["kind"]], float(row["precision"]))
            for status in ("confirmed", "dismissed", "escalated", "undecided"):
                decisions.add_metric([row["kind"], status], float(row[status]))
            raised = row.get("raised_bar")
            bar.add_metric([row["kind"]], float(raised["threshold"]) if raised else 0.0)
        yield from (precision, decisions, bar)
