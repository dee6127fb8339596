"""Triage precision per kind, zone and station, and the raised bar of a noisy detector in the scores."""

from __future__ import annotations

import polars as pl

from models.quality import TRIAGED_SCHEMA, UNDECIDED_SCHEMA, NoisyBar, bars_applied, precision_by, raised_bars
from models.scoring import Scorer
from tests.models.test_scoring import DECIDED, SMUGGLER, _alerts, _decisions, _vessels

HA_LONG = ["entered restricted zone Ha Long", "inside 2.0 h (40 positions)"]
CT01 = ["dark 5.0 h in good coverage after station CT01 came back at 10:00",
        "silent since 04:00; station CT01 heard 0 of its usual ~240 messages"]  # fmt: skip


def _triaged(*rows: tuple[str, str, str | None, float, list[str]]) -> pl.DataFrame:
    """(kind, status, reason code, score, reasons), decided at DECIDED"""
    return pl.DataFrame([{"alert_id": f"t{i}", "kind": k, "status": s, "reason": r, "at": DECIDED, "score": sc,
                          "reasons": rs} for i, (k, s, r, sc, rs) in enumerate(rows)],
                        schema=dict(TRIAGED_SCHEMA))  # fmt: skip


def _noisy_gaps(dismissed: int = 8, confirmed: int = 2) -> pl.DataFrame:
    """ais_gap decisions: ``dismissed`` of them with scores 60, 62, ... (median 67 for 8), ``confirmed`` at 90"""
    return _triaged(*[("ais_gap", "dismissed", "reception_problem", 60.0 + 2 * i, ["dark"]) for i in range(dismissed)],
                    *[("ais_gap", "confirmed", None, 90.0, ["dark"]) for _ in range(confirmed)])  # fmt: skip


def test_precision_counts_each_decision_and_the_dismissal_reasons() -> None:
    triaged = _triaged(("spoofing", "confirmed", None, 50.0, ["x"]), ("spoofing", "dismissed", "data_error", 40.0,
                       ["x"]), ("spoofing", "dismissed", "data_error", 45.0, ["x"]), ("spoofing", "dismissed", "other",
                       30.0, ["x"]), ("spoofing", "escalated", None, 70.0, ["x"]), ("spoofing", "new", None, 70.0,
                       ["x"]), ("zone_entry", "confirmed", None, 70.0, HA_LONG),
                       ("ais_gap", "dismissed", "reception_problem", 60.0, CT01))  # fmt: skip
    undecided = pl.DataFrame([{"kind": "spoofing", "reasons": [], "n": 4}, {"kind": "zone_entry", "reasons": HA_LONG,
                              "n": 1}], schema=dict(UNDECIDED_SCHEMA))  # fmt: skip
    kinds = {r["kind"]: r for r in precision_by(triaged, undecided, "kind").iter_rows(named=True)}
    s = kinds["spoofing"]
    assert (s["confirmed"], s["dismissed"], s["escalated"], s["undecided"]) == (1, 3, 1, 4)
    assert s["precision"] == 0.25
    assert s["dismissal_reasons"] == [{"reason": "data_error", "n": 2}, {"reason": "other", "n": 1}]
    zones = precision_by(triaged, undecided, "zone").to_dicts()
    assert [(z["zone"], z["confirmed"], z["undecided"], z["precision"]) for z in zones] == [("Ha Long", 1, 1, 1.0)]
    stations = precision_by(triaged, undecided, "station").to_dicts()
    assert [(z["station"], z["dismissed"], z["precision"]) for z in stations] == [("CT01", 1, 0.0)]


def test_a_noisy_kind_gets_a_bounded_bar_and_a_precise_or_little_judged_one_does_not() -> None:
    (bar,) = raised_bars(_noisy_gaps(), NoisyBar()).to_dicts()
    assert (bar["scope"], bar["kind"], bar["threshold"]) == ("kind", "ais_gap", 67.0)
    assert bar["said"] == "ais_gap alerts count from score 67 up: analysts dismissed 8 of 10 in the last 30 days"
    assert raised_bars(_noisy_gaps(), NoisyBar(max_score=50.0))["threshold"].to_list() == [50.0]
    assert raised_bars(_noisy_gaps(dismissed=6, confirmed=4), NoisyBar()).height == 0  # precision 0.4
    assert raised_bars(_noisy_gaps(dismissed=8, confirmed=1), NoisyBar()).height == 0  # 9 decisions: too few


def _zone_alerts(score: float, *reasons: list[str]) -> pl.DataFrame:
    return _alerts().head(len(reasons)).with_columns(kind=pl.lit("zone_entry"), score=pl.lit(score),
                                                     reasons=pl.Series(list(reasons)))  # fmt: skip


def test_a_zone_bar_applies_to_that_zone_only() -> None:
    triaged = _triaged(*[("zone_entry", "dismissed", "legitimate_activity", 70.0, HA_LONG) for _ in range(10)])
    bars = raised_bars(triaged, NoisyBar())
    assert bars["scope"].to_list() == ["zone"]  # the zone's bar explains its dismissals: none for the kind
    bay = ["entered restricted zone Ha Long Bay"]
    marked = bars_applied(_zone_alerts(40.0, HA_LONG, bay), bars)
    assert marked["bar"].to_list() == [71.0, None]
    assert marked["below_bar"].to_list()[0].startswith("zone_entry alerts in zone Ha Long count from score 71 up")


def test_a_zone_whose_alerts_all_score_alike_gets_a_bar_just_above_them() -> None:
    """zone_entry gives every alert of a watch zone 40: a bar at the dismissed alerts' median (40) would take out
    none of them (the bench_analyst finding); the bar is just above it, and the zone's own alerts go under it."""
    fishing = ["entered watch zone Co To fishing ground", "inside 8 min (6 positions)"]
    triaged = _triaged(*[("zone_entry", "dismissed", "legitimate_activity", 40.0, fishing) for _ in range(19)],
                       ("zone_entry", "confirmed", None, 40.0, fishing))  # fmt: skip
    (bar,) = raised_bars(triaged, NoisyBar()).to_dicts()
    assert (bar["scope"], bar["zone"], bar["threshold"]) == ("zone", "Co To fishing ground", 41.0)
    assert bar["said"] == ("zone_entry alerts in zone Co To fishing ground count from score 41 up: analysts "
                           "dismissed 19 of 20 in the last 30 days")  # fmt: skip
    other = ["entered watch zone Mong Cai border waters", "inside 1.0 h (20 positions)"]
    marked = bars_applied(_zone_alerts(40.0, fishing, other), raised_bars(triaged, NoisyBar()))
    assert [b is not None for b in marked["below_bar"].to_list()] == [True, False]
    # a strong one of the zone still counts; the cap holds for a zone whose alerts all score above it
    assert bars_applied(_zone_alerts(60.0, fishing), raised_bars(triaged, NoisyBar()))["below_bar"].to_list() == [None]
    high = triaged.with_columns(score=pl.lit(85.0))
    assert raised_bars(high, NoisyBar())["threshold"].to_list() == [80.0]
    # scores that spread keep the median (half of the dismissed alerts under it)
    spread = triaged.with_columns(score=pl.Series([40.0 + i for i in range(20)]))
    assert raised_bars(spread, NoisyBar())["threshold"].to_list() == [49.0]


def test_a_noisy_zone_leaves_its_kinds_bar_to_the_other_zones() -> None:
    """A watch zone drawn over a fishing ground is dismissed 20 of 20 times; the kind's bar is earned by the other
    zones' decisions alone: none while they are right, one when they are noisy too (but each too little judged
    for a bar of its own)."""
    fishing = ["entered watch zone Co To fishing ground"]
    noisy = [("zone_entry", "dismissed", "legitimate_activity", 40.0, fishing) for _ in range(20)]
    right = [("zone_entry", "confirmed", None, 40.0, [f"entered watch zone Border {i}"]) for i in range(3)]
    bars = raised_bars(_triaged(*noisy, *right), NoisyBar())
    assert bars.select("scope", "zone").rows() == [("zone", "Co To fishing ground")]
    wrong = [("zone_entry", "dismissed", "other", 40.0 + i, [f"entered watch zone Bay {i % 2}"]) for i in range(10)]
    (kind,) = raised_bars(_triaged(*noisy, *wrong), NoisyBar()).filter(pl.col("scope") == "kind").to_dicts()
    assert kind["said"] == "zone_entry alerts count from score 44 up: analysts dismissed 10 of 10 in the last 30 days"


def test_under_the_bar_an_alert_leaves_the_score_with_the_reason_and_comes_back_when_confirmations_do() -> None:
    vessels, days = _vessels()
    alerts = _alerts().with_columns(score=pl.when(pl.col("kind") == "ais_gap").then(50.0).otherwise("score"))
    before = Scorer().score(alerts, vessels, days)
    bars = raised_bars(_noisy_gaps(), NoisyBar())
    after = {r["mmsi"]: r for r in Scorer().score(alerts, vessels, days, bars=bars).iter_rows(named=True)}
    s = after[SMUGGLER]
    assert s["smuggling_score"] < before.filter(pl.col("mmsi") == SMUGGLER)["smuggling_score"].item()
    (minus,) = [r for r in s["smuggling_reasons"] if r.startswith("-")]
    assert minus.endswith("ais gap alert under the raised bar: ais_gap alerts count from score 67 up: analysts "
                          "dismissed 8 of 10 in the last 30 days")  # fmt: skip
    # an analyst's word on the alert itself outweighs the bar
    confirmed = Scorer().score(alerts, vessels, days, decisions=_decisions(("a1", "confirmed", None)), bars=bars)
    assert confirmed.equals(Scorer().score(alerts, vessels, days, decisions=_decisions(("a1", "confirmed", None))))
    # confirmations come: precision 8/16 is no longer low, the bar falls and the gap counts again
    recovered = pl.concat([_noisy_gaps(), _noisy_gaps(dismissed=0, confirmed=6)])
    assert raised_bars(recovered, NoisyBar()).height == 0
    assert Scorer().score(alerts, vessels, days, bars=raised_bars(recovered, NoisyBar())).equals(before)
    # a strong alert of the noisy kind still counts
    strong = alerts.with_columns(score=pl.when(pl.col("kind") == "ais_gap").then(75.0).otherwise("score"))
    assert Scorer().score(strong, vessels, days, bars=bars).equals(Scorer().score(strong, vessels, days))
