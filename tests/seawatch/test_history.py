"""``seawatch ingest`` and ``seawatch backtest DATASET/`` in one process: the dataset gives the alerts and vessel
scores of backtesting the raw input, appended runs are the concatenated input, filters are pushed down."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from seawatch.cli import main
from seawatch.history import Dataset, Filters
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate

NOAA = Path(__file__).resolve().parents[3] / "shared" / "data" / "csv" / "noaa_marinecadastre_20220103_sample.csv"


def jitter(feed: bytes, seed: int = 7) -> bytes:
    """``feed`` with some single-sentence lines moved later, so that some arrive out of time order (late rows)."""
    lines = feed.split(b"\n")
    rng = random.Random(seed)
    reach = len(lines) // 8
    for i in sorted(rng.sample(range(len(lines) - reach), 400), reverse=True):
        if b"g:" in lines[i] or not lines[i]:
            continue  # parts of a multi-part message stay together
        lines.insert(i + rng.randint(1, reach), lines.pop(i))
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated 8 h with every alert kind, jittered, as one file and cut in two (two days of ingest)."""
    folder = tmp_path_factory.mktemp("history")
    feed = jitter(simulate(SimConfig(hours=8, vessels=80, seed=23, injections_per_day=9)).feed)
    (folder / "feed.nmea").write_bytes(feed)
    half = feed.index(b"\n", len(feed) // 2) + 1
    (folder / "a.nmea").write_bytes(feed[:half])
    (folder / "b.nmea").write_bytes(feed[half:])
    return folder


def backtest(*args: str) -> None:
    assert main(["backtest", *args, "--no-report", "--progress", "off"]) == 0


def ingest(*args: str) -> None:
    assert main(["ingest", *args, "--progress", "off"]) == 0


@pytest.fixture(scope="module")
def raw(scenario: Path) -> Path:
    """The single-process backtest of the raw log: the answer every other run must give."""
    backtest(str(scenario / "feed.nmea"), "--out", str(scenario / "raw"))
    return scenario / "raw"


def assert_same_outputs(expected: Path, got: Path) -> None:
    for name, key in (("alerts", ["start", "alert_id"]), ("vessels", ["mmsi"]), ("outages", ["start", "station"])):
        a, b = pl.read_parquet(expected / f"{name}.parquet"), pl.read_parquet(got / f"{name}.parquet")
        assert_frame_equal(a.sort(key), b.sort(key))


def test_a_dataset_backtests_to_the_raw_logs_answer(scenario: Path, raw: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ingest(str(scenario / "feed.nmea"), "--out", str(scenario / "one"), "--buckets", "7")
    capsys.readouterr()
    assert main(["backtest", str(scenario / "one"), "--out", str(scenario / "one-out"), "--progress", "off"]) == 0
    top = pl.read_parquet(scenario / "one-out" / "vessels.parquet").sort("smuggling_score", descending=True)
    assert str(top["mmsi"][0]) in (scenario / "one-out" / "report.html").read_text(), "the report draws the top vessel"
    assert_same_outputs(raw, scenario / "one-out")
    assert pl.read_parquet(raw / "alerts.parquet").height > 10, "the scenario must raise alerts of many kinds"
    said = capsys.readouterr().out
    assert "late" in said, "the rows ingest set aside are in the summary, as in the raw backtest"
    assert (scenario / "one" / "positions").is_dir() and list((scenario / "one").glob("positions/day=*/bucket=*/*"))


def test_appending_day_by_day_is_backtesting_the_logs_in_order(scenario: Path, tmp_path: Path) -> None:
    backtest(str(scenario / "a.nmea"), str(scenario / "b.nmea"), "--out", str(tmp_path / "raw"))
    url = f"file://{tmp_path / 'ds'}"  # an fsspec URL, as for object storage
    ingest(str(scenario / "a.nmea"), "--out", url, "--buckets", "5")
    ingest(str(scenario / "b.nmea"), "--out", url)
    meta = json.loads((tmp_path / "ds" / "_seawatch.json").read_text())
    assert [r["run"] for r in meta["runs"]] == [0, 1] and meta["buckets"] == 5
    backtest(url, "--out", str(tmp_path / "out"))
    assert_same_outputs(tmp_path / "raw", tmp_path / "out")


def test_an_unfinished_run_is_not_read(scenario: Path, tmp_path: Path) -> None:
    ingest(str(scenario / "a.nmea"), "--out", str(tmp_path / "ds"))
    before = sum(s.positions.height for s in Dataset(str(tmp_path / "ds")).steps())
    stray = tmp_path / "ds" / "positions" / "day=2024-06-01" / "bucket=000" / "part-0001-000000.parquet"
    stray.parent.mkdir(parents=True, exist_ok=True)
    pl.read_parquet(next((tmp_path / "ds" / "positions").rglob("*.parquet"))).write_parquet(stray)
    assert sum(s.positions.height for s in Dataset(str(tmp_path / "ds")).steps()) == before


def test_filters_are_pushed_down_to_days_times_and_the_box(scenario: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ingest(str(scenario / "feed.nmea"), "--out", str(ds))
    if NOAA.exists():  # a second day, far away: 2022-01-03 in US waters
        ingest(str(NOAA), "--out", str(ds))
    dataset = Dataset(str(ds))
    start, end = datetime(2024, 6, 1, 2, tzinfo=UTC), datetime(2024, 6, 1, 5, tzinfo=UTC)
    days = {p.day for p in dataset.parts if Filters(start, end).day_ok(p.day)}
    assert days == {"2024-06-01"}, "other days' files are not opened"
    box = (106.5, 19.5, 108.0, 21.0)
    steps = list(dataset.steps(filters=Filters(start, end, box)))
    positions = pl.concat([s.positions for s in steps])
    assert positions.height > 1000
    assert positions["t"].min() >= start and positions["t"].max() < end  # type: ignore[operator]
    assert positions["lon"].is_between(box[0], box[2]).all() and positions["lat"].is_between(box[1], box[3]).all()
    statics = pl.concat([s.statics for s in steps])
    assert statics["mmsi"].is_in(positions["mmsi"].unique().implode()).all()
    everything = pl.concat([s.positions for s in dataset.steps()])
    inside = pl.col("lon").is_between(box[0], box[2]) & pl.col("lat").is_between(box[1], box[3])
    expected = everything.filter(pl.col("t").is_between(start, end, closed="left") & inside)
    assert positions.height == expected.height
    backtest(str(ds), "--out", str(tmp_path / "out"), "--from", "2024-06-01T02:00", "--to", "2024-06-01T05:00",
             "--bbox", "106.5,19.5,108.0,21.0")  # fmt: skip
    alerts = pl.read_parquet(tmp_path / "out" / "alerts.parquet")
    assert alerts["start"].min() >= start  # type: ignore[operator]


def test_bad_inputs_name_the_input_and_the_fix(scenario: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["backtest", str(scenario / "feed.nmea"), "--out", str(tmp_path / "o"), "--workers", "2"]) == 2
    assert "seawatch ingest" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["ingest", str(scenario / "a.nmea"), "--out", str(tmp_path / "file"), "--progress", "off"]) == 2
    assert "give a folder" in capsys.readouterr().err
    ingest(str(scenario / "a.nmea"), "--out", str(tmp_path / "ds"), "--buckets", "4")
    assert main(["ingest", str(scenario / "b.nmea"), "--out", str(tmp_path / "ds"), "--buckets", "9"]) == 2
    assert "4 MMSI buckets" in capsys.readouterr().err
    meta = tmp_path / "ds" / "_seawatch.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": 99}))
    assert main(["backtest", str(tmp_path / "ds"), "--out", str(tmp_path / "o"), "--progress", "off"]) == 2
    assert "ingest the history again" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backtest", str(tmp_path / "ds"), "--out", str(tmp_path / "o"), "--bbox", "1,2,3"])
    assert "LON_MIN,LAT_MIN,LON_MAX,LAT_MAX" in capsys.readouterr().err
