"""`seawatch backtest`: every kind of input, the outputs in their contracts, metrics equal to the tests' own."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.alerts import ALERT_KINDS, ALERT_SCHEMA
from engine.detectors.stations import OUTAGE_SCHEMA
from models.evaluation import measure
from models.schema import BANDS, VESSEL_SCHEMA
from seawatch.backtest_job import BacktestOptions, run_backtest
from seawatch.cli import main
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.detectors.stations_scene import at, day

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NOAA = DATA / "csv" / "noaa_marinecadastre_20220103_sample.csv"
NMEA = DATA / "nmea"
UNTIMED = NMEA / "gpsd__sample.aivdm"  # bare sentences, no times anywhere
TIMED = NMEA / "pyais__timestamped.ais"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    simulate(SimConfig(hours=8, vessels=80, seed=23, injections_per_day=9)).write(folder)
    return folder


@pytest.fixture(scope="module")
def backtest(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest")
    code = main(["backtest", str(scenario / "feed.nmea"), "--out", str(out), "--labels", str(scenario / "labels.csv"),
                 "--progress", "off"])  # fmt: skip
    assert code == 0
    return out


def test_outputs_follow_the_contracts(backtest: Path) -> None:
    alerts = pl.read_parquet(backtest / "alerts.parquet")
    vessels = pl.read_parquet(backtest / "vessels.parquet")
    assert dict(alerts.schema) == ALERT_SCHEMA and alerts.height > 0
    assert dict(vessels.schema) == VESSEL_SCHEMA
    assert vessels["mmsi"].n_unique() == vessels.height
    assert vessels["smuggling_score"].is_between(0, 100).all() and vessels["fire_score"].is_between(0, 100).all()
    assert set(vessels["band"].unique().to_list()) <= set(BANDS)
    top = vessels.row(0, named=True)
    assert top["band"] in ("high", "critical") and top["reasons"], "the scenario's smugglers should stand out"
    # every alert is counted on its vessel (and on the other vessel of a pair)
    per_vessel = dict(zip(vessels["mmsi"].to_list(), vessels["alerts"].to_list(), strict=True))
    for row in alerts.iter_rows(named=True):
        assert per_vessel[row["mmsi"]] >= 1
    html = (backtest / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "<script" not in html
    assert str(top["mmsi"]) in html


def test_the_reported_metrics_are_what_the_tests_measure(backtest: Path, scenario: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    alerts = pl.read_parquet(backtest / "alerts.parquet")
    labels = pl.read_csv(scenario / "labels.csv", schema_overrides={"other_mmsi": pl.Int64}).with_columns(
        pl.col("start", "end").str.to_datetime(time_zone="UTC")
    )
    vessels = pl.read_csv(scenario / "vessels.csv", columns=["mmsi", "role"])
    expected = measure(alerts, labels, vessels, hours=8.0, kinds=ALERT_KINDS)
    summary = run_backtest([scenario / "feed.nmea"], backtest / "again", BacktestOptions(
        labels=scenario / "labels.csv", report=False, progress=False))  # fmt: skip
    assert summary.metrics is not None
    got = summary.metrics.filter(pl.col("kind").is_in(expected["kind"].implode()))
    assert_frame_equal(got.drop("false_per_1000_vh"), expected.drop("false_per_1000_vh"))
    found = got.filter(pl.col("labels") > 0)
    assert found["matched"].sum() >= 0.8 * found["labels"].sum()
    html = (backtest / "report.html").read_text()
    assert "precision" in html.lower() and "recall" in html.lower()


def test_stream_equals_batch_for_alerts_and_scores(scenario: Path, tmp_path: Path) -> None:
    big = run_backtest([scenario / "feed.nmea"], tmp_path / "big", BacktestOptions(report=False, progress=False))
    small = run_backtest([scenario / "feed.nmea"], tmp_path / "small",
                         BacktestOptions(report=False, progress=False, chunk_bytes=200_000))  # fmt: skip
    assert_frame_equal(big.alerts, small.alerts)
    assert_frame_equal(big.vessels, small.vessels, check_exact=False, rel_tol=1e-9, abs_tol=1e-6)


def test_gz_and_decoded_parquet_inputs_give_the_same_alerts(scenario: Path, tmp_path: Path) -> None:
    plain = run_backtest([scenario / "feed.nmea"], tmp_path / "plain", BacktestOptions(report=False, progress=False))
    gz = tmp_path / "feed.nmea.gz"
    with (scenario / "feed.nmea").open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    zipped = run_backtest([gz], tmp_path / "gz", BacktestOptions(report=False, progress=False))
    assert_frame_equal(plain.alerts, zipped.alerts)
    assert main(["decode", str(scenario / "feed.nmea"), "--out", str(tmp_path / "dec"), "--progress", "off"]) == 0
    parquet = run_backtest([tmp_path / "dec" / "positions.parquet"], tmp_path / "pq",
                           BacktestOptions(report=False, progress=False))  # fmt: skip
    assert_frame_equal(plain.alerts, parquet.alerts)


@pytest.mark.skipif(not UNTIMED.exists(), reason=f"the recorded feeds are not in {NMEA}")
def test_a_log_without_times_is_refused_naming_it_and_the_fix(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["backtest", str(UNTIMED), str(TIMED), "--out", str(tmp_path / "o"), "--progress", "off"]) == 2
    err = capsys.readouterr().err
    assert UNTIMED.name in err and "--skip-untimed" in err and TIMED.name not in err
    assert not (tmp_path / "o").exists(), "nothing is written before the inputs are checked"
    assert main(["backtest", str(UNTIMED), str(TIMED), "--out", str(tmp_path / "o"), "--skip-untimed",
                 "--no-report", "--progress", "off"]) == 0  # fmt: skip
    assert f"skipped (no times): {UNTIMED}" in capsys.readouterr().out


@pytest.mark.skipif(not NMEA.exists(), reason=f"the recorded feeds are not in {NMEA}")
def test_every_recorded_feed_runs(tmp_path: Path) -> None:
    files = sorted(p for p in NMEA.iterdir() if p.is_file())
    summary = run_backtest(files, tmp_path, BacktestOptions(skip_untimed=True, report=True, progress=False))
    assert summary.messages > 1000 and summary.vessels.height > 50
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert all(len(r) > 0 for r in summary.alerts["reasons"].to_list())


@pytest.mark.skipif(not NOAA.exists(), reason=f"the NOAA archive is not in {NOAA.parent}")
def test_the_noaa_archive_scores_with_flags_and_reasons(tmp_path: Path) -> None:
    summary = run_backtest([NOAA], tmp_path, BacktestOptions(report=False, progress=False))
    v = summary.vessels
    assert (v["flag"] == "US").sum() > 0.5 * v.height  # MIDs 338, 366-369: a US archive
    scored = v.filter(pl.col("smuggling_score") > 0)
    assert scored.height > 0 and all(len(r) > 0 for r in scored["smuggling_reasons"].to_list())
    invalid = v.filter(pl.col("alerts_invalid_identity") > 0)
    assert invalid.height > 0 and (invalid["smuggling_score"] > 0).all()


def test_station_outages_are_written_beside_the_alerts(backtest: Path, tmp_path: Path) -> None:
    assert dict(pl.read_parquet(backtest / "outages.parquet").schema) == OUTAGE_SCHEMA
    # our own positions Parquet keeps the receiving station: station A's outage is found, and is no vessel's gap
    d = day(target_silent_h=0.0)
    d.table.write_parquet(tmp_path / "positions.parquet")
    summary = run_backtest(
        [tmp_path / "positions.parquet"], tmp_path / "out", BacktestOptions(report=False, progress=False)
    )
    outages = pl.read_parquet(tmp_path / "out" / "outages.parquet")
    assert outages["station"].to_list() == ["A"] and outages["end"][0] == at(d.back_s)[0]
    assert summary.alerts.filter(pl.col("kind") == "ais_gap").height == 0
    assert "1 receiving station outage(s): A " in summary.render()
