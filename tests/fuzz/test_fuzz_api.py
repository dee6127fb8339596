"""The API fuzz targets (tests/fuzz/fuzz_api.py) on a small fixed corpus, so ``make test`` runs them without atheris.

Each target gets its seeds, every seed cut short at a few places, seeded byte flips, and bodies chosen to hurt
(NUL and lone surrogates, numbers past float64, deep nesting, wrong types, a closed ring around a pole). A target
fails on an uncaught exception or an answer other than a proper 422 refusal or a read-back success.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tests.fuzz.fuzz_api import SEEDS, TARGETS

FLIPS = 12  # seeded byte flips per seed
NASTY: dict[str, list[bytes]] = {
    "zone": [
        b"", b"null", b"[]", b"{", b'{"type": "Feature"}', b"[" * 5000 + b"]" * 5000,
        b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]},'
        b' "properties": {"name": "\\u0000", "zone_kind": "restricted"}}',
        b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]},'
        b' "properties": {"name": "point", "zone_kind": "restricted"}}',
        b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 95], [1, 95], [1, 96], [0, 95]]]},'
        b' "properties": {"name": "off the globe", "zone_kind": "restricted"}}',
        b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0, 5], [1, 0], [1, 1, 9], [0, 0]]]},'
        b' "properties": {"name": "3d", "zone_kind": "watch"}}',
        b'{"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": []},'
        b' "properties": {"name": "empty", "zone_kind": "restricted"}}',
        b"\xff\xfe\x00garbage",
    ],
    "ring": [b"", b"\x00" * 15, np.full(8, np.nan).tobytes(), np.array([0, 0, 1e308, 0, 0, 1e308, 0, 0.0]).tobytes(),
             np.array([-1e308, 0, 1e308, 0, 0, 1, -1e308, 0]).tobytes(), np.zeros(64).tobytes()],
    "alert": [b"", b"{}", b'{"status": "dismissed", "reason": "nope"}', b'{"status": "confirmed", "reason": '
              b'"reception_problem"}', b'{"status": "confirmed", "note": "\\u0000"}', b'{"status": 1}',
              b'{"status": "confirmed", "extra": 1}', b'{"status": "confirmed", "note": "' + b"x" * 3000 + b'"}'],
    "mute": [b"{}", b'{"pattern": "vessel", "reason": "r", "expires_at": "2000-01-01T00:00:00Z"}',
             b'{"pattern": "vessel", "reason": "r", "expires_at": "2099-01-01T00:00:00"}',
             b'{"pattern": "vessel", "kind": "ais_gap", "mmsi": 574000001, "reason": " ", '
             b'"expires_at": "9999-12-31T23:59:59-14:00"}',
             b'{"pattern": "pair", "mmsi": 1, "other_mmsi": 1, "reason": "r", "expires_at": "2099-01-01T00:00:00Z"}',
             b'{"pattern": "station", "station": "a b", "reason": "r", "expires_at": "2099-01-01T00:00:00Z"}',
             b'{"pattern": "zone", "zone": "", "reason": "r", "expires_at": "0001-01-01T00:00:00+14:00"}'],
    "key": [b'{"name": "\\u001f", "role": "viewer"}', b'{"name": "x", "role": "root"}',
            b'{"name": "x", "role": "viewer", "expires_at": "0001-01-01T00:00:00+01:00"}',
            b'{"name": "x", "role": "viewer", "expires_at": "9999-12-31T23:59:59-01:00"}',
            b'{"name": "' + b"n" * 101 + b'", "role": "admin"}'],
    "query": [b"\x00bbox=nan,nan,nan,nan", b"\x00bbox=inf,0,1,1", b"\x00bbox=1,2,3", b"\x00bbox=-180,-90,180,90",
              b"\x00since=9999-12-31T23:59:59-14:00", b"\x00since=0001-01-01T00:00:00%2B14:00",
              b"\x00cursor=" + b"9" * 40, b"\x00page_size=0", b"\x00mmsi=-1", b"\x01page=1000000&page_size=100000",
              b"\x00kind=%00", b"\x03cursor=%ff%fe", b"\x04limit=99999999999999999999", b"\x00%zz=&&&=="],
}  # fmt: skip


def variants(target: str) -> list[bytes]:
    rng = random.Random(f"fuzz-api-{target}")
    out = [*SEEDS[target], *NASTY[target]]
    for seed in SEEDS[target]:
        out += [seed[: len(seed) * k // 4] for k in (1, 2, 3)]
        for _ in range(FLIPS):
            b = bytearray(seed)
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
            out.append(bytes(b))
    return out


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_survives_its_corpus(target: str) -> None:
    run = TARGETS[target]
    for data in variants(target):
        run(data)


def test_every_target_has_seeds_and_nasty_inputs() -> None:
    assert set(SEEDS) == set(TARGETS) == set(NASTY)


def test_seeds_are_accepted_where_they_should_be() -> None:
    """The seeds reach the code behind the parsers: a corpus of refused bodies would fuzz the 422 path only."""
    from tests.fuzz.fuzz_api import harness

    h = harness()
    accepted = {
        "zone": [h.send("POST", "/api/v1/zones", s).status_code for s in SEEDS["zone"]],
        "mute": [h.send("POST", "/api/v1/mutes", s).status_code for s in SEEDS["mute"]],
        "key": [h.send("POST", "/api/v1/keys", s).status_code for s in SEEDS["key"]],
    }
    assert accepted == {"zone": [201, 201, 201, 422, 422], "mute": [201] * 4, "key": [201] * 3}
    assert all(json.loads(s) for s in SEEDS["alert"])


def test_unwrap_ring_refuses_longitudes_past_float_range() -> None:
    from engine.geo.shapes import unwrap_ring

    try:
        xy = unwrap_ring([[-1e308, 0.0], [1e308, 0.0], [0.0, 1.0], [-1e308, 0.0]])
    except ValueError:
        return
    assert np.isfinite(xy).all(), xy


UNRENDERABLE = {  # bodies that fail validation with an input the 422's JSON cannot hold
    "zone, 1e309 (parsed as inf)": ("POST", "/api/v1/zones", b'{"type": "Feature", "geometry": {"type": "Polygon", '
                                    b'"coordinates": [[[1e309, 0], [1, 0], [1, 1], [1e309, 0]]]}, "properties": '
                                    b'{"name": "x", "zone_kind": "restricted"}}'),
    "triage, 1e309": ("PATCH", "/api/v1/alerts/{alert_id}", b'{"status": "confirmed", "note": 1e309}'),
    "mute, 1e309": ("POST", "/api/v1/mutes", b'{"pattern": "vessel", "mmsi": 1e309, "reason": "r", '
                    b'"expires_at": "2099-01-01T00:00Z"}'),
    "key, 1e309": ("POST", "/api/v1/keys", b'{"name": "x", "role": "viewer", "extra": 1e309}'),
    "zone, lone surrogate": ("POST", "/api/v1/zones", b'{"type": "Feature", "geometry": {"type": "Polygon", '
                             b'"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "properties": {"name": "\\ud800", '
                             b'"zone_kind": "restricted"}}'),
    "key, lone surrogate": ("POST", "/api/v1/keys", b'{"name": "x\\ud800", "role": "viewer"}'),
    "triage, lone surrogate": ("PATCH", "/api/v1/alerts/{alert_id}", b'{"status": "confirmed", "note": "\\udfff"}'),
}


@pytest.mark.parametrize("case", sorted(UNRENDERABLE))
def test_a_body_refused_for_an_unrenderable_value_is_a_422(case: str) -> None:
    from tests.fuzz.fuzz_api import harness

    h = harness()
    method, path, body = UNRENDERABLE[case]
    r = h.send(method, path.format(alert_id=h.alert_id), body)
    assert r.status_code == 422, r.text
