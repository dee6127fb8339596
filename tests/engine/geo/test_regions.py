"""Region packs: the format's validation (every error names the file, the feature and the fix), the packaged
``gulf-of-tonkin`` pack against the facts in ``../shared/data/geo``, and its lanes, anchorages and zones at sea
on an independent land mask."""

from __future__ import annotations

import csv
import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from engine.geo.regions import PackError, builtin_packs, engine_pack, is_example, load_pack, load_zones, parse_pack
from seawatch.simulator.geometry import destination, offset, random_points_in_polygon, smooth_path
from tests.land_oracle import is_land, surely_land

ROOT = Path(__file__).resolve().parents[3]
GEO = ROOT.parent / "shared" / "data" / "geo"


def shared(name: str) -> Path:
    path = GEO / name
    if not path.is_file():
        pytest.skip(f"reference data {path} is absent (a fresh clone); CI always has it")
    return path


@pytest.fixture(scope="module")
def pack():
    return load_pack("gulf-of-tonkin")


def feature(kind: str = "port", geometry: dict | None = None, **props) -> dict:
    props = {"kind": kind, "name": "Somewhere", "source": "test", "radius_km": 1.0, **props}
    return {
        "type": "Feature",
        "properties": {k: v for k, v in props.items() if v is not None},
        "geometry": geometry or {"type": "Point", "coordinates": [107.0, 20.5]},
    }


def write(tmp_path: Path, *features: dict) -> Path:
    path = tmp_path / "pack.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def test_the_builtin_pack_is_listed_and_shipped_as_package_data():
    assert "gulf-of-tonkin" in builtin_packs()
    assert (resources.files("engine.geo") / "packs" / "gulf_of_tonkin.geojson").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "*.geojson" in config["tool"]["setuptools"]["package-data"]["engine.geo.packs"]
    assert "engine*" in config["tool"]["setuptools"]["packages"]["find"]["include"]  # packs is a package of it


def test_the_pack_holds_every_kind_of_feature(pack):
    kinds = set(pack.places.kinds.tolist())
    assert kinds == {"port", "terminal", "anchorage", "pilot"}
    assert len(pack.boundaries) == 1 and len(pack.stations) >= 5 and len(pack.lanes) >= 10
    assert {"restricted", "watch", "fishing"} <= set(pack.zones.kinds.tolist())
    for words in ("Hai Phong", "Lach Huyen", "Dinh Vu", "Cai Lan", "B12", "Hon Gai", "Cam Pha"):
        assert any(words in n for n in pack.places.names), words
    assert all(40 <= r <= 60 for r in pack.stations.range_km)
    assert len(set(pack.stations.ids)) == len(pack.stations)
    for f in pack.features:  # everything made up says so
        p = f["properties"]
        if p["kind"] in ("lane", "station", "zone"):
            assert p["source"].startswith("example"), p["name"]


def test_the_boundary_is_the_21_points_of_the_2000_agreement(pack):
    rows = list(csv.DictReader(shared("vn_cn_gulf_of_tonkin_boundary_2000_21pts.csv").open()))
    lat, lon = pack.boundaries.part(0)
    assert len(rows) == lat.shape[0] == 21
    np.testing.assert_allclose(lat, [float(r["lat"]) for r in rows], atol=1e-7)
    np.testing.assert_allclose(lon, [float(r["lon"]) for r in rows], atol=1e-7)
    assert pack.boundaries.props[0]["between"] == ["VN", "CN"]


def test_ports_and_anchorages_are_the_published_positions_and_radii(pack):
    rows = {r["name"]: r for r in csv.DictReader(shared("haiphong_quangninh_ports_anchorages.csv").open())}
    expect = {  # our name -> (row in the facts file, radius in nm when published)
        "Hon Gai transshipment anchorage (normal weather)": (
            "Hon Gai transshipment/storm anchorage (normal wx), r=0.4nm",
            0.4,
        ),
        "Hon Gai storm anchorage (bad weather)": ("Hon Gai storm anchorage (bad wx), r=0.25nm", 0.25),
        "Cam Pha storm anchorage (bad weather)": ("Cam Pha storm anchorage (bad wx), r=0.5nm", 0.5),
        "B12 oil terminal (Cai Lan)": ("B12 oil terminal (Cai Lan) VNOTW", None),
        "Hai Phong pilot boarding area": ("Hai Phong pilot boarding area centre (A1-A4 box)", None),
    }
    places = pack.places
    for name, (row, nm) in expect.items():
        i = places.index(name)
        assert (places.lat[i], places.lon[i]) == pytest.approx((float(rows[row]["lat"]), float(rows[row]["lon"])))
        if nm is not None:
            assert places.radius_km[i] == pytest.approx(nm * 1.852, abs=1e-3)


def test_lanes_are_at_sea_across_their_width(pack):
    for i, name in enumerate(pack.lanes.names):
        lat, lon = smooth_path(*pack.lanes.part(i), step_km=0.1)
        half = float(pack.lanes.props[i].get("width_km", 1.0)) / 2
        for side in (-half, 0.0, half):
            la, lo = offset(lat, lon, side)
            assert not is_land(la, lo).any(), f"lane {name!r} offset {side} km touches the land mask"


def test_anchorages_fishing_grounds_and_zones_are_at_sea(pack):
    rng = np.random.default_rng(0)
    for i, name in enumerate(pack.places.names):
        if pack.places.kinds[i] != "anchorage":
            continue
        ring = destination(pack.places.lat[i], pack.places.lon[i], np.arange(0, 360, 15), pack.places.radius_km[i])
        assert not surely_land(*ring).any(), name
        assert not is_land(pack.places.lat[i], pack.places.lon[i]), name
    for i, name in enumerate(pack.zones.names):
        lat, lon = random_points_in_polygon(rng, 2000, *pack.zones.part(i))
        assert not surely_land(lat, lon).any(), name
        if pack.zones.kinds[i] == "fishing":
            assert not is_land(lat, lon).any(), name


def test_a_pack_file_loads_by_path_and_polygon_places_become_zones(tmp_path):
    square = {"type": "Polygon", "coordinates": [[[107, 20], [107.1, 20], [107.1, 20.1], [107, 20.1], [107, 20]]]}
    path = write(
        tmp_path,
        feature("anchorage", square, radius_km=None, name="Box"),
        feature("station", range_km=50, id="ST-1"),
        feature("boundary", {"type": "LineString", "coordinates": [[107, 20], [108, 21]]}),
    )
    pack = load_pack(path)
    assert pack.name == "pack" and pack.path == path
    i = pack.places.index("Box")
    assert (pack.places.lat[i], pack.places.lon[i]) == pytest.approx((20.05, 107.05))
    assert pack.places.radius_km[i] == pytest.approx(7.6, abs=0.1)
    assert pack.zones.names == ("Box",) and pack.zones.kinds.tolist() == ["anchorage"]
    assert pack.stations.ids == ("ST-1",) and len(pack.boundaries) == 1
    assert pack.feature_collection("station")["features"][0]["properties"]["id"] == "ST-1"


def test_a_zone_file_adds_zones_to_a_pack(tmp_path, pack):
    square = {"type": "Polygon", "coordinates": [[[107, 20], [107.1, 20], [107.1, 20.1], [107, 20.1], [107, 20]]]}
    path = write(
        tmp_path,
        {
            "type": "Feature",
            "geometry": square,
            "properties": {"name": "No go", "zone_kind": "restricted", "source": "analyst"},
        },
    )
    zones, features = load_zones(path)
    merged = pack.with_zones(zones, features)
    assert len(merged.zones) == len(pack.zones) + 1 and merged.zones.names[-1] == "No go"
    assert merged.zones.kinds[-1] == "restricted"
    assert merged.feature_collection("zone")["features"][-1]["properties"]["name"] == "No go"


BAD = [  # (features, words the error must contain)
    ([feature("harbour")], ["feature #0 ('Somewhere')", "has kind 'harbour'", "one of port"]),
    ([feature(name="")], ["feature #0", "has no name", "properties.name"]),
    ([feature(source=None)], ["has no source", "properties.source"]),
    ([feature(radius_km=None)], ["radius_km=None", "above 0"]),
    ([feature(radius_km=-2)], ["radius_km=-2", "above 0"]),
    (
        [feature("zone", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, zone_kind="nope")],
        ["zone_kind 'nope'", "restricted"],
    ),
    (
        [feature("zone", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, zone_kind="watch")],
        ["not closed", "repeat the first point"],
    ),
    (
        [
            feature(
                "zone",
                {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [3, 0], [3, 3], [0, 0]], [[1, 1], [2, 1], [2, 2], [1, 1]]],
                },
                zone_kind="watch",
            )
        ],
        ["holes", "split"],
    ),
    ([feature(geometry={"type": "Point", "coordinates": [20.5, 107.0]})], ["out of range", "lon first"]),
    ([feature("boundary", {"type": "Point", "coordinates": [1, 2]})], ["is a Point", "LineString"]),
    ([feature("station", range_km=40, id="bad id!")], ["station id 'bad id!'", "letters, digits"]),
    (
        [feature("station", range_km=40, id="A"), feature("station", range_km=40, id="A")],
        ["feature #1", "repeats station id 'A'"],
    ),
    (
        [feature("lane", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, traffic="tanker")],
        ["traffic='tanker'", "list of roles"],
    ),
]


@pytest.mark.parametrize(("features", "words"), BAD)
def test_a_bad_feature_is_refused_naming_the_file_the_feature_and_the_fix(tmp_path, features, words):
    path = write(tmp_path, *features)
    with pytest.raises(PackError) as info:
        load_pack(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for w in words:
        assert w in message


def test_unreadable_packs_are_refused_with_the_fix(tmp_path):
    bad_json = tmp_path / "broken.geojson"
    bad_json.write_text('{"type": "FeatureCollection",\n "features": [}')
    with pytest.raises(PackError, match=r"broken.geojson: not valid JSON at line 2"):
        load_pack(bad_json)
    with pytest.raises(PackError, match="one GeoJSON FeatureCollection"):
        parse_pack({"type": "Feature"}, "x", None)
    with pytest.raises(PackError, match="no such region pack; built-in packs are gulf-of-tonkin"):
        load_pack("atlantis")
    with pytest.raises(PackError, match="cannot read the pack"):
        load_pack(tmp_path / "missing.geojson")


def test_a_zone_file_as_people_draw_it_kind_restricted_and_no_source(tmp_path):
    square = {"type": "Polygon", "coordinates": [[[107, 20], [107.1, 20], [107.1, 20.1], [107, 20.1], [107, 20]]]}
    path = tmp_path / "patrol.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square, "properties": {"name": "Firing range", "kind": "restricted"}},
        {"type": "Feature", "geometry": square, "properties": {"name": "Watch box", "zone_kind": "watch"}},
    ]}))  # fmt: skip
    zones, features = load_zones(path)
    assert zones.names == ("Firing range", "Watch box") and zones.kinds.tolist() == ["restricted", "watch"]
    assert [f["properties"]["source"] for f in features] == ["zone file patrol.geojson"] * 2


def test_the_engine_alerts_on_facts_and_the_users_zones_not_on_examples(tmp_path):
    full = load_pack("gulf-of-tonkin")
    facts = engine_pack("gulf-of-tonkin")
    examples = [n for n, p in zip(full.zones.names, full.zones.props, strict=True) if is_example(p)]
    assert examples and not set(examples) & set(facts.zones.names)  # every example zone left out
    assert len(facts.stations) == 0 < len(full.stations) and len(facts.lanes) == 0 < len(full.lanes)
    assert len(facts.boundaries) == len(full.boundaries)  # the treaty boundary is a fact
    assert set(facts.places.names) == set(full.places.names)  # places only ever keep alerts from being raised
    assert engine_pack("gulf-of-tonkin", examples=True).zones.names == full.zones.names
    square = {"type": "Polygon", "coordinates": [[[107, 20], [107.1, 20], [107.1, 20.1], [107, 20.1], [107, 20]]]}
    path = tmp_path / "mine.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square, "properties": {"name": "Mine", "kind": "restricted"}}]}))  # fmt: skip
    assert engine_pack("gulf-of-tonkin", zones=path).zones.names == ("Mine",)
    with pytest.raises(PackError, match="no such zone file"):
        engine_pack("gulf-of-tonkin", zones=tmp_path / "missing.geojson")
