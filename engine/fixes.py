"""Fixes and identity reports as the engine's detectors see them: numpy columns, dense vessel ids, UTC µs.

The runner hands detectors :class:`Fixes` (and :class:`Identities`) sorted by (vessel id, time, arrival), so a
detector walks each vessel's rows in time order; ``vessel_runs`` gives the row range of each vessel.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from feeds.jit import kernel, read_only

if TYPE_CHECKING:
    from engine.geo.land import LandIndex

NO_TIME = np.iinfo(np.int64).min
DIMENSIONS = ("to_bow", "to_stern", "to_port", "to_starboard")  # a hull's size: an MMSI handover keeps it
FLOAT_COLUMNS = ("lat", "lon", "sog", "cog", "heading")


@dataclass(frozen=True)
class Fixes:
    """Position fixes, one row each, sorted by (vid, t_us, arrival)."""

    vid: np.ndarray  # int64 dense vessel id (see engine.fleet.VesselIndex)
    mmsi: np.ndarray  # int64
    t_us: np.ndarray  # int64 UTC microseconds
    arrival: np.ndarray  # int64 global arrival index (ties in time keep the order of the input)
    lat: np.ndarray  # float64, NaN when not available
    lon: np.ndarray
    sog: np.ndarray  # knots, NaN when not available
    cog: np.ndarray  # degrees, NaN when not available
    heading: np.ndarray  # degrees, NaN when not available
    nav_status: np.ndarray  # int8, -1 when absent (class B)
    msg_type: np.ndarray  # int8
    class_b: np.ndarray  # bool: types 18, 19

    def __len__(self) -> int:
        return int(self.vid.shape[0])

    def take(self, idx: np.ndarray) -> Fixes:
        return Fixes(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def vessel_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(vessel ids, start offsets with a final end): vessel ``vids[k]`` owns rows ``starts[k]:starts[k+1]``.
        Computed once (every detector asks); the arrays are read-only."""
        return self._runs

    def coast_km(self, land: LandIndex) -> np.ndarray:
        """Each fix's distance to the coast by ``land`` (km, negative inland). Computed once a step for each land
        index (the loitering and the inland detectors both ask); the array is read-only."""
        cache = self._coast
        if id(land) not in cache:
            km = land.coast_km(self.lat, self.lon)
            km.flags.writeable = False
            cache[id(land)] = km
        return cache[id(land)]

    @cached_property
    def _coast(self) -> dict[int, np.ndarray]:
        return {}

    @cached_property
    def shared(self) -> dict[str, Any]:
        """What detectors derive from these fixes once a step and hand to each other, by name (the ship type at
        each fix: :func:`engine.detectors.episodes.ship_type_at`)."""
        return {}

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0:
            vids, starts = np.zeros(0, np.int64), np.zeros(1, np.int64)
        else:
            change = np.flatnonzero(self.vid[1:] != self.vid[:-1]) + 1
            starts = np.concatenate(([0], change, [len(self)])).astype(np.int64)
            vids = self.vid[starts[:-1]]
        vids.flags.writeable = False
        starts.flags.writeable = False
        return vids, starts


@dataclass(frozen=True)
class Identities:
    """Static and voyage reports (types 5, 19, 24), one row each, sorted by (vid, t_us, arrival)."""

    vid: np.ndarray
    mmsi: np.ndarray
    t_us: np.ndarray
    arrival: np.ndarray
    msg_type: np.ndarray  # int8
    part: np.ndarray  # int8: 0 = 24A, 1 = 24B, -1 otherwise
    imo: np.ndarray  # int64, -1 when absent
    ship_type: np.ndarray  # int16, -1 when absent
    draught: np.ndarray  # float64 metres, NaN when absent
    # text values (None when absent): a polars String Series from the runner (kept in polars, where the identity
    # detector cleans them); a list is accepted too
    name: pl.Series | list[str | None]
    callsign: pl.Series | list[str | None]
    destination: pl.Series | list[str | None]
    # the hull's size from the antenna (int16 metres, -1 when absent); None when the rows did not carry it
    to_bow: np.ndarray | None = None
    to_stern: np.ndarray | None = None
    to_port: np.ndarray | None = None
    to_starboard: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.vid.shape[0])


def _np(frame: pl.DataFrame, name: str, dtype: type, fill: float | int) -> np.ndarray:
    return frame[name].fill_null(fill).to_numpy().astype(dtype, copy=False)


def fixes_from_positions(positions: pl.DataFrame, vid: np.ndarray, arrival: np.ndarray) -> Fixes:
    """Columns of a Positions table (rows with a time) as :class:`Fixes`, in the table's order."""
    t = positions["t"].dt.epoch("us").to_numpy().astype(np.int64)
    mt = _np(positions, "msg_type", np.int8, 0)
    return Fixes(
        vid=vid.astype(np.int64),
        mmsi=_np(positions, "mmsi", np.int64, 0),
        t_us=t,
        arrival=arrival.astype(np.int64),
        lat=_np(positions, "lat", np.float64, np.nan),
        lon=_np(positions, "lon", np.float64, np.nan),
        sog=_np(positions, "sog", np.float64, np.nan),
        cog=_np(positions, "cog", np.float64, np.nan),
        heading=_np(positions, "heading", np.float64, np.nan),
        nav_status=_np(positions, "nav_status", np.int8, -1),
        msg_type=mt,
        class_b=(mt == 18) | (mt == 19),
    )


@kernel
def _scatter(dest, src, out):
    for r in range(dest.shape[0]):
        if dest[r] >= 0:
            out[dest[r]] = src[r]


def take_rows(columns: list[np.ndarray], rows: np.ndarray, n: int) -> list[np.ndarray]:
    """``[col[rows] for col in columns]`` for distinct ``rows`` of ``n``-row columns, by scattering each column in
    its own order to the rows' places: reading in order and writing to a few thousand runs (one a vessel) is about
    four times faster than reading rows all over the columns."""
    # the places as int32 when they fit: every column's pass reads them, and half the bytes is a tenth less time
    index = np.int32 if n < np.iinfo(np.int32).max else np.int64
    dest = np.full(n, -1, index)
    dest[rows] = np.arange(rows.shape[0], dtype=index)
    out = []
    for col in columns:
        taken = np.empty(rows.shape[0], col.dtype)
        _scatter(dest, read_only(np.ascontiguousarray(col)), taken)
        out.append(taken)
    return out


def fixes_in_order(positions: pl.DataFrame, rows: np.ndarray, vid: np.ndarray, t_us: np.ndarray,
                   arrival: np.ndarray, mmsi_of_vid: np.ndarray) -> Fixes:  # fmt: skip
    """Rows ``rows`` of a Positions table as :class:`Fixes`, in that order; ``vid`` and ``t_us`` are already theirs
    (in that order) and ``arrival`` the table's. The MMSI comes from the vessel id (a small table, not a gather)."""
    arr, lat, lon, sog, cog, heading, nav, mt = take_rows(
        [np.asarray(arrival, np.int64), *(_np(positions, c, np.float64, np.nan) for c in FLOAT_COLUMNS),
         _np(positions, "nav_status", np.int8, -1), _np(positions, "msg_type", np.int8, 0)],
        rows, positions.height,
    )  # fmt: skip
    return Fixes(
        vid=vid.astype(np.int64, copy=False),
        mmsi=np.asarray(mmsi_of_vid, np.int64)[vid],
        t_us=t_us.astype(np.int64, copy=False),
        arrival=arr,
        lat=lat,
        lon=lon,
        sog=sog,
        cog=cog,
        heading=heading,
        nav_status=nav,
        msg_type=mt,
        class_b=(mt == 18) | (mt == 19),
    )


def identities_in_order(statics: pl.DataFrame, rows: np.ndarray, vid: np.ndarray, t_us: np.ndarray,
                        mmsi_of_vid: np.ndarray) -> Identities:  # fmt: skip
    """Rows ``rows`` of a Statics table as :class:`Identities`, in that order (as :func:`fixes_in_order`)."""
    text = statics.select("name", "callsign", "destination")[rows]  # strings: polars gathers them best
    arrival, msg_type, part, imo, ship_type, draught, *dims = take_rows(
        [statics["arrival"].to_numpy().astype(np.int64), _np(statics, "msg_type", np.int8, 0),
         _np(statics, "part", np.int8, -1), _np(statics, "imo", np.int64, -1), _np(statics, "ship_type", np.int16, -1),
         _np(statics, "draught", np.float64, np.nan), *(_np(statics, c, np.int16, -1) for c in _dimensions(statics))],
        rows, statics.height,
    )  # fmt: skip
    return Identities(
        vid=vid.astype(np.int64, copy=False),
        mmsi=np.asarray(mmsi_of_vid, np.int64)[vid],
        t_us=t_us.astype(np.int64, copy=False),
        arrival=arrival,
        msg_type=msg_type,
        part=part,
        imo=imo,
        ship_type=ship_type,
        draught=draught,
        name=text["name"],
        callsign=text["callsign"],
        destination=text["destination"],
        **dict(zip(DIMENSIONS, dims, strict=True)) if dims else {},
    )


def _dimensions(statics: pl.DataFrame) -> tuple[str, ...]:
    """The hull dimension columns, when the table has all of them."""
    return DIMENSIONS if all(c in statics.columns for c in DIMENSIONS) else ()


def identities_from_statics(statics: pl.DataFrame, vid: np.ndarray, arrival: np.ndarray) -> Identities:
    """Columns of a Statics table (rows with a time) as :class:`Identities`, in the table's order."""
    return Identities(
        vid=vid.astype(np.int64),
        mmsi=_np(statics, "mmsi", np.int64, 0),
        t_us=statics["t"].dt.epoch("us").to_numpy().astype(np.int64),
        arrival=arrival.astype(np.int64),
        msg_type=_np(statics, "msg_type", np.int8, 0),
        part=_np(statics, "part", np.int8, -1),
        imo=_np(statics, "imo", np.int64, -1),
        ship_type=_np(statics, "ship_type", np.int16, -1),
        draught=_np(statics, "draught", np.float64, np.nan),
        name=statics["name"],
        callsign=statics["callsign"],
        destination=statics["destination"],
        **{c: _np(statics, c, np.int16, -1) for c in _dimensions(statics)},
    )


@kernel
def vessel_rows_by_time(vid, t_us, n_vessels):
    """Rows -> their order by (vessel, time), equal times in the order given; each vessel's first position in that
    order (``start``, n_vessels + 1 entries) and the times in that order. Every row is kept (no de-duplication)."""
    n = vid.shape[0]
    # a counting sort by vessel (stable: each vessel's rows stay in the order given)
    start = np.zeros(n_vessels + 1, np.int64)
    for i in range(n):
        start[vid[i] + 1] += 1
    for v in range(n_vessels):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    t_v = np.empty(n, np.int64)  # the times in that order: read in order below, not all over t_us
    for i in range(n):
        p = fill[vid[i]]
        order[p] = i
        t_v[p] = t_us[i]
        fill[vid[i]] = p + 1
    # then, vessel by vessel, its rows by time (they come nearly in time order, so most need no sort at all; a
    # stable sort keeps the given order among equal times)
    for v in range(n_vessels):
        a, b = start[v], start[v + 1]
        for k in range(a + 1, b):
            if t_v[k] < t_v[k - 1]:
                by_time = np.argsort(t_v[a:b], kind="mergesort")
                order[a:b] = order[a:b][by_time]
                t_v[a:b] = t_v[a:b][by_time]
                break
    return order, start, t_v


@kernel
def _vessel_time_order(vid, t_us, keys, n_vessels):
    order, start, t_v = vessel_rows_by_time(vid, t_us, n_vessels)
    # the first arrival of each message: an earlier row of the same vessel and time with the same key
    n = vid.shape[0]
    keep = np.empty(n, np.int64)
    keep_vid = np.empty(n, np.int64)
    keep_t = np.empty(n, np.int64)
    m = 0
    for v in range(n_vessels):
        a, b = start[v], start[v + 1]
        run = m  # where the current time's run starts among the kept rows
        for k in range(a, b):
            i = order[k]
            if k == a or t_v[k] != keep_t[m - 1]:
                run = m
            dup = False
            for r in range(run, m):  # a run is the copies of one time of one vessel: a few rows
                j = keep[r]
                same = True
                for c in range(keys.shape[1]):
                    if keys[j, c] != keys[i, c]:
                        same = False
                        break
                if same:
                    dup = True
                    break
            if not dup:
                keep[m] = i
                keep_vid[m] = v
                keep_t[m] = t_v[k]
                m += 1
    return keep[:m], keep_vid[:m], keep_t[:m]


def vessel_time_order(vid: np.ndarray, t_us: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Rows given in arrival order -> the first arrival of each distinct (vid, t_us, keys row), sorted by (vid,
    t_us, arrival): the order detectors get. ``keys`` is one int64 row per input row (floats by their bits)."""
    return vessel_time_sorted(vid, t_us, keys)[0]


def vessel_time_sorted(
    vid: np.ndarray, t_us: np.ndarray, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`vessel_time_order`, and the vessel ids and times of those rows (taken in the same pass)."""
    vid = np.ascontiguousarray(vid, np.int64)
    if vid.shape[0] and vid.min() < 0:
        raise ValueError("vessel ids must be >= 0 (rows without a vessel are dropped before ordering)")
    keys = np.ascontiguousarray(keys, np.int64)
    if keys.ndim == 1:
        keys = keys[:, None]
    n_vessels = int(vid.max()) + 1 if vid.shape[0] else 0
    return _vessel_time_order(read_only(vid), read_only(np.ascontiguousarray(t_us, np.int64)), keys, n_vessels)
