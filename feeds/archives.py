"""Decoded AIS archives in CSV: NOAA MarineCadastre and the Danish Maritime Authority, as Positions and Statics.

Both publish one row per position report with the vessel's static data repeated on it. Rows become the
DESIGN.md Positions table (same columns and types as :mod:`engine.decode` gives for NMEA); a Statics row is
written when a vessel's static data first appears or changes. The archives do not keep the AIS message type,
so ``msg_type`` is 1 for class A and 18 for class B rows (5 and 24 for their static rows); the rate of turn,
accuracy and RAIM flags they do not publish are null / NaN. Rows are sorted by time first (archives are often grouped
by vessel); ``seq`` numbers them in that order (the engine's arrival order) and ``line`` is the row's line in
the file.

Files are read in batches of rows, so an archive larger than memory streams (:func:`iter_archive`).

NOAA's daily files stamp some positions with the day's first seconds that the vessel reported at another time:
on 2022-01-03, CMA CGM MARCO POLO has five rows at 00:00:00 and two at 00:00:01 up to 300 km apart, and is at
anchor off Long Beach for the rest of the day. A row stamped in the day's first minute from which the vessel's
next later fix is out of reach of any ship (:data:`STALE_KN`, over more than :data:`STALE_KM`) is such a
carried-over position: it is left out and
counted (``ArchiveBatch.stale``), so that the archive's clock does not read as a ship jumping. A vessel whose
rows in that minute are out of reach of each other loses all of them (which is right cannot be told).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

BATCH_ROWS = 500_000
STALE_KN = 50.0  # the engine's impossible-speed bound (DESIGN.md, GFW segmenter)
STALE_HEAD_S = 60  # rows this close after midnight may carry the archive's clock, not the vessel's
STALE_KM = 3.0  # closer than this, the spoofing detector ignores a jump anyway (GPS noise, clock skew)
UTC_US = pl.Datetime("us", "UTC")

NOAA_HEADER = "MMSI,BaseDateTime,LAT,LON,SOG,COG"
DMA_HEADER_MARK = "# Timestamp"

# DMA writes navigational status as text; the codes are ITU-R M.1371 Table 45
DMA_NAV_STATUS = {
    "Under way using engine": 0,
    "At anchor": 1,
    "Not under command": 2,
    "Restricted manoeuverability": 3,
    "Constrained by her draught": 4,
    "Moored": 5,
    "Aground": 6,
    "Engaged in fishing": 7,
    "Under way sailing": 8,
    "Reserved for future amendment [HSC]": 9,
    "Reserved for future amendment [WIG]": 10,
    "Power-driven vessel towing astern": 11,
    "Power-driven vessel pushing ahead or towing alongside": 12,
    "Reserved for future use": 13,
    "AIS-SART": 14,
    "Unknown value": 15,
}


class ArchiveError(Exception):
    """A CSV that is not one of the archive formats; the message names the file and what was expected."""


@dataclass(frozen=True)
class ArchiveBatch:
    positions: pl.DataFrame
    statics: pl.DataFrame
    stale: int = 0  # NOAA rows stamped at midnight that the vessel cannot have been at then (left out)


def archive_format(path: Path) -> str | None:
    """'noaa', 'dma' or None, from the file's first line."""
    with Path(path).open("rb") as f:
        head = f.readline().decode("utf-8", "replace")
    if head.lstrip("\ufeff").startswith(NOAA_HEADER):
        return "noaa"
    if DMA_HEADER_MARK in head and "MMSI" in head:
        return "dma"
    return None


def iter_archive(path: Path, batch_rows: int = BATCH_ROWS) -> Iterator[ArchiveBatch]:
    """Positions and Statics of a NOAA or DMA CSV, ``batch_rows`` rows at a time."""
    path = Path(path)
    kind = archive_format(path)
    if kind is None:
        raise ArchiveError(
            f"{path}: not a NOAA MarineCadastre CSV (header starting {NOAA_HEADER!r}) nor a Danish Maritime "
            f"Authority CSV (header with {DMA_HEADER_MARK!r})"
        )
    # Archives are not always in time order (NOAA's are grouped by vessel): sort by time first, out of core if
    # need be, so the engine sees the rows in the order they were received; `line` keeps each row's place.
    time_of = NOAA_TIME if kind == "noaa" else DMA_TIME
    scan = pl.scan_csv(path, infer_schema=False).with_row_index("_line", offset=2)  # the header is line 1
    stale = _stale_at_midnight(scan) if kind == "noaa" else pl.DataFrame({"_line": []}, schema={"_line": pl.UInt32})
    lazy = scan.join(stale.lazy(), on="_line", how="anti").sort(time_of, nulls_last=True, maintain_order=True)
    batches = lazy.collect_batches(chunk_size=batch_rows, maintain_order=True)
    to_tables = _noaa if kind == "noaa" else _dma
    seq = 0
    last: pl.DataFrame | None = None  # each vessel's latest static row, to write only changes
    unsaid = stale.height  # said with the first batch
    for raw in batches:
        if raw.height == 0:
            continue
        raw = raw.with_columns(pl.int_range(seq, seq + raw.height, dtype=pl.Int64).alias("seq"))
        seq += raw.height
        positions, statics = to_tables(raw)
        statics, last = _changes(statics, last)
        yield ArchiveBatch(positions, statics, stale=unsaid)
        unsaid = 0


def _stale_at_midnight(scan: pl.LazyFrame) -> pl.DataFrame:
    """The ``_line`` of each NOAA row stamped in the day's first :data:`STALE_HEAD_S` seconds that is out of
    reach of the vessel's next later fix, or whose vessel has rows in those seconds out of reach of each other
    (then which of them is right cannot be told, and all of them are left out)."""
    t = NOAA_TIME.alias("t")
    fixes = scan.select("_line", pl.col("MMSI").cast(pl.Int64, strict=False).alias("mmsi"), t,
                        pl.col("LAT").cast(pl.Float64, strict=False).alias("lat"),
                        pl.col("LON").cast(pl.Float64, strict=False).alias("lon"))  # fmt: skip
    fixes = fixes.drop_nulls(["mmsi", "t", "lat", "lon"])
    in_head = (pl.col("t") - pl.col("t").dt.truncate("1d")).dt.total_seconds() < STALE_HEAD_S
    head = fixes.filter(in_head)
    later = fixes.filter(~in_head).select("mmsi", t_next="t", lat_next="lat", lon_next="lon")
    pairs = head.sort("t").join_asof(later.sort("t_next"), left_on="t", right_on="t_next", by="mmsi",
                                     strategy="forward", check_sortedness=False).collect()  # fmt: skip
    if pairs.height == 0:
        return pairs.select("_line")
    km = _haversine_km(pairs["lat"], pairs["lon"], pairs["lat_next"], pairs["lon_next"])
    hours = (pairs["t_next"] - pairs["t"]).dt.total_seconds().fill_null(0).to_numpy() / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        unreachable = (km > STALE_KM) & (km / 1.852 / np.maximum(hours, 1e-9) > STALE_KN)
    # head rows of one vessel out of reach of each other: which is right cannot be told, so none is kept
    steps = pairs.sort("mmsi", "t").with_columns(
        pl.col("t", "lat", "lon").shift(1).over("mmsi").name.suffix("_prev"))
    km_step = _haversine_km(steps["lat_prev"], steps["lon_prev"], steps["lat"], steps["lon"])
    h_step = (steps["t"] - steps["t_prev"]).dt.total_seconds().fill_null(0).to_numpy() / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        jumps = (km_step > STALE_KM) & (km_step / 1.852 / np.maximum(h_step, 1e-9) > STALE_KN)
    torn = steps.filter(pl.Series(jumps))["mmsi"].unique()
    clash = pairs.filter(pl.col("mmsi").is_in(torn.implode()))["_line"]
    return pl.DataFrame({"_line": pl.concat([pairs.filter(pl.Series(unreachable))["_line"], clash]).unique()})


def _haversine_km(lat1: pl.Series, lon1: pl.Series, lat2: pl.Series, lon2: pl.Series) -> np.ndarray:
    la1, lo1, la2, lo2 = (np.radians(c.cast(pl.Float64).fill_null(np.nan).to_numpy()) for c in (lat1, lon1, lat2,
                                                                                                 lon2))  # fmt: skip
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return np.asarray(2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def read_archive(path: Path) -> ArchiveBatch:
    """The whole archive at once (small files, tests)."""
    batches = list(iter_archive(path))
    if not batches:
        return ArchiveBatch(_empty_positions(), _empty_statics())
    return ArchiveBatch(
        pl.concat([b.positions for b in batches]), pl.concat([b.statics for b in batches], how="vertical_relaxed"),
        stale=sum(b.stale for b in batches),
    )


def _num(name: str, na: float | None = None) -> pl.Expr:
    v = pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)
    return v if na is None else pl.when(v == na).then(float("nan")).otherwise(v)


def _nan_outside(expr: pl.Expr, low: float, high: float) -> pl.Expr:
    return pl.when(expr.is_between(low, high)).then(expr).otherwise(float("nan")).fill_null(float("nan"))


def _positions(raw: pl.DataFrame, t: pl.Expr, class_b: pl.Expr, nav: pl.Expr, cols: dict[str, str]) -> pl.DataFrame:
    return raw.select(
        pl.col(cols["mmsi"]).str.strip_chars().cast(pl.Int64, strict=False).alias("mmsi"),
        t.alias("t"),
        _nan_outside(_num(cols["lat"]), -90, 90).alias("lat"),  # 91 = not available
        _nan_outside(_num(cols["lon"]), -180, 180).alias("lon"),  # 181 = not available
        _nan_outside(_num(cols["sog"]), 0, 102.2).alias("sog"),  # 102.3 = not available
        _nan_outside(_num(cols["cog"]), 0, 359.9999).alias("cog"),  # 360 = not available
        _nan_outside(_num(cols["heading"]), 0, 359).alias("heading"),  # 511 = not available
        pl.lit(float("nan")).alias("rot"),
        pl.lit(-128, pl.Int16).alias("rot_raw"),
        nav.cast(pl.Int8, strict=False).alias("nav_status"),
        pl.when(class_b).then(18).otherwise(1).cast(pl.Int8).alias("msg_type"),
        pl.when(class_b).then(pl.lit("B")).otherwise(pl.lit("A")).alias("ais_class"),
        pl.lit(None, pl.Boolean).alias("accuracy"),
        pl.lit(None, pl.Boolean).alias("raim"),
        pl.lit(None, pl.Int8).alias("second"),
        pl.lit(None, pl.String).alias("source"),
        pl.lit(None, pl.String).alias("channel"),
        pl.col("_line").cast(pl.Int64).alias("line"),
        pl.col("seq"),
    ).filter(pl.col("mmsi").is_not_null())


def _statics(raw: pl.DataFrame, t: pl.Expr, class_b: pl.Expr, cols: dict[str, str]) -> pl.DataFrame:
    def text(name: str) -> pl.Expr:
        if not name or name not in raw.columns:
            return pl.lit(None, pl.String)
        s = pl.col(name).str.strip_chars()
        return pl.when(s.is_in(["", "Unknown", "Undefined"])).then(None).otherwise(s)

    imo = text(cols["imo"]).str.replace("^IMO", "").cast(pl.Int64, strict=False)
    return raw.select(
        pl.col(cols["mmsi"]).str.strip_chars().cast(pl.Int64, strict=False).alias("mmsi"),
        t.alias("t"),
        pl.when(class_b).then(24).otherwise(5).cast(pl.Int8).alias("msg_type"),
        pl.lit(None, pl.Int8).alias("part"),
        pl.when(imo > 0).then(imo).alias("imo"),
        text(cols["callsign"]).alias("callsign"),
        text(cols["name"]).alias("name"),
        text(cols["ship_type"]).cast(pl.Int16, strict=False).alias("ship_type"),
        *[pl.lit(None, pl.Int16).alias(c) for c in ("to_bow", "to_stern", "to_port", "to_starboard")],
        _num(cols["draught"]).alias("draught"),
        text(cols["destination"]).alias("destination"),
        *[pl.lit(None, pl.Int8).alias(c) for c in ("eta_month", "eta_day", "eta_hour", "eta_minute")],
        pl.lit(None, pl.Int8).alias("ais_version"),
        pl.lit(None, pl.Int8).alias("epfd"),
        pl.lit(None, pl.String).alias("vendor_id"),
        pl.lit(None, pl.Int64).alias("mothership_mmsi"),
        pl.lit(None, pl.String).alias("source"),
        pl.lit(None, pl.String).alias("channel"),
        pl.col("_line").cast(pl.Int64).alias("line"),
        pl.col("seq"),
    ).filter(pl.col("mmsi").is_not_null())


NOAA_COLS = {
    "mmsi": "MMSI", "lat": "LAT", "lon": "LON", "sog": "SOG", "cog": "COG", "heading": "Heading",
    "imo": "IMO", "callsign": "CallSign", "name": "VesselName", "ship_type": "VesselType", "draught": "Draft",
    "destination": "",
}  # fmt: skip


NOAA_TIME = pl.col("BaseDateTime").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False)
DMA_TIME = pl.col("# Timestamp").str.strptime(pl.Datetime("us"), "%d/%m/%Y %H:%M:%S", strict=False)


def _noaa(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    t = NOAA_TIME.dt.replace_time_zone("UTC")
    class_b = pl.col("TransceiverClass").str.strip_chars() == "B"
    nav = pl.col("Status").str.strip_chars().cast(pl.Int8, strict=False)
    return _positions(raw, t, class_b, nav, NOAA_COLS), _statics(raw, t, class_b, NOAA_COLS)


DMA_COLS = {
    "mmsi": "MMSI", "lat": "Latitude", "lon": "Longitude", "sog": "SOG", "cog": "COG", "heading": "Heading",
    "imo": "IMO", "callsign": "Callsign", "name": "Name", "ship_type": "", "draught": "Draught",
    "destination": "Destination",
}  # fmt: skip


def _dma(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    t = DMA_TIME.dt.replace_time_zone("UTC")
    class_b = pl.col("Type of mobile").str.strip_chars() == "Class B"
    nav = pl.col("Navigational status").str.strip_chars().replace_strict(DMA_NAV_STATUS, default=None)
    return _positions(raw, t, class_b, nav, DMA_COLS), _statics(raw, t, class_b, DMA_COLS)


STATIC_FIELDS = ("imo", "callsign", "name", "ship_type", "draught", "destination")


def _changes(statics: pl.DataFrame, last: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Only the rows where a vessel's static data differs from its previous row (across batches too)."""
    keyed = statics.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in STATIC_FIELDS]))
    if last is not None:
        keyed = pl.concat([last.with_columns(pl.lit(True).alias("_old")),
                           keyed.with_columns(pl.lit(False).alias("_old"))], how="vertical_relaxed")  # fmt: skip
    else:
        keyed = keyed.with_columns(pl.lit(False).alias("_old"))
    keyed = keyed.sort(["mmsi", "seq"])
    same_vessel = pl.col("mmsi") == pl.col("mmsi").shift(1)
    same_data = pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).shift(1)) for c in STATIC_FIELDS])
    changed = keyed.filter(~(same_vessel & same_data) & ~pl.col("_old")).drop("_old").sort("seq")
    latest = keyed.group_by("mmsi").agg(pl.all().sort_by("seq").last()).drop("_old")
    return changed, latest


def _empty() -> tuple[pl.DataFrame, pl.DataFrame]:
    columns = [*NOAA_HEADER.split(","), "Heading", "VesselName", "IMO", "CallSign", "VesselType", "Status", "Draft",
               "TransceiverClass"]  # fmt: skip
    raw = pl.DataFrame({c: [] for c in columns}, schema=dict.fromkeys(columns, pl.String))
    return _noaa(raw.with_columns(pl.lit(0, pl.Int64).alias("seq"), pl.lit(0, pl.UInt32).alias("_line")).clear())


def _empty_positions() -> pl.DataFrame:
    return _empty()[0]


def _empty_statics() -> pl.DataFrame:
    return _empty()[1]
