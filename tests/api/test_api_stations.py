"""GET /api/v1/stations and the station gauges on /metrics: the live engine's receiving stations, read from its
station monitor, on the real app and a real (temporary) database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from engine.detectors.gaps import GapDetector
from engine.detectors.stations import station_report
from engine.runner import Engine
from tests.api.helpers import auth
from tests.engine.detectors.scenario import empty_tables
from tests.engine.detectors.stations_scene import at, day


@pytest.fixture
def engine() -> Engine:
    """An engine that has heard 12 h of two stations, A down since hour 4 and still down (no finish: live)."""
    e = Engine([GapDetector()])
    e.process(day(down=(4.0, 13.0)).table, *empty_tables())
    return e


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, str]]:
    app = create_app(settings, stations=lambda: station_report(engine.detectors))
    with TestClient(app) as c:
        key = create_key(c.app.state.store, "viewer on duty", "viewer")  # type: ignore[attr-defined]
        yield c, key


def test_stations_need_a_key(live: tuple[TestClient, str]) -> None:
    client, _ = live
    assert client.get("/api/v1/stations").status_code == 401


def test_each_station_with_its_state_and_outages(live: tuple[TestClient, str]) -> None:
    client, key = live
    r = client.get("/api/v1/stations", headers=auth(key))
    assert r.status_code == 200
    stations = {s["station"]: s for s in r.json()["stations"]}
    assert set(stations) == {"A", "B"}
    a, b = stations["A"], stations["B"]
    assert a["down"] is True and a["current_per_10min"] == 0 and a["outages_24h"] == 1
    assert a["usual_per_10min"] == pytest.approx(90.0)
    (outage,) = a["outages"]
    assert outage["end"] is None and outage["heard"] == 0
    assert outage["start"].replace("Z", "+00:00") == at(day(down=(4.0, 13.0)).last_s)[0].isoformat()
    assert b["down"] is False and b["outages"] == [] and b["current_per_10min"] > 0


def test_a_gauge_per_station_on_metrics(live: tuple[TestClient, str]) -> None:
    client, _ = live
    text = client.get("/metrics").text
    assert 'seawatch_station_down{station="A"} 1.0' in text
    assert 'seawatch_station_down{station="B"} 0.0' in text
    assert 'seawatch_station_usual_messages_per_10min{station="A"} 90.0' in text


def test_an_api_without_an_engine_knows_no_station(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/api/v1/stations", headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.json() == {"stations": []}
