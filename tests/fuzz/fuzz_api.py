"""Atheris fuzz targets for the API's request parsers: any bytes as a request body (or query string) to the real app.

Run by ``make fuzz`` as ``python tests/fuzz/fuzz_api.py TARGET -max_total_time=60`` for each of :data:`TARGETS`;
libFuzzer flags pass through. The targets:

- ``zone``: a body for ``POST /api/v1/zones`` and ``PUT /api/v1/zones/{id}`` (the GeoJSON models, then the
  engine's own check of the rings, ``engine.geo.regions.parse_pack`` -> ``engine.geo.shapes.unwrap_ring``);
- ``ring``: the bytes as float64 pairs straight into ``unwrap_ring`` and into a zone Feature for ``parse_pack``;
- ``alert``: a body for ``PATCH /api/v1/alerts/{id}`` (triage);
- ``mute``: a body for ``POST /api/v1/mutes``;
- ``key``: a body for ``POST /api/v1/keys``;
- ``query``: the bytes as the query string of the list endpoints (bbox, since/until, cursors, pages, filters).

Every request goes through FastAPI's ``TestClient`` to the app of ``api.app.create_app`` on a temporary SQLite
store, with an admin key and the rate limits off, so the whole parsing path runs as in production: any answer
but the expected ones (a 500 above all) or any exception out of the app fails. A refused request must be refused
as FastAPI refuses one (422 with a ``detail`` list, 400 for a body that is not UTF-8); an accepted one must read
back. ``unwrap_ring`` and ``parse_pack`` may refuse with ``ValueError`` / ``PackError`` only.

Not a pytest test (pytest collects only ``test_*.py``): ``tests/fuzz/test_fuzz_api.py`` runs each target on its
seed corpus (:data:`SEEDS`) and on fixed variants of it, so ``make test`` exercises them without atheris.
Without a corpus folder on the command line, one is seeded from :data:`SEEDS` in the system temporary folder.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if __name__ == "__main__":  # fuzzing: the app's own modules instrumented as they are imported (all 34k: minutes)
    import atheris

    with atheris.instrument_imports(include=["api", "engine.geo.regions", "engine.geo.shapes"]):
        import api.app  # noqa: F401
        import engine.geo.regions  # noqa: F401

import numpy as np  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.keys import create_key  # noqa: E402
from api.settings import Settings  # noqa: E402
from engine.geo.regions import PackError, parse_pack  # noqa: E402
from engine.geo.shapes import unwrap_ring  # noqa: E402
from tests.api.helpers import alerts_frame  # noqa: E402

JSON = {"Content-Type": "application/json"}
REFUSED = 422  # FastAPI's answer to a request its models refuse (and the routes' own ``unprocessable``)
UNREADABLE = 400  # FastAPI's answer to a JSON body that is not UTF-8: {"detail": "There was an error parsing ..."}
TOO_LARGE = 413  # a body over SEAWATCH_MAX_BODY_BYTES (a fuzzer can make one)
QUERY_SAFE = "&=%+,:;/?-._~!$'()*@[]"
QUERY_PATHS = ("/api/v1/alerts", "/api/v1/vessels", "/api/v1/mutes", "/api/v1/audit", "/api/v1/vessels/574000001/track",
               "/api/v1/vessels/574000001/triage", "/api/v1/quality", "/api/v1/keys")  # fmt: skip


class Harness:
    """The real app on a temporary SQLite store, with an admin key, one alert to triage and one zone to replace."""

    def __init__(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="seawatch-fuzz-api-"))
        settings = Settings(environment="production", database_url=f"sqlite:///{folder / 'seawatch.db'}",
                            rate_per_address=0, rate_per_key=0, auth_failures_per_minute=0,
                            prune_every_s=0)  # fmt: skip
        self.client = TestClient(create_app(settings))  # raises what the app does not catch: a crash, not a 500
        self.client.__enter__()
        store = self.client.app.state.store  # type: ignore[attr-defined]
        self.headers = {**JSON, "X-API-Key": create_key(store, "fuzzer", "admin")}
        alerts = alerts_frame(1)
        store.upsert_alerts(alerts)
        self.alert_id = str(alerts["alert_id"][0])
        created = self.client.post("/api/v1/zones", content=SEEDS["zone"][0], headers=self.headers)
        assert created.status_code == 201, created.text
        self.zone_id = created.json()["id"]

    def send(self, method: str, path: str, body: bytes | None = None) -> Any:
        return self.client.request(method, path, content=body, headers=self.headers)


@cache
def harness() -> Harness:
    return Harness()


def _refused_properly(response: Any, what: str) -> None:
    """A refusal as FastAPI makes one: 422 with a list of {loc, msg, type}; 400 with words for a body that is not
    UTF-8; or 413 for an oversized body."""
    if response.status_code == TOO_LARGE:
        return
    if response.status_code == UNREADABLE:
        assert isinstance(response.json()["detail"], str), (what, response.text[:500])
        return
    assert response.status_code == REFUSED, (what, response.status_code, response.text[:500])
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, (what, detail)
    assert all({"loc", "msg", "type"} <= set(d) for d in detail), (what, detail)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def zone(data: bytes) -> None:
    h = harness()
    created = h.send("POST", "/api/v1/zones", data)
    if created.status_code != 201:
        _refused_properly(created, "POST /zones")
        return
    feature = created.json()
    sent = _json(data)
    assert feature["properties"]["name"] == sent["properties"]["name"]
    assert feature["geometry"]["type"] == sent["geometry"]["type"]
    read = h.send("GET", f"/api/v1/zones/{feature['id']}")
    assert read.status_code == 200 and read.json()["geometry"] == feature["geometry"], read.text[:500]
    replaced = h.send("PUT", f"/api/v1/zones/{h.zone_id}", data)
    assert replaced.status_code == 200, replaced.text[:500]
    assert h.send("DELETE", f"/api/v1/zones/{feature['id']}").status_code == 204  # the store stays small


def ring(data: bytes) -> None:
    values = np.frombuffer(data[: len(data) // 16 * 16], np.float64)
    lonlat = values.reshape(-1, 2)
    coords = lonlat.tolist()
    try:
        xy = unwrap_ring(coords)
    except ValueError:
        pass
    else:
        assert xy.shape[0] >= 3 and np.isfinite(xy).all(), xy
        assert np.array_equal(xy[0], xy[-1])
        assert (np.abs(np.diff(xy[:, 0])) <= 180.0 + 1e-9).all()
        assert np.array_equal(xy[: len(coords), 1], lonlat[: xy.shape[0], 1])  # latitudes untouched
    props = {"kind": "zone", "name": "fuzzed", "zone_kind": "restricted", "source": "fuzz"}
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]}, "properties": props}
    try:
        pack = parse_pack({"type": "FeatureCollection", "features": [feature]}, "fuzz", None)
    except PackError:
        return
    in_range = np.isfinite(lonlat).all() and (np.abs(lonlat[:, 0]) <= 180).all() and (np.abs(lonlat[:, 1]) <= 90).all()
    assert in_range and len(pack.zones) == 1


def alert(data: bytes) -> None:
    h = harness()
    r = h.send("PATCH", f"/api/v1/alerts/{h.alert_id}", data)
    if r.status_code != 200:
        _refused_properly(r, "PATCH /alerts/{id}")
        return
    body = r.json()
    assert body["alert_id"] == h.alert_id and body["status"] == _json(data)["status"], r.text[:500]


def mute(data: bytes) -> None:
    h = harness()
    r = h.send("POST", "/api/v1/mutes", data)
    if r.status_code != 201:
        _refused_properly(r, "POST /mutes")
        return
    made = r.json()
    assert made["pattern"] == _json(data)["pattern"]
    read = h.send("GET", f"/api/v1/mutes/{made['id']}")
    assert read.status_code == 200 and read.json()["id"] == made["id"], read.text[:500]


def key(data: bytes) -> None:
    h = harness()
    r = h.send("POST", "/api/v1/keys", data)
    if r.status_code != 201:
        _refused_properly(r, "POST /keys")
        return
    made = r.json()
    assert made["role"] == _json(data)["role"] and made["key"].startswith("sw_"), r.text[:500]
    assert h.send("DELETE", f"/api/v1/keys/{made['id']}").status_code in (200, 204)  # revoked: the cache stays small


def query(data: bytes) -> None:
    h = harness()
    path = QUERY_PATHS[data[0] % len(QUERY_PATHS)] if data else QUERY_PATHS[0]
    # bytes a client cannot put in a URL (controls, spaces, non-ASCII) percent-encoded, the rest as given: the
    # parsers see any byte, and malformed escapes ("%zz") and separators stay as sent
    qs = quote(data[1:], safe=QUERY_SAFE)
    r = h.send("GET", f"{path}?{qs}")
    if r.status_code != 200:
        _refused_properly(r, f"GET {path}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "zone": zone, "ring": ring, "alert": alert, "mute": mute, "key": key, "query": query,
}  # fmt: skip


def _square(lon: float, lat: float, size: float = 0.5) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def _zone(geometry: dict[str, Any], **props: Any) -> bytes:
    properties = {"name": "Bach Long Vi", "zone_kind": "restricted", **props}
    return json.dumps({"type": "Feature", "geometry": geometry, "properties": properties}).encode()


def _soon(days: int = 30, hours: int = 0, zone: str = "Z") -> bytes:
    """A time ``days`` ahead (a mute expires at most 90 days ahead), written with the UTC offset ``zone``."""
    at = datetime.now(UTC) + timedelta(days=days, hours=hours)
    return (at.strftime("%Y-%m-%dT%H:%M:%S") + zone).encode()


def _rings() -> list[bytes]:
    pack = [_square(107.0, 20.0), [[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0], [179.5, 10.0]],
            [[-180, 80], [-60, 80], [60, 80], [179, 80], [-180, 80]], [[0, 0], [1, 1], [0, 0]]]  # fmt: skip
    return [np.asarray(r, np.float64).tobytes() for r in pack]


SEEDS: dict[str, list[bytes]] = {
    "zone": [
        _zone({"type": "Polygon", "coordinates": [_square(107.0, 20.0)]}),
        _zone({"type": "MultiPolygon", "coordinates": [[_square(107.0, 20.0)], [_square(108.0, 19.0)]]},
              source="Ministry notice 12/2024", description="live firing"),
        _zone({"type": "Polygon", "coordinates": [[[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0],
                                                   [179.5, 10.0]]]}),  # across the antimeridian
        _zone({"type": "Polygon", "coordinates": [[[-180, 80], [-60, 80], [60, 80], [179, 80], [-180, 80]]]}),
        _zone({"type": "Polygon", "coordinates": [_square(107.0, 20.0)[:-1]]}),  # not closed
    ],
    "ring": _rings(),
    "alert": [
        b'{"status": "confirmed", "note": "seen on radar"}',
        b'{"status": "dismissed", "reason": "reception_problem", "note": "CT01 was down"}',
        b'{"status": "escalated"}',
        b'{"status": "new"}',
        b'{"status": "dismissed"}',
    ],
    "mute": [
        b'{"pattern": "vessel", "kind": "ais_gap", "mmsi": 574000001, "reason": "bunkering barge",'
        b' "expires_at": "%s"}' % _soon(),
        b'{"pattern": "pair", "mmsi": 574000001, "other_mmsi": 574000101, "reason": "tug and tow",'
        b' "expires_at": "%s"}' % _soon(hours=7, zone="+07:00"),
        b'{"pattern": "zone", "kind": "zone_entry", "zone": "Bach Long Vi", "reason": "ferry",'
        b' "expires_at": "%s"}' % _soon(days=89),
        b'{"pattern": "station", "kind": "ais_gap", "station": "CT01", "reason": "antenna down",'
        b' "expires_at": "%s"}' % _soon(),
    ],
    "key": [
        b'{"name": "watch floor", "role": "viewer"}',
        b'{"name": "night shift", "role": "analyst", "expires_at": "2099-12-31T23:59:59Z"}',
        b'{"name": "ops", "role": "admin"}',
    ],
    "query": [
        b"\x00bbox=105.5,19.0,109.0,22.0&kind=encounter&kind=ais_gap&since=2025-03-01T00:00:00Z&page_size=10",
        b"\x00bbox=179,10,-179,11&status=new&min_score=50&mmsi=574000001&muted=all",
        b"\x00until=2025-03-02T00:00:00%2B07:00&cursor=abc",
        b"\x01bbox=105,19,109,22&band=high&ship_type=70&flag=VN&sort=score&page=2&page_size=5",
        b"\x02state=all",
        b"\x03since=2025-01-01T00:00:00Z&actor=fuzzer&kind=key_created",
        b"\x04since=2025-03-01T00:00:00Z&limit=10",
        b"\x05limit=3",
        b"\x06",
        b"\x07include_revoked=true",
    ],
}

TOKENS = [
    '"type"', '"Feature"', '"Polygon"', '"MultiPolygon"', '"coordinates"', '"properties"', '"name"', '"zone_kind"',
    '"restricted"', '"status"', '"dismissed"', '"reason"', '"note"', '"pattern"', '"vessel"', '"pair"', '"mmsi"',
    '"expires_at"', '"role"', '"admin"', "1e309", "-0.0", "NaN", "null", "[[", "]]", "\\u0000", "\\ud800",
    "2099-01-01T00:00:00Z", "bbox=", "since=", "until=", "cursor=", "page_size=", "&", "%00", "180", "-180",
]  # fmt: skip


def _seed_corpus(target: str, argv: list[str]) -> list[str]:
    """A corpus folder and dictionary for ``target`` from :data:`SEEDS`, unless the command line gives a corpus."""
    if any(not a.startswith("-") for a in argv[1:]):
        return []
    home = Path(tempfile.gettempdir()) / f"seawatch-fuzz-api-{target}"
    corpus = home / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for k, seed in enumerate(SEEDS[target]):
        (corpus / f"seed-{k}").write_bytes(seed)
    dictionary = home / "api.dict"
    dictionary.write_text("".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"\n' for t in TOKENS))
    args = [str(corpus)]
    if not any(a.startswith("-dict=") for a in argv[1:]):
        args.append(f"-dict={dictionary}")
    return args


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} TARGET [libFuzzer flags]; TARGET is one of {', '.join(TARGETS)}")
    target = sys.argv.pop(1)
    test_one = TARGETS[target]
    for seed in SEEDS[target]:  # the app started and every seed passing before the fuzzing
        test_one(seed)
    atheris.Setup([*sys.argv, *_seed_corpus(target, sys.argv)], test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
