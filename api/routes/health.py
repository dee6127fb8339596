"""Root endpoints without a key: /healthz for load balancers, /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.schemas import Health
from api.store import Store

router = APIRouter(tags=["health"])
HEALTH_TTL_S = 1.0  # a load balancer polling many times a second gets an answer at most this old
REFRESH_AT = 0.75  # of the TTL: the answer is asked again in the background from this age

class HealthCheck:
    """The database's answer, asked at most once every :data:`HEALTH_TTL_S` however many probes come: under load
    each probe went through the threadpool for two queries (p99 0.35-0.49 s with 50 API clients). Past
    :data:`REFRESH_AT` of that age it is asked again in the background while the answer in hand serves, so that
    under a steady load no probe waits for the database (an answer is dated from when it was asked, so it is never
    older than the TTL)."""

    def __init__(self) -> None:
        self.at = -float("inf")
        self.health: Health | None = None
        self.lock = asyncio.Lock()
        self.refreshing: asyncio.Task[Health] | None = None

    async def get(self, store: Store) -> Health:
        age = time.monotonic() - self.at
        if self.health is not None and age <= HEALTH_TTL_S:
            if age > REFRESH_AT * HEALTH_TTL_S and (self.refreshing is None or self.refreshing.done()):
                self.refreshing = asyncio.create_task(self._ask(store))
            return self.health
        return await self._ask(store)

    async def _ask(self, store: Store) -> Health:
        async with self.lock:  # one query for all the probes waiting
            health = self.health
            if health is None or time.monotonic() - self.at > REFRESH_AT * HEALTH_TTL_S:
                asked = time.monotonic()
                health = self.health = await run_in_threadpool(_check, store)
                self.at = asked
            return health


def _check(store: Store) -> Health:
    database = store.ping()
    version = store.schema_version() if database else None
    reasons = [] if database else ["the database does not answer"]
    return Health(status="ok" if database else "degraded", database=database, schema_version=version,
                  reasons=reasons)  # fmt: skip


LivenessReader = Callable[[], list[str]]  # the live service's troubles in words: silent feeds, the engine behind


class HealthRoute(APIRoute):
    """/healthz answered without FastAPI's dependency solving and response validation: a probe is the commonest
    request a service gets, and those took two thirds of its time (the answer is a model already validated)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            health = await answer(request)
            return Response(health.model_dump_json(), status_code=200 if health.database else 503,
                            media_type="application/json")  # fmt: skip

        return handler


async def answer(request: Request) -> Health:
    """The health of the API, its database and, in the live service, its feeds and engine."""
    check: HealthCheck = request.app.state.health_check
    health = await check.get(request.app.state.store)
    liveness: LivenessReader | None = getattr(request.app.state, "liveness", None)
    troubles = liveness() if liveness is not None else []
    if troubles:
        health = health.model_copy(update={"status": "degraded", "reasons": [*health.reasons, *troubles]})
    return health


async def healthz(request: Request) -> Health:
    """Whether the API and its database answer (an answer at most a second old), and, in the live service, whether
    its feeds and engine keep up: "degraded" with the reasons, still 200 while the API itself can serve; 503 when
    the database does not answer."""
    return await answer(request)  # (the OpenAPI's; HealthRoute answers)


router.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health,
                     responses={503: {"model": Health}}, route_class_override=HealthRoute)  # fmt: skip


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format: HTTP requests and latency, and whatever the stream runner registered."""
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
