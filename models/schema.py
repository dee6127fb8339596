"""The vessel risk table (DESIGN.md, "Vessel risk"): one row per vessel, both scores, the band and the reasons."""

from __future__ import annotations

import polars as pl

from engine.alerts import ALERT_KINDS, UTC_US

BANDS = ("low", "medium", "high", "critical")
# upper bounds of the bands; DESIGN.md "score bands": 0-20 low, 21-50 medium, 51-75 high, 76+ critical
BAND_EDGES = (20.0, 50.0, 75.0)

VESSEL_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.Int64(),
    "name": pl.String(),
    "callsign": pl.String(),
    "imo": pl.Int64(),
    "ship_type": pl.Int64(),
    "flag": pl.String(),  # ISO 3166 alpha-2 from the MMSI's MID; null when the MMSI has none
    "lat": pl.Float64(),  # last position
    "lon": pl.Float64(),
    "first_seen": UTC_US,
    "last_seen": UTC_US,
    "positions": pl.Int64(),
    "smuggling_score": pl.Float64(),  # 0-100
    "fire_score": pl.Float64(),  # 0-100
    "band": pl.String(),  # band of the higher of the two scores
    "smuggling_band": pl.String(),
    "fire_band": pl.String(),
    "unusual": pl.Float64(),  # 0-1, how unusual the vessel's behaviour is for its type and area; null without a model
    # points the evidence model moved the smuggling score, and what it learned from ("simulated traffic": a
    # hint capped at a few points; "analysts' decisions"); null without a model
    "learned_points": pl.Float64(),
    "learned_from": pl.String(),
    "reasons": pl.List(pl.String()),  # both scores' reasons, strongest first: "smuggling +28 ship-to-ship ..."
    "smuggling_reasons": pl.List(pl.String()),  # "+28 ship-to-ship transfer 2.6 h with 574123456, ..."
    "fire_reasons": pl.List(pl.String()),
    "alerts": pl.Int64(),
    **{f"alerts_{kind}": pl.Int64() for kind in ALERT_KINDS},
}


def band_of(score: float) -> str:
    for edge, band in zip(BAND_EDGES, BANDS, strict=False):
        if score <= edge:
            return band
    return BANDS[-1]


def band_expr(column: str) -> pl.Expr:
    """The band of a score column, as a polars expression (the same edges as :func:`band_of`)."""
    c = pl.col(column)
    return (
        pl.when(c <= BAND_EDGES[0]).then(pl.lit(BANDS[0]))
        .when(c <= BAND_EDGES[1]).then(pl.lit(BANDS[1]))
        .when(c <= BAND_EDGES[2]).then(pl.lit(BANDS[2]))
        .otherwise(pl.lit(BANDS[3]))
    )  # fmt: skip


def empty_vessels() -> pl.DataFrame:
    return pl.DataFrame(schema=VESSEL_SCHEMA)
