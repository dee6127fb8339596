"""`seawatch detect`: every detector over a simulated feed and over a real archive, alerts in the contract."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.alerts import ALERT_SCHEMA
from seawatch.cli import main
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate

CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "csv"
NOAA = CSV / "noaa_marinecadastre_20220103_sample.csv"


def test_detect_finds_the_injected_behaviours_of_a_simulated_feed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scenario = simulate(SimConfig(hours=8, vessels=80, seed=11, injections_per_day=9))
    feed = tmp_path / "feed.nmea"
    feed.write_bytes(scenario.feed)
    assert main(["detect", str(feed), "--out", str(tmp_path / "out"), "--progress", "off"]) == 0
    alerts = pl.read_parquet(tmp_path / "out" / "alerts.parquet")
    assert dict(alerts.schema) == ALERT_SCHEMA
    assert alerts["alert_id"].n_unique() == alerts.height
    found = {(r["kind"], r["mmsi"]) for r in alerts.iter_rows(named=True)}
    found |= {(r["kind"], r["other_mmsi"]) for r in alerts.iter_rows(named=True) if r["other_mmsi"] is not None}
    labelled = {(lb.kind, lb.mmsi) for lb in scenario.labels}
    assert len(found & labelled) >= 0.6 * len(labelled)  # the quality script measures recall per kind
    out = capsys.readouterr().out
    assert "alerts by kind:" in out and "written:" in out


@pytest.mark.skipif(not NOAA.exists(), reason=f"the NOAA archive is not in {NOAA.parent}")
def test_detect_reads_a_noaa_archive(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["detect", str(NOAA), "--out", str(tmp_path), "--progress", "off"]) == 0
    alerts = pl.read_parquet(tmp_path / "alerts.parquet")
    invalid = alerts.filter(pl.col("kind") == "invalid_identity")
    assert 123456789 in invalid["mmsi"].to_list() or 999999999 in invalid["mmsi"].to_list()
    assert all(len(r) > 0 for r in alerts["reasons"].to_list())
    # the archive's positions carried over to the day's first instant are set aside and said, not read as jumps
    assert "stale_archive_row" in capsys.readouterr().out
    spoofing = alerts.filter(pl.col("kind") == "spoofing")
    assert not any(r[0].endswith("in no time") for r in spoofing["reasons"].to_list())


def test_a_bad_input_is_one_line_naming_it(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.txt"
    bad.write_text("nothing here\n")
    assert main(["detect", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt" in err
