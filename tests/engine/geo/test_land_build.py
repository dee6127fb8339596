"""The builder's kernels on small masks, against brute force: the band's distance to the edge midpoints, and the
far grid's nearest-site propagation on the sphere. (The real grids are checked in test_land.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

from engine.geo import land_build as lb
from tests import reference as ref


def blobs(shape: tuple[int, int], seed: int, fill: float = 0.45) -> np.ndarray:
    """Land made of random discs: islands, bays and single-cell rocks."""
    rng = np.random.default_rng(seed)
    ii, jj = np.indices(shape)
    land = rng.random(shape) < 0.01
    for _ in range(int(fill * 40)):
        ci, cj, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.uniform(1, shape[0] / 5)
        land |= (ii - ci) ** 2 + (jj - cj) ** 2 < r * r
    return land


@pytest.mark.parametrize(
    ("dx", "worst_km"),
    [(0.926, 0.15), (0.6, 0.25), (0.3, 0.35), (0.05, 0.45)],  # cells as wide as tall, down to 1/18 (87 degrees)
)
@pytest.mark.parametrize("seed", [0, 1])
def test_band_values_are_the_distance_to_the_nearest_edge_midpoint(seed, dx, worst_km):
    dy = lb.KM_PER_DEG / lb.CELLS_PER_DEG
    window = blobs((48, 64), seed)
    to_land = distance_transform_edt(~window, return_distances=False, return_indices=True, sampling=(dy, dx))
    to_water = distance_transform_edt(window, return_distances=False, return_indices=True, sampling=(dy, dx))
    q = np.empty(window.shape, np.int8)
    lb._quantise(window, to_land[0], to_land[1], to_water[0], to_water[1], dy, dx, q)
    # brute force: every midpoint of an edge between a land and a water cell
    vi, vj = np.nonzero(window[1:] != window[:-1])
    hi, hj = np.nonzero(window[:, 1:] != window[:, :-1])
    mid = np.concatenate([np.stack([vi + 0.5, vj], 1), np.stack([hi, hj + 0.5], 1)]) * (dy, dx)
    cells = np.stack(np.indices(window.shape), -1).reshape(-1, 2) * (dy, dx)
    exact = np.maximum(cKDTree(mid).query(cells)[0].reshape(window.shape), lb.BAND_UNIT_KM)
    err = np.abs(np.abs(q.astype(float)) * lb.BAND_UNIT_KM - np.minimum(exact, lb.BAND_KM))
    assert np.array_equal(q < 0, window)
    assert err.max() <= worst_km and np.median(err) <= 0.05  # rounding to 0.1 km, and the odd nearer edge


@pytest.mark.parametrize("seed", [0, 1])
def test_far_grid_holds_the_distance_to_the_nearest_coast_site(seed):
    land = blobs((180 * 4, 360 * 4), seed, fill=0.6)  # a whole Earth at 0.25 degrees, nodes every degree
    far = lb.far_grid(land, far_per_deg=1)
    assert far.shape == (181, 360)
    lat = 90.0 - np.arange(181)
    lon = -180.0 + np.arange(360)
    lat, lon = np.repeat(lat, 360), np.tile(lon, 181)
    exact = ref.nearest_site_km(cKDTree(ref.coast_sites(land, cells_per_deg=4)), lat, lon)
    exact = np.minimum(exact, np.iinfo(np.int16).max * lb.FAR_UNIT_KM)  # int16 holds 3,277 km (Earth needs 2,700)
    err = np.abs(np.abs(far.ravel()) * lb.FAR_UNIT_KM - exact)
    cell_km = lb.KM_PER_DEG / 4
    # most nodes find their nearest site (0.05 km is rounding); a few keep a neighbour's, a fraction of a cell
    # farther (measured: 1% beyond 0.18 cells, none beyond 0.5)
    assert np.median(err) < 0.05 and np.quantile(err, 0.99) < 0.3 * cell_km and err.max() < 0.75 * cell_km
    node_land = land[np.minimum(np.arange(181) * 4, 719)][:, np.arange(360) * 4].ravel()
    assert np.array_equal(far.ravel() < 0, node_land)
