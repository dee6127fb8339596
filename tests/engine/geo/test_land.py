"""Land and distance to the coast: cell for cell against the GLOBE mask, against the exact distance to the coast
the mask draws (tests/reference.py), against the real data in ../shared/data/geo, and the cache on disk."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from engine.geo import land_build as lb
from engine.geo.land import CACHE_NAME, INLAND_SUSPICIOUS_KM, LandIndex, band_at, coast_km_at, land_at
from engine.geo.shapes import Polygons, Polyline
from feeds.jit import kernel
from tests import reference as ref

GEO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "geo"
GULF = (16.5, 23.0, 104.5, 112.0)  # lat, lat, lon, lon


@pytest.fixture(scope="module")
def index() -> LandIndex:
    return LandIndex.load()  # derives and caches the grids on the first run (about 40 s), then opens them


@pytest.fixture(scope="module")
def globe() -> np.ndarray:
    return lb.load_globe_land()


@pytest.fixture(scope="module")
def coast_tree(globe) -> cKDTree:
    return cKDTree(ref.coast_sites(globe))


def real(name: str) -> Path:
    path = GEO / name
    if not path.is_file():
        pytest.skip(f"real geographic data {path} is not here (see ../shared/data/README.md)")
    return path


def points(n: int, box: tuple[float, float, float, float] | None = None, seed: int = 0):
    rng = np.random.default_rng(seed)
    if box is None:  # uniform on the sphere
        return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)
    return rng.uniform(box[0], box[1], n), rng.uniform(box[2], box[3], n)


def test_is_land_is_the_globe_mask_cell_for_cell(index, globe):
    with np.load(lb.globe_mask_path()) as npz:  # the package's own axes and index formula
        lat_axis, lon_axis = npz["lat"], npz["lon"]
    lat, lon = points(1_000_000, seed=1)
    lat = np.concatenate([lat, [90.0, -90.0, 0.0, 20.1333, 0.0]])
    lon = np.concatenate([lon, [0.0, 0.0, -180.0, 107.7167, 179.999999]])
    i = ((lat - lat_axis[0]) / (lat_axis[1] - lat_axis[0])).astype(int).clip(0, lb.ROWS - 1)
    j = ((lon - lon_axis[0]) / (lon_axis[1] - lon_axis[0])).astype(int).clip(0, lb.COLS - 1)
    got = index.is_land(lat, lon)
    assert np.array_equal(got, globe[i, j])
    assert 0.25 < got[:-5].mean() < 0.32  # land is 29% of the Earth's surface


def test_coast_km_is_negative_exactly_on_land(index):
    lat, lon = points(500_000, seed=2)
    assert np.array_equal(index.coast_km(lat, lon) < 0, index.is_land(lat, lon))


@pytest.mark.parametrize("where", ["world", "gulf"])
def test_coast_km_against_the_exact_distance_to_the_globe_coast(index, coast_tree, where):
    lat, lon = points(40_000, None if where == "world" else GULF, seed=3)
    got = index.coast_km(lat, lon)
    exact = ref.nearest_site_km(coast_tree, lat, lon)
    err = np.abs(got) - exact
    near = exact < lb.BAND_KM - 0.7
    # near a coast: the cell centre's distance (half a cell diagonal, 0.65 km, plus 0.05 km of rounding)
    assert np.abs(err[near]).max() <= 0.75 and np.median(np.abs(err[near])) < 0.25
    far = exact > lb.BAND_KM + 0.7
    assert np.quantile(np.abs(err[far]), 0.99) < 1.0
    assert np.abs(err[far]).max() < 3.0  # bilinear reading across a ridge midway between two coasts (2.5 seen)
    assert abs(np.median(err[far])) < 0.05
    assert near.sum() > 1000 and far.sum() > 1000


def test_beyond_the_band_the_far_grid_never_says_nearer(index):
    @kernel
    def band_values(tiles, band, lat, lon, out):
        for i in range(lat.shape[0]):
            out[i] = band_at(tiles, band, lat[i], lon[i])

    lat, lon = points(1_000_000, seed=8)
    v = np.empty(lat.shape[0], np.int64)
    band_values(index.tiles, index.band, lat, lon, v)
    km = index.coast_km(lat, lon)
    beyond = np.abs(v) == lb.BAND_MAX
    assert (np.abs(km[beyond]) >= lb.BAND_KM).all() and (np.abs(km[~beyond]) < lb.BAND_KM).all()
    assert np.array_equal(np.round(km[~beyond] / lb.BAND_UNIT_KM), v[~beyond])


def test_nan_out_of_range_wrapped_and_shaped_input(index):
    lat = np.array([[np.nan, 10.0, 91.0], [20.1333, 20.1333, 20.1333]])
    lon = np.array([[10.0, np.nan, 0.0], [107.7167, 107.7167 + 360.0, 107.7167 - 720.0]])
    land, km = index.is_land(lat, lon), index.coast_km(lat, lon)
    assert land.shape == km.shape == (2, 3)
    assert land.tolist() == [[False, False, False], [True, True, True]]
    assert np.isnan(km[0]).all() and (km[1] == km[1, 0]).all()
    with pytest.raises(ValueError, match="differ in shape"):
        index.is_land([1.0, 2.0], [1.0])


def test_well_inland(index):
    lat, lon = points(200_000, seed=4)
    km = index.coast_km(lat, lon)
    assert np.array_equal(index.well_inland(lat, lon), km <= -INLAND_SUSPICIOUS_KM)
    assert not index.well_inland([np.nan], [0.0])[0]


def test_kernels_are_callable_from_other_kernels(index):
    @kernel
    def land_and_far_at_sea(tiles, band, far, lat, lon, km):
        n = 0
        for i in range(lat.shape[0]):
            if land_at(tiles, band, lat[i], lon[i]) or coast_km_at(tiles, band, far, lat[i], lon[i]) > km:
                n += 1
        return n

    lat, lon = points(100_000, seed=5)
    want = int((index.is_land(lat, lon) | (index.coast_km(lat, lon) > 20.0)).sum())
    assert land_and_far_at_sea(index.tiles, index.band, index.far, lat, lon, 20.0) == want


def test_the_lookup_stays_under_200_mb_resident():
    # current resident memory (a child's peak would count what it inherited from this process)
    probe = (
        "import os, numpy as np; from engine.geo import land\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20\n"
        "rng = np.random.default_rng(0); n = 3_000_000\n"
        "lat, lon = rng.uniform(-90, 90, n), rng.uniform(-180, 180, n); out, flags = np.ones(n), np.ones(n, bool)\n"
        "idx = land.LandIndex.load(); t, b, f = idx.tiles, idx.band, idx.far\n"
        "land.coast_km_many(t, b, f, lat[:9], lon[:9], out[:9]); land.is_land_many(t, b, lat[:9], lon[:9], flags[:9])\n"
        "before = rss(); land.coast_km_many(t, b, f, lat, lon, out); land.is_land_many(t, b, lat, lon, flags)\n"
        "print(rss() - before, idx.nbytes / 2**20)"
    )
    if not Path("/proc/self/statm").is_file():
        pytest.skip("resident memory is read from /proc (Linux)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    grown_mb, grids_mb = map(float, done.stdout.split())
    assert 50 < grown_mb < 200 and grids_mb < 200  # measured: 132 MiB of grids, about 110 touched here


# --- the real data in ../shared/data/geo ------------------------------------------------------------------------
def test_bach_long_vi_is_land_though_natural_earth_lacks_it(index):
    ne = Polygons.from_geojson(real("naturalearth_ne_10m_land.geojson"))
    minor = Polygons.from_geojson(real("naturalearth_ne_10m_minor_islands.geojson"))
    lat, lon = 20.1333, 107.7167
    assert ne.which([lat], [lon])[0] == -1 and minor.which([lat], [lon])[0] == -1
    assert index.is_land([lat], [lon])[0]
    assert index.coast_km([lat + 0.05], [lon])[0] > 3  # an island of a few km, in open water


def test_natural_earth_agrees_in_the_gulf_of_tonkin_except_at_the_coast(index):
    ne = Polygons.from_geojson(real("naturalearth_ne_10m_land.geojson"))
    minor = Polygons.from_geojson(real("naturalearth_ne_10m_minor_islands.geojson"))
    lat, lon = points(100_000, GULF, seed=6)
    ne_land = (ne.which(lat, lon) >= 0) | (minor.which(lat, lon) >= 0)
    differ = ne_land != index.is_land(lat, lon)
    assert differ.mean() < 0.012  # measured 0.83%
    km = np.abs(index.coast_km(lat[differ], lon[differ]))
    assert np.median(km) < 1.0 and np.quantile(km, 0.9) < 2.5  # measured 0.5 and 1.9 km


def test_distance_to_the_natural_earth_coast_in_the_gulf_of_tonkin(index):
    coast = _natural_earth_coast(GULF, margin=0.5)
    lat, lon = points(8_000, (17.0, 22.5, 105.0, 111.5), seed=7)
    ne_km = coast.distance_km(lat, lon)
    ne = Polygons.from_geojson(real("naturalearth_ne_10m_land.geojson"))
    at_sea = (ne.which(lat, lon) < 0) & (ne_km < lb.BAND_KM)
    diff = index.coast_km(lat[at_sea], lon[at_sea]) - ne_km[at_sea]
    # GLOBE's coast lies about 0.8 km seaward of Natural Earth's: about 1 km apart, as the two sources are
    assert -1.2 < np.median(diff) < -0.4 and np.median(np.abs(diff)) < 1.1
    assert at_sea.sum() > 500


def _natural_earth_coast(box, margin):
    """The Natural Earth land and minor-island rings near ``box``, as a polyline."""
    parts = []
    for name in ("naturalearth_ne_10m_land.geojson", "naturalearth_ne_10m_minor_islands.geojson"):
        for feature in json.loads(real(name).read_text())["features"]:
            geom = feature["geometry"]
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            for ring in (np.asarray(r) for poly in polys for r in poly):
                keep = ((ring[:, 1] > box[0] - margin) & (ring[:, 1] < box[1] + margin)
                        & (ring[:, 0] > box[2] - margin) & (ring[:, 0] < box[3] + margin))  # fmt: skip
                for run in np.split(np.flatnonzero(keep), np.flatnonzero(np.diff(np.flatnonzero(keep)) > 1) + 1):
                    if run.size >= 2:
                        parts.append(ring[run[0] : run[-1] + 1])
    return Polyline.from_parts(parts)


def test_haiphong_anchorages_are_at_sea_and_ports_at_the_coast(index):
    with real("haiphong_quangninh_ports_anchorages.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] != "island"]
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    km = index.coast_km(lat, lon)
    kind = np.array([r["kind"] for r in rows])
    waters = (kind == "anchorage") | (kind == "pilot")
    assert waters.sum() >= 8 and (km[waters] > 0).all() and (km[waters] < 10).all()
    assert (np.abs(km[~waters]) < 6).all()  # ports and terminals: on the coast or up the river (Hai Phong)


def test_gfw_anchorages_are_rarely_well_inland(index):
    xy = np.loadtxt(real("gfw_anchorages_unnamed_gulf_of_tonkin_subset.csv"), delimiter=",", skiprows=1)
    km = index.coast_km(xy[:, 1], xy[:, 0])
    assert xy.shape[0] == 2249
    assert 0.10 < (km < 0).mean() < 0.15  # measured 12.5% on GLOBE land: the coasts disagree by a cell
    assert (km <= -INLAND_SUSPICIOUS_KM).mean() < 0.03  # measured 2.4%: ports up the rivers of Guangxi


def test_natural_earth_ports_sit_at_the_coast(index):
    features = json.loads(real("naturalearth_ne_10m_ports.geojson").read_text())["features"]
    xy = np.array([f["geometry"]["coordinates"] for f in features])
    km = index.coast_km(xy[:, 1], xy[:, 0])
    assert abs(np.median(km)) < 1.0  # measured -0.4 km
    assert (np.abs(km) <= 2.0).mean() > 0.78  # measured 82%; the rest are river and lake ports (lakes are land)


# --- the cache ---------------------------------------------------------------------------------------------------
def tiny_grids() -> dict[str, np.ndarray]:
    tiles = np.full((lb.TILE_ROWS, lb.TILE_COLS), lb.TILE_WATER, np.int32)
    tiles[0, 0] = 0
    band = np.full((1, lb.TILE, lb.TILE), -5, np.int8)
    far = np.full((180 * lb.FAR_PER_DEG + 1, 360 * lb.FAR_PER_DEG), 500, np.int16)
    return {"tiles": tiles, "band": band, "far": far}


def test_the_cache_is_written_once_atomically_and_reopened(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(lb, "load_globe_land", lambda: np.zeros((1, 1), bool))
    monkeypatch.setattr(lb, "build", lambda land: calls.append(1) or tiny_grids())
    first = LandIndex.load(tmp_path)
    second = LandIndex.load(tmp_path)
    assert len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_NAME]  # no scratch folder left behind
    assert first.is_land([89.999], [-179.999])[0] and not second.is_land([0.0], [0.0])[0]
    assert second.coast_km([0.0], [0.0])[0] == pytest.approx(50.0)
    assert not second.band.flags.writeable  # memory-mapped, shared between processes


def test_a_cache_finished_first_by_another_process_wins(tmp_path, monkeypatch):
    def build_while_another_finishes(land):
        other = tmp_path / CACHE_NAME
        other.mkdir()
        for name, array in tiny_grids().items():
            np.save(other / f"{name}.npy", array)
        (other / "meta.json").write_text("{}")
        return {name: array + 1 for name, array in tiny_grids().items()}

    monkeypatch.setattr(lb, "load_globe_land", lambda: np.zeros((1, 1), bool))
    monkeypatch.setattr(lb, "build", build_while_another_finishes)
    index = LandIndex.load(tmp_path)
    assert index.band[0, 0, 0] == -5  # the other process's grids
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_NAME]


def test_importing_does_no_io(tmp_path):
    probe = (
        "import sys, engine.geo.land, engine.geo.shapes, engine.geo.anchorages\n"
        "print('global_land_mask' in sys.modules)"  # it would load its 930 MB mask at import
    )
    env = {"SEAWATCH_CACHE_DIR": str(tmp_path / "cache"), "PATH": ""}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split() == ["False"]
    assert not (tmp_path / "cache").exists()


def test_a_cache_folder_that_cannot_be_made_says_what_to_do(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the cache folder should go")
    with pytest.raises(OSError, match="SEAWATCH_CACHE_DIR"):
        LandIndex.load(blocker / "cache")
