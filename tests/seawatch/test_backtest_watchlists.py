"""`seawatch backtest --watchlist FILE`: the live service's watchlist matching and score reason on a simulated
scenario, from a CSV list (a vessel by its IMO) and a FollowTheMoney export (a vessel by its name, typed with the
Vietnamese accents the feed's ASCII leaves out); without the option the outputs are as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from models.schema import VESSEL_SCHEMA
from seawatch.cli import main
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate


def _backtest(feed: Path, out: Path, *extra: str) -> int:
    return main(["backtest", str(feed), "--out", str(out), "--progress", "off", *extra])


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("listed")
    simulate(SimConfig(hours=4, vessels=40, seed=23, injections_per_day=9)).write(folder)
    assert _backtest(folder / "feed.nmea", folder / "plain", "--no-report") == 0
    return folder


def _picks(vessels: pl.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    """A quiet vessel with an IMO, and another whose name (unique in the scenario) has an A to put an accent on."""
    quiet = vessels.filter(pl.col("imo").is_not_null(), pl.col("smuggling_score") < 50).sort("mmsi")
    by_imo = quiet.row(0, named=True)
    names = vessels.filter(pl.col("name").is_not_null())
    unique = names.filter(pl.col("name").is_unique(), pl.col("name").str.contains("A"),
                          pl.col("mmsi") != by_imo["mmsi"]).sort("mmsi")  # fmt: skip
    return by_imo, unique.row(0, named=True)


def test_listed_vessels_get_the_reason_and_are_named(plain: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    before = pl.read_parquet(plain / "plain" / "vessels.parquet")
    by_imo, by_name = _picks(before)
    accented = by_name["name"].replace("A", "Ả", 1)  # HAI LINH 73 -> HẢI LINH 73
    caught = tmp_path / "caught 2025.csv"
    caught.write_text(f"IMO number,Vessel name,reason\nIMO {by_imo['imo']},,caught with 40 t diesel\n,,\n",
                      encoding="utf-8")  # fmt: skip
    sanctions = tmp_path / "tips.ftm.json"
    entity = {"id": "tip-1", "schema": "Vessel", "properties": {"name": [accented], "topics": ["smuggling"]}}
    person = {"id": "p-1", "schema": "Person", "properties": {"name": ["Nguyễn Văn A"]}}
    sanctions.write_text(json.dumps(entity, ensure_ascii=False) + "\n" + json.dumps(person) + "\n", encoding="utf-8")
    capsys.readouterr()
    out = tmp_path / "listed"
    assert _backtest(plain / "feed.nmea", out, "--watchlist", str(caught), "--watchlist", str(sanctions)) == 0
    said = capsys.readouterr().out

    after = pl.read_parquet(out / "vessels.parquet")
    assert dict(after.schema) == VESSEL_SCHEMA | {"watchlists": pl.List(pl.String)}
    rows = {r["mmsi"]: r for r in after.iter_rows(named=True)}
    old = {r["mmsi"]: r for r in before.iter_rows(named=True)}
    for pick, name, reason in ((by_imo, "caught 2025", f"+20 on watchlist 'caught 2025': IMO {by_imo['imo']} listed "
                                "for caught with 40 t diesel"),
                               (by_name, "tips", f"+20 on watchlist 'tips': name '{accented}' listed for smuggling; "
                                f"now heard as '{by_name['name']}'")):  # fmt: skip
        row = rows[pick["mmsi"]]
        assert row["watchlists"] == [name]
        assert reason in row["smuggling_reasons"] and f"smuggling {reason}" in row["reasons"]
        assert row["smuggling_score"] > old[pick["mmsi"]]["smuggling_score"]
        assert f"{pick['mmsi']} {pick['name']}: on '{name}': " in said  # the summary names them
    assert "2 listed vessel(s) seen on the watchlists" in said
    assert "watchlist 'tips': 1 entries from" in said and "1 entities not vessels ignored" in said
    # nobody else changes, and the alerts are the same bytes
    others = pl.col("mmsi").is_in([by_imo["mmsi"], by_name["mmsi"]]).not_()
    assert after.filter(others)["watchlists"].is_null().all()
    assert after.filter(others).drop("watchlists").equals(before.filter(others))
    assert (out / "alerts.parquet").read_bytes() == (plain / "plain" / "alerts.parquet").read_bytes()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "listed vessel(s) seen on the watchlists" in html and "on watchlist &#x27;caught 2025&#x27;" in html


def test_without_the_option_the_outputs_are_as_before(plain: Path, tmp_path: Path) -> None:
    assert _backtest(plain / "feed.nmea", tmp_path / "again", "--no-report") == 0
    assert dict(pl.read_parquet(tmp_path / "again" / "vessels.parquet").schema) == VESSEL_SCHEMA
    for name in ("alerts.parquet", "vessels.parquet"):
        assert (tmp_path / "again" / name).read_bytes() == (plain / "plain" / name).read_bytes()


def test_a_file_that_is_not_a_watchlist_is_refused_by_name(plain: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    bad = tmp_path / "notes.csv"
    bad.write_text("colour,size\nred,3\n", encoding="utf-8")
    assert _backtest(plain / "feed.nmea", tmp_path / "out", "--no-report", "--watchlist", str(bad)) == 2
    assert f"--watchlist {bad}: no column names a vessel" in capsys.readouterr().err
