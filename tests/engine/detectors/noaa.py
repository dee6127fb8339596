"""A NOAA MarineCadastre CSV as the decoded tables (positions, statics, events) for detector tests.

Each CSV row is a position, and also carries the vessel's latest static data (name, IMO, call sign, type,
draught), so each row gives one position row and one static row; ``seq`` is the row number in time order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.decode import decode_bytes


def _fit(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    return frame.with_columns(
        [pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    ).select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def noaa_tables(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    empty = decode_bytes(b"", details=False)
    # the sample's rows are not in time order; a feed would deliver them in it, so that is their arrival order
    raw = pl.read_csv(path, infer_schema_length=0).sort("BaseDateTime", maintain_order=True).with_row_index("seq")
    num = pl.col
    b = num("TransceiverClass") == "B"
    is_b = (raw["TransceiverClass"] == "B").to_numpy()
    base = raw.select(
        num("MMSI").cast(pl.Int64).alias("mmsi"),
        num("BaseDateTime").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_zone="UTC").dt.cast_time_unit("us").alias("t"),
        pl.when(b).then(18).otherwise(1).cast(pl.Int8).alias("msg_type"),
        num("seq").cast(pl.Int64),
        num("seq").cast(pl.Int64).alias("line"),
    )
    positions = base.with_columns(
        raw["LAT"].cast(pl.Float64).alias("lat"),
        raw["LON"].cast(pl.Float64).alias("lon"),
        raw["SOG"].cast(pl.Float64).alias("sog"),
        raw["COG"].cast(pl.Float64).replace(360.0, None).alias("cog"),
        raw["Heading"].cast(pl.Float64).replace(511.0, None).alias("heading"),
        raw["Status"].cast(pl.Int8, strict=False).alias("nav_status"),
        pl.when(raw["TransceiverClass"] == "B").then(pl.lit("B")).otherwise(pl.lit("A")).alias("ais_class"),
    )
    statics = base.with_columns(
        pl.Series(np.where(is_b, 24, 5)).cast(pl.Int8).alias("msg_type"),
        raw["IMO"].str.replace("IMO", "").cast(pl.Int64, strict=False).alias("imo"),
        raw["CallSign"].alias("callsign"),
        raw["VesselName"].alias("name"),
        raw["VesselType"].cast(pl.Int16, strict=False).alias("ship_type"),
        raw["Draft"].cast(pl.Float64, strict=False).alias("draught"),
    )
    return (
        _fit(positions, empty.positions.schema),
        _fit(statics, empty.statics.schema),
        empty.events.with_columns(pl.lit(None, pl.String).alias("fields")),
    )
