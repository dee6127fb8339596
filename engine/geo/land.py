"""Land and signed distance to the coast anywhere on Earth, vectorised and callable from Numba kernels.

Source: NOAA GLOBE at 30 arc-seconds (about 0.93 km), shipped as a mask by the ``global-land-mask`` package;
:mod:`engine.geo.land_build` derives the grids below from it once and they are cached on disk (in
``$SEAWATCH_CACHE_DIR`` or ``~/.cache/seawatch``), then memory-mapped: processes share the pages.

* ``tiles`` (1350 x 2700 int32): for each 16 x 16-cell tile, the index of its band tile, or TILE_WATER /
  TILE_LAND for a tile wholly water or land and at least 12.7 km from any coast;
* ``band`` (n x 16 x 16 int8): signed distance to the coast in 100 m units at each GLOBE cell near a coast
  (negative on land, never zero; +-127 means 12.7 km or more);
* ``far`` (4321 x 8640 int16): signed distance in 100 m units at nodes every 1/24 degree, read with bilinear
  interpolation where the band says 12.7 km or more.

``is_land`` equals the GLOBE mask cell for cell, and ``coast_km`` is negative exactly where ``is_land`` is
true. Accuracy against the exact distance to the coast the GLOBE cells draw (tests/engine/geo/test_land.py),
on 200,000 random points each in the Gulf of Tonkin box and on the whole Earth: within 12.7 km of a coast,
the distance of the point's cell centre: median error 0.2 km, at most 0.68 km (half a cell diagonal is
0.65 km); farther out, the bilinear reading of the far grid: median 0.02-0.03 km, 99th percentile 0.3 km
(Earth) and 0.8 km (Gulf), at most 2.5 km, on the ridge midway between two coasts. GLOBE itself lies about
0.8 km seaward of Natural Earth's 1:10m coast in the Gulf of Tonkin (median), and has islands Natural Earth
lacks (Bach Long Vi). Lakes are land in GLOBE: a lake or river port is "inland".
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.geo import land_build as lb
from engine.geo.chunked import run_rows
from feeds.jit import kernel, read_only

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # bump when the grids change: a new folder name, old caches are left alone
CACHE_NAME = f"land-v{CACHE_VERSION}-globe30s-t{lb.TILE}-f{lb.FAR_PER_DEG}"
ARRAYS = ("tiles", "band", "far")
# "On land" is suspicious only well inland: GLOBE, Natural Earth and GSHHG coasts disagree by a cell or two, more
# among Ha Long Bay's karst islands and in estuaries (shared/data/README.md: 6-7% of points there), and rivers
# narrower than a cell are land. Measured on the 2,249 GFW anchorages of the Gulf of Tonkin box: 12.5% lie on
# GLOBE land, 3.4% at least 1 km inland, 2.4% at least 2 km (none in Ha Long Bay: those left are river ports).
INLAND_SUSPICIOUS_KM = 2.0

NO_BAND = -1000  # band_at for a point without a position
BLOCK = 512  # points per block in coast_km_many
_CELLS = float(lb.CELLS_PER_DEG)
_FAR = float(lb.FAR_PER_DEG)


def cache_dir() -> Path:
    """Where derived grids are kept: ``$SEAWATCH_CACHE_DIR`` or ``~/.cache/seawatch``."""
    env = os.environ.get("SEAWATCH_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "seawatch"


@dataclass(frozen=True)
class LandIndex:
    """The land and coast-distance grids; build or open them with :meth:`load`."""

    tiles: np.ndarray
    band: np.ndarray
    far: np.ndarray

    @classmethod
    def load(cls, directory: Path | None = None) -> LandIndex:
        """Open the cached grids, deriving them from the GLOBE mask first if they are not cached yet."""
        folder = (directory or cache_dir()) / CACHE_NAME
        if not (folder / "meta.json").is_file():
            _build_into(folder)
        arrays = {name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r")) for name in ARRAYS}
        return cls(**arrays)

    @property
    def nbytes(self) -> int:
        return int(self.tiles.nbytes + self.band.nbytes + self.far.nbytes)

    def is_land(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Whether each point is on land (GLOBE); False where lat or lon is NaN."""
        la, lo = _points(lat, lon)
        out = np.empty(la.shape[0], np.bool_)
        run_rows(is_land_many, (self.tiles, self.band), (la, lo), (out,))
        return out.reshape(np.shape(lat))

    def coast_km(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Signed distance to the nearest coast in km: positive at sea, negative inland, NaN for NaN input."""
        la, lo = _points(lat, lon)
        out = np.empty(la.shape[0], np.float64)
        run_rows(coast_km_many, (self.tiles, self.band, self.far), (la, lo), (out,))
        return out.reshape(np.shape(lat))

    def well_inland(self, lat: np.ndarray, lon: np.ndarray, km: float = INLAND_SUSPICIOUS_KM) -> np.ndarray:
        """Points at least ``km`` inland: where an "on land" position is worth an alert."""
        with np.errstate(invalid="ignore"):
            return self.coast_km(lat, lon) <= -km


def _points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    la = np.ascontiguousarray(lat, np.float64).ravel()
    lo = np.ascontiguousarray(lon, np.float64).ravel()
    if la.shape != lo.shape:
        raise ValueError(f"lat and lon differ in shape: {np.shape(lat)} vs {np.shape(lon)}")
    return read_only(la), read_only(lo)


def _build_into(folder: Path) -> None:
    """Derive the grids and write them to ``folder`` atomically (a whole folder renamed into place)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as exc:
        raise OSError(f"{folder.parent}: cannot write the coast-distance grids there ({exc.strerror}); "
                      "set SEAWATCH_CACHE_DIR to a writable folder") from None  # fmt: skip
    log.warning("deriving the coast-distance grids from GLOBE into %s (once; about a minute)", folder)
    scratch.chmod(0o755)
    try:
        arrays = lb.build(lb.load_globe_land())
        for name in ARRAYS:
            np.save(scratch / f"{name}.npy", arrays[name])
        meta = {"version": CACHE_VERSION, "source": str(lb.globe_mask_path()), "shapes": {
            name: list(arrays[name].shape) for name in ARRAYS}}  # fmt: skip
        (scratch / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            scratch.rename(folder)
        except OSError:  # another process finished first: its grids are the same
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@kernel
def wrap_lon(lon):
    """Longitude in [-180, 180) (the modulo only for the rare longitude outside it)."""
    if lon >= -180.0 and lon < 180.0:
        return lon
    return (lon + 180.0) % 360.0 - 180.0


@kernel
def cell_of(lat, lon):
    """GLOBE cell (row, col) of a point, as global-land-mask indexes it; (-1, -1) for NaN or |lat| > 90."""
    if not (lat >= -90.0 and lat <= 90.0) or not np.isfinite(lon):
        return -1, -1
    i = min(int((90.0 - lat) * _CELLS), lb.ROWS - 1)
    j = min(int((wrap_lon(lon) + 180.0) * _CELLS), lb.COLS - 1)
    return i, j


@kernel
def band_value(tiles, band, i, j):
    """The band value (100 m units) of cell (i, j), or +-BAND_MAX for a tile beyond the band."""
    k = tiles[i // lb.TILE, j // lb.TILE]
    if k >= 0:
        return np.int64(band[k, i % lb.TILE, j % lb.TILE])
    return -lb.BAND_MAX if k == lb.TILE_LAND else lb.BAND_MAX


@kernel
def land_at(tiles, band, lat, lon):
    """Whether (lat, lon) is on land; False for NaN."""
    i, j = cell_of(lat, lon)
    if i < 0:
        return False
    return band_value(tiles, band, i, j) < 0


@kernel
def far_km_at(far, lat, lon):
    """Bilinear reading of the far grid at (lat, lon), in km."""
    n_rows, n_cols = far.shape
    fi = (90.0 - lat) * _FAR
    i0 = min(int(fi), n_rows - 2)
    wi = fi - i0
    fj = (wrap_lon(lon) + 180.0) * _FAR
    j0 = min(int(fj), n_cols - 1)
    wj = fj - j0
    j1 = j0 + 1 if j0 + 1 < n_cols else 0
    top = far[i0, j0] * (1.0 - wj) + far[i0, j1] * wj
    bottom = far[i0 + 1, j0] * (1.0 - wj) + far[i0 + 1, j1] * wj
    return (top * (1.0 - wi) + bottom * wi) * lb.FAR_UNIT_KM


@kernel
def band_at(tiles, band, lat, lon):
    """The band value of the cell holding (lat, lon) (see band_value), or NO_BAND for NaN."""
    i, j = cell_of(lat, lon)
    if i < 0:
        return NO_BAND
    return band_value(tiles, band, i, j)


@kernel
def _signed_km(v, far_km):
    """The distance a band value says, or, where it says BAND_KM or more, the far grid's (with the band's side)."""
    if v > -lb.BAND_MAX and v < lb.BAND_MAX:
        return v * lb.BAND_UNIT_KM
    d = max(abs(far_km), lb.BAND_KM)
    return -d if v < 0 else d


@kernel
def coast_km_at(tiles, band, far, lat, lon):
    """Signed distance to the coast at (lat, lon) in km (negative on land); NaN for NaN."""
    v = band_at(tiles, band, lat, lon)
    if v == NO_BAND:
        return np.nan
    if v > -lb.BAND_MAX and v < lb.BAND_MAX:
        return v * lb.BAND_UNIT_KM
    return _signed_km(v, far_km_at(far, lat, lon))


@kernel
def is_land_many(tiles, band, lat, lon, out):
    for k in range(lat.shape[0]):
        out[k] = land_at(tiles, band, lat[k], lon[k])


@kernel
def coast_km_many(tiles, band, far, lat, lon, out):
    """coast_km_at over many points, a block at a time in three simple loops (band reads, far-grid reads, then
    the sums): with short loop bodies the CPU keeps many independent memory reads in flight, which doubles the
    rate on points scattered over the world."""
    v = np.empty(BLOCK, np.int64)
    f = np.empty(BLOCK)
    for s in range(0, lat.shape[0], BLOCK):
        m = min(BLOCK, lat.shape[0] - s)
        for q in range(m):
            v[q] = band_at(tiles, band, lat[s + q], lon[s + q])
        for q in range(m):
            x = v[q]
            f[q] = far_km_at(far, lat[s + q], lon[s + q]) if x != NO_BAND and abs(x) >= lb.BAND_MAX else 0.0
        for q in range(m):
            out[s + q] = np.nan if v[q] == NO_BAND else _signed_km(v[q], f[q])
