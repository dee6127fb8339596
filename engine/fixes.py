"""Fixes and identity reports as the engine's detectors see them: numpy columns, dense vessel ids, UTC µs.

The runner hands detectors :class:`Fixes` (and :class:`Identities`) sorted by (vessel id, time, arrival), so a
detector walks each vessel's rows in time order; ``vessel_runs`` gives the row range of each vessel.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

NO_TIME = np.iinfo(np.int64).min


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
        """(vessel ids, start offsets with a final end): vessel ``vids[k]`` owns rows ``starts[k]:starts[k+1]``."""
        if len(self) == 0:
            return np.zeros(0, np.int64), np.zeros(1, np.int64)
        change = np.flatnonzero(np.diff(self.vid)) + 1
        starts = np.concatenate(([0], change, [len(self)])).astype(np.int64)
        return self.vid[starts[:-1]], starts


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
    name: list[str | None]
    callsign: list[str | None]
    destination: list[str | None]

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
        name=statics["name"].to_list(),
        callsign=statics["callsign"].to_list(),
        destination=statics["destination"].to_list(),
    )
