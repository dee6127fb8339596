"""NOAA MarineCadastre and DMA CSV archives read as Positions and Statics, in batches or whole."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from engine.decode import decode_bytes
from feeds.archives import ArchiveError, archive_format, iter_archive, read_archive

CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "csv"
NOAA = CSV / "noaa_marinecadastre_20220103_sample.csv"
DMA = CSV / "dma_aisdk_20180208_fixture.csv"
needs_data = pytest.mark.skipif(not NOAA.exists(), reason=f"the real archives are not in {CSV}")


@needs_data
def test_noaa_rows_become_positions_with_the_decoders_columns() -> None:
    batch = read_archive(NOAA)
    empty = decode_bytes(b"", details=False)
    assert batch.positions.schema == empty.positions.schema
    assert batch.statics.schema == empty.statics.schema
    assert batch.positions.height + batch.stale == 99_999 and 0 < batch.stale < 200  # stale: the day's first minute
    first = batch.positions.row(0, named=True)  # 338148873,2022-01-03T00:00:00,33.60716,-117.91483,0.0,280.0,511
    assert first["mmsi"] == 338148873
    assert first["t"] == datetime(2022, 1, 3, tzinfo=UTC)
    assert (first["lat"], first["lon"], first["sog"], first["cog"]) == (33.60716, -117.91483, 0.0, 280.0)
    assert math.isnan(first["heading"])  # 511 = not available
    assert (first["msg_type"], first["ais_class"], first["nav_status"]) == (18, "B", None)
    assert (first["line"], first["seq"]) == (2, 0)


@needs_data
def test_noaa_static_data_is_written_when_it_first_appears_or_changes() -> None:
    statics = read_archive(NOAA).statics
    eagle = statics.filter(pl.col("mmsi") == 367379190).row(0, named=True)  # IMO8207721,WTD4583,31,...,3.3
    assert (eagle["name"], eagle["imo"], eagle["callsign"], eagle["ship_type"], eagle["draught"]) == (
        "EAGLE", 8207721, "WTD4583", 31, 3.3,
    )  # fmt: skip
    assert statics["mmsi"].n_unique() <= statics.height < 2 * statics["mmsi"].n_unique()
    per_vessel = statics.group_by("mmsi").len()
    assert per_vessel["len"].max() < 10  # a change now and then, not a copy of every row


@needs_data
def test_not_available_values_are_nan() -> None:
    p = read_archive(NOAA).positions.sort("line")  # back in file order, to line up with the raw rows
    raw = pl.read_csv(NOAA, infer_schema=False).with_row_index("line", offset=2)
    raw = raw.filter(pl.col("line").is_in(p["line"].cast(pl.UInt32).implode()))  # without the stale rows
    cog360 = raw["COG"].cast(pl.Float64) >= 360
    assert cog360.sum() > 0
    assert p.filter(pl.Series(cog360))["cog"].is_nan().all()
    assert not (p["sog"].fill_nan(None) > 102.2).any()  # (polars orders NaN above every number)
    assert p["sog"].is_nan().sum() == (raw["SOG"].cast(pl.Float64) > 102.2).sum()


@needs_data
@pytest.mark.parametrize("rows", [1, 9_999, 33_333])
def test_batches_give_the_same_tables_as_one_read(rows: int) -> None:
    whole = read_archive(NOAA)
    batches = list(iter_archive(NOAA, batch_rows=rows)) if rows > 1 else list(iter_archive(DMA, batch_rows=rows))
    ref = whole if rows > 1 else read_archive(DMA)
    assert pl.concat([b.positions for b in batches]).equals(ref.positions)
    assert pl.concat([b.statics for b in batches]).equals(ref.statics)


@needs_data
def test_dma_text_fields_are_mapped() -> None:
    p = read_archive(DMA).positions
    assert p.height == 10
    second = p.row(1, named=True)  # 08/02/2018 00:00:00,Class A,244678000,57.549578,11.666492,At anchor
    assert (second["mmsi"], second["nav_status"], second["t"]) == (244678000, 1, datetime(2018, 2, 8, tzinfo=UTC))
    assert archive_format(DMA) == "dma" and archive_format(NOAA) == "noaa"


def test_a_csv_of_something_else_is_refused_naming_it(tmp_path: Path) -> None:
    other = tmp_path / "prices.csv"
    other.write_text("date,price\n2024-01-01,3\n")
    with pytest.raises(ArchiveError, match="prices.csv: not a NOAA MarineCadastre CSV"):
        list(iter_archive(other))


def _noaa_file(tmp_path: Path, rows: list[tuple[int, str, float, float]]) -> Path:
    path = tmp_path / "AIS_2022_01_03.csv"
    head = "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft," \
           "Cargo,TransceiverClass"  # fmt: skip
    body = [f"{m},2022-01-03T{t},{lat},{lon},10.0,90.0,90,SHIP {m},,,70,0,100,20,8.0,70,A" for m, t, lat, lon in rows]
    path.write_text("\n".join([head, *body]) + "\n")
    return path


def test_positions_stamped_at_the_days_first_instant_that_no_ship_could_reach_are_left_out(tmp_path: Path) -> None:
    path = _noaa_file(tmp_path, [
        (1, "00:00:00", 33.0, -121.0),  # carried over: 200 km from where the vessel is a minute later
        (1, "00:01:10", 33.0, -118.9), (1, "00:02:20", 33.0, -118.89),
        (2, "00:00:00", 34.0, -120.0),  # an ordinary report at midnight: the next fix is 0.3 km on
        (2, "00:01:00", 34.0, -119.997),
        (3, "00:00:00", 35.0, -122.0), (3, "00:00:01", 35.5, -121.0),  # a second apart, 100 km: both unknown
        (3, "23:59:30", 35.5, -121.0),
        (4, "12:00:00", 36.0, -123.0), (4, "12:00:30", 36.0, -122.0),  # a jump in the day: the engine's to judge
    ])  # fmt: skip
    batch = read_archive(path)
    kept = batch.positions.select("mmsi", pl.col("t").dt.strftime("%H:%M:%S")).rows()
    assert batch.stale == 3
    assert sorted(kept) == [(1, "00:01:10"), (1, "00:02:20"), (2, "00:00:00"), (2, "00:01:00"), (3, "23:59:30"),
                            (4, "12:00:00"), (4, "12:00:30")]  # fmt: skip
