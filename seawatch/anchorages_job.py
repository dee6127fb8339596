"""``seawatch anchorages``: NMEA files -> anchorages found in the traffic itself, as GeoJSON points.

Inputs are read and decoded chunk by chunk as ``seawatch decode`` reads them; each chunk keeps only what a stop
needs (vessel, time, position, whether it was stationary), so memory grows by about 25 bytes a position.
Stops need the whole history of a vessel in time order, so they are found once every input has been read.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.geo.anchorages import AnchorageSettings, anchorages, stationary, stops, to_geojson
from feeds.files import CHUNK_BYTES, InputError, sniff
from feeds.framing import Framer
from seawatch.decode_job import decode_file, progress_bar


@dataclass
class AnchorageOptions:
    settings: AnchorageSettings = field(default_factory=AnchorageSettings)
    keep_bad_checksums: bool = False
    chunk_bytes: int = CHUNK_BYTES
    progress: bool | None = None  # None: a bar when stderr is a terminal


@dataclass
class AnchorageSummary:
    out: Path
    files: int = 0
    positions: int = 0
    untimed: int = 0  # positions without a time: they cannot show a stay
    unplaced: int = 0  # positions without a latitude or longitude
    vessels: int = 0
    stationary: int = 0
    stops: int = 0
    stop_vessels: int = 0
    cells: int = 0
    anchorages: int = 0
    seconds: float = 0.0
    settings: AnchorageSettings = field(default_factory=AnchorageSettings)

    def render(self) -> str:
        s = self.settings
        lines = [
            f"read {self.positions:,} positions of {self.vessels:,} vessels from {self.files} file(s) "
            f"in {self.seconds:.2f} s",
            f"  left out: {self.untimed:,} without a time (a stay needs times), {self.unplaced:,} without a position",
            f"  stationary (< {s.stopped_knots:g} kn, or at anchor / moored): {self.stationary:,} timed positions",
            f"stops of {s.min_hours:g} h or more within {s.drift_km:g} km: {self.stops:,} by {self.stop_vessels:,} "
            f"vessels, in {self.cells:,} cells of {s.cell_km:g} km",
            f"anchorages (cells where {s.min_vessels} or more vessels stopped): {self.anchorages:,}",
            f"written: {self.out}",
        ]
        return "\n".join(lines) + "\n"


COLUMNS = ("mmsi", "t", "lat", "lon", "stationary")


def run_anchorages(inputs: list[Path], out: Path, options: AnchorageOptions) -> AnchorageSummary:
    """Find anchorages in ``inputs`` and write them to ``out`` (GeoJSON); raises :class:`InputError` naming a
    bad input before writing anything."""
    for path in inputs:
        sniff(path)
    if out.is_dir():
        raise InputError(f"{out}: is a directory; give the path of the .geojson file to write")
    started = time.perf_counter()
    settings = options.settings
    summary = AnchorageSummary(out=out, settings=settings)
    kept: list[pl.DataFrame] = []
    total = sum(p.stat().st_size for p in inputs)
    with progress_bar(total, options.progress, desc="anchorages") as bar:
        for path in inputs:
            framer = Framer(keep_bad_checksums=options.keep_bad_checksums)
            for decoded, n_bytes in decode_file(path, framer, options.chunk_bytes, details=False):
                kept.append(_keep(decoded.positions, settings, summary))
                bar.update(n_bytes)
            summary.files += 1
    positions = pl.concat(kept) if kept else pl.DataFrame(schema=_schema())
    summary.vessels = positions["mmsi"].n_unique()
    timed = positions.filter(pl.col("t").is_not_null())
    summary.stationary = int(timed["stationary"].sum())
    found = stops(timed, settings)
    summary.stops, summary.stop_vessels = found.height, found["mmsi"].n_unique()
    summary.cells = anchorages(found, AnchorageSettings(**{**vars(settings), "min_vessels": 1})).height
    result = anchorages(found, settings)
    summary.anchorages = result.height
    _write_atomically(out, json.dumps(to_geojson(result, settings), indent=1) + "\n")
    summary.seconds = time.perf_counter() - started
    return summary


def _keep(positions: pl.DataFrame, settings: AnchorageSettings, summary: AnchorageSummary) -> pl.DataFrame:
    """The columns a stop needs, for positions with a place; counts what is left out."""
    summary.positions += positions.height
    placed = positions.filter(pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan())
    summary.unplaced += positions.height - placed.height
    summary.untimed += int(placed["t"].null_count())
    flags = stationary(placed["sog"].to_numpy(), placed["nav_status"].to_numpy(), settings)
    return placed.select(
        pl.col("mmsi").cast(pl.Int32),
        "t",
        pl.col("lat").cast(pl.Float32),
        pl.col("lon").cast(pl.Float32),
        pl.Series("stationary", flags),
    )


def _schema() -> dict[str, pl.DataType]:
    return {"mmsi": pl.Int32(), "t": pl.Datetime("us", "UTC"), "lat": pl.Float32(), "lon": pl.Float32(),
            "stationary": pl.Boolean()}  # fmt: skip


def _write_atomically(out: Path, text: str) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    except OSError as exc:
        raise InputError(f"{out}: cannot write there ({exc.strerror})") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, out)
