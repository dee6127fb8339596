"""The indicator model: points per piece of evidence, repeats, caps, corroboration, decay and fire evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from engine.alerts import ALERT_SCHEMA
from models.indicators import Weights, combine, fire_evidence, hazard_category, smuggling_evidence

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def alerts(*rows: tuple[str, int, int | None, float, float]) -> pl.DataFrame:
    """(kind, mmsi, other, score, hours after T0 when it ended)"""
    data = [
        {"alert_id": f"a{i}", "kind": k, "mmsi": m, "other_mmsi": o, "start": T0 + timedelta(hours=h - 1),
         "end": T0 + timedelta(hours=h), "lat": 20.0, "lon": 107.0, "score": s, "reasons": [f"{k} said {i}"]}
        for i, (k, m, o, s, h) in enumerate(rows)
    ]  # fmt: skip
    return pl.DataFrame(data, schema=ALERT_SCHEMA)


def vessels(*rows: tuple[int, int | None, int]) -> pl.DataFrame:
    """(mmsi, ship_type, positions)"""
    return pl.DataFrame(
        [{"mmsi": m, "ship_type": t, "positions": n, "drift_frac": 0.0} for m, t, n in rows],
        schema={"mmsi": pl.Int64, "ship_type": pl.Int64, "positions": pl.Int64, "drift_frac": pl.Float64},
    )


DEFAULT = Weights()
LASTING = Weights(half_life_days=1e9)  # no decay within a test


def smuggling(a: pl.DataFrame, v: pl.DataFrame, w: Weights = DEFAULT, asof: datetime | None = None) -> dict:
    out = combine(smuggling_evidence(a, asof or T0 + timedelta(hours=24), w), v, w, corroborate=True)
    return {r["mmsi"]: r for r in out.iter_rows(named=True)}


def test_one_full_strength_alert_gives_its_weight_and_says_so() -> None:
    w = Weights(half_life_days=1e9)
    got = smuggling(alerts(("encounter", 1, None, 100.0, 1.0)), vessels((1, 30, 500)), w)
    assert got[1]["score"] == pytest.approx(w.smuggling["encounter"], abs=0.05)
    assert got[1]["reasons"][0].startswith(f"+{round(w.smuggling['encounter'])} ship-to-ship transfer (")
    assert "encounter said 0" in got[1]["reasons"][0]


def test_evidence_halves_every_half_life() -> None:
    w = Weights(half_life_days=1.0)
    a = alerts(("ais_gap", 1, None, 100.0, 0.0))
    fresh = smuggling(a, vessels((1, 30, 500)), w, asof=T0)[1]["score"]
    old = smuggling(a, vessels((1, 30, 500)), w, asof=T0 + timedelta(days=2))[1]["score"]
    assert old == pytest.approx(fresh / 4, abs=0.1)


def test_repeats_count_less_and_a_kind_is_capped() -> None:
    w = Weights(half_life_days=1e9)
    many = alerts(*[("loitering", 1, None, 100.0, 1.0 + i) for i in range(10)])
    score = smuggling(many, vessels((1, 30, 500)), w)[1]["score"]
    assert score == pytest.approx(w.smuggling["loitering"] * w.kind_cap, abs=0.1)
    two = smuggling(alerts(*[("loitering", 1, None, 100.0, 1.0 + i) for i in range(2)]), vessels((1, 30, 500)), w)
    assert two[1]["score"] == pytest.approx(w.smuggling["loitering"] * (1 + w.repeat_factor), abs=0.1)


def test_independent_families_corroborate() -> None:
    w = Weights(half_life_days=1e9)
    v = vessels((1, 30, 500), (2, 30, 500))
    one_family = smuggling(alerts(("encounter", 1, None, 100.0, 1), ("loitering", 1, None, 100.0, 2)), v, w)[1]
    two_families = smuggling(alerts(("encounter", 1, None, 100.0, 1), ("ais_gap", 1, None, 100.0, 2)), v, w)[1]
    plain = w.smuggling["encounter"] + w.smuggling["ais_gap"]
    assert two_families["score"] == pytest.approx(min(100.0, plain * (1 + w.corroboration)), abs=0.1)
    assert any("corroborated by 2 independent kinds" in r for r in two_families["reasons"])
    assert not any("corroborated" in r for r in one_family["reasons"])


def test_a_pair_is_evidence_about_both_vessels() -> None:
    got = smuggling(alerts(("encounter", 1, 2, 80.0, 1)), vessels((1, 30, 500), (2, 80, 500)))
    assert got[1]["score"] == got[2]["score"] > 0


def test_too_little_data_caps_the_score_and_says_why() -> None:
    w = Weights(half_life_days=1e9)
    a = alerts(*[(k, 1, None, 100.0, 1) for k in ("encounter", "ais_gap", "spoofing", "zone_entry")])
    capped = smuggling(a, vessels((1, 30, 3)), w)[1]
    assert capped["score"] == w.little_data_cap
    assert any("only 3 positions" in r for r in capped["reasons"])
    assert smuggling(a, vessels((1, 30, 500)), w)[1]["score"] > w.little_data_cap


def test_distress_is_not_smuggling_evidence() -> None:
    assert smuggling(alerts(("distress", 1, None, 100.0, 1)), vessels((1, 30, 500))) == {}


@pytest.mark.parametrize(("ship_type", "category"), [(80, None), (81, 1), (84, 4), (85, None), (71, 1), (30, None),
                                                     (33, None), (None, None)])  # fmt: skip
def test_hazard_category_is_the_second_digit_of_cargo_carrying_types(ship_type: int | None, category: int | None):
    got = pl.DataFrame({"t": [ship_type]}, schema={"t": pl.Int64}).select(hazard_category(pl.col("t"))).item()
    assert got == category


def fire(a: pl.DataFrame, v: pl.DataFrame, w: Weights = LASTING) -> dict:
    out = combine(fire_evidence(a, v, T0 + timedelta(hours=24), w), v, w, corroborate=False)
    return {r["mmsi"]: r for r in out.iter_rows(named=True)}


def test_fire_weighs_hazardous_cargo_by_category() -> None:
    w = Weights(half_life_days=1e9)
    got = fire(alerts(), vessels((1, 81, 500), (2, 84, 500), (3, 80, 500), (4, 30, 500)), w)
    assert got[1]["score"] == pytest.approx(w.tanker_points + w.hazard_points[0], abs=0.05)
    assert got[2]["score"] == pytest.approx(w.tanker_points + w.hazard_points[3], abs=0.05)
    assert got[3]["score"] == pytest.approx(w.tanker_points, abs=0.05)
    assert 4 not in got
    assert "hazard category A" in got[1]["reasons"][0]


def test_a_transfer_with_a_tanker_weighs_more_for_both_vessels() -> None:
    w = Weights(half_life_days=1e9)
    v = vessels((1, 30, 500), (2, 80, 500), (3, 30, 500), (4, 30, 500))
    got = fire(alerts(("encounter", 1, 2, 100.0, 1), ("encounter", 3, 4, 100.0, 1)), v, w)
    assert got[1]["score"] == pytest.approx(w.transfer_tanker_points, abs=0.05)
    assert got[3]["score"] == pytest.approx(w.transfer_points, abs=0.05)
    assert got[2]["score"] == pytest.approx(w.transfer_tanker_points + w.tanker_points, abs=0.05)


def test_scores_stay_within_0_and_100() -> None:
    many = alerts(
        *[
            (k, 1, None, 100.0, 1)
            for k in (
                "encounter",
                "ais_gap",
                "spoofing",
                "zone_entry",
                "identity_conflict",
                "draught_change",
                "border_crossing",
            )
        ]
    )
    assert smuggling(many, vessels((1, 81, 500)))[1]["score"] == 100.0
