"""The scorer: the vessel risk table in its contract, reasons that add up to the score, the shipped models."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from engine.alerts import ALERT_SCHEMA, UTC_US
from models.features import DAY_FEATURES
from models.files import DEFAULT_DIR, EVIDENCE_FILE, ModelFile, load_model
from models.indicators import DECISION_SCHEMA, MUTE_SCHEMA, muted_alerts
from models.schema import VESSEL_SCHEMA, band_of
from models.scoring import ANALYSTS, EVIDENCE_FEATURES, SIMULATED, Scorer, data_end

T0 = datetime(2024, 6, 1, tzinfo=UTC)
SMUGGLER, PARTNER, QUIET, TANKER = 574000001, 574000002, 574000003, 574000004


def _alerts() -> pl.DataFrame:
    rows = [("encounter", SMUGGLER, TANKER, 90.0), ("ais_gap", SMUGGLER, None, 80.0),
            ("draught_change", SMUGGLER, None, 70.0), ("loitering", PARTNER, None, 60.0)]  # fmt: skip
    return pl.DataFrame(
        [{"alert_id": f"a{i}", "kind": k, "mmsi": m, "other_mmsi": o, "start": T0 + timedelta(hours=i),
          "end": T0 + timedelta(hours=i + 2), "lat": 20.0, "lon": 107.5, "score": s, "reasons": [f"{k} evidence"]}
         for i, (k, m, o, s) in enumerate(rows)],
        schema=ALERT_SCHEMA,
    )  # fmt: skip


def _vessels() -> tuple[pl.DataFrame, pl.DataFrame]:
    mmsi = [SMUGGLER, PARTNER, QUIET, TANKER]
    vessels = pl.DataFrame({
        "mmsi": mmsi, "first_seen": [T0] * 4, "last_seen": [T0 + timedelta(hours=23)] * 4, "lat": [20.0] * 4,
        "lon": [107.5] * 4, "positions": [900, 700, 800, 1000], "name": ["A", "B", "C", "D"],
        "callsign": ["AA", "BB", "CC", "DD"], "imo": [None] * 4, "ship_type": [30, 30, 70, 81],
    }, schema_overrides={"first_seen": UTC_US, "last_seen": UTC_US, "imo": pl.Int64})  # fmt: skip
    days = pl.DataFrame({"mmsi": mmsi, "day": [T0] * 4, "fixes": [900, 700, 800, 1000], "lat": [20.0] * 4,
                         "lon": [107.5] * 4, **{f: [0.1, 0.2, 0.3, 0.4] for f in DAY_FEATURES}},
                        schema_overrides={"day": UTC_US})  # fmt: skip
    return vessels, days


def _points(reasons: list[str]) -> int:
    return sum(int(m.group(1)) for r in reasons if (m := re.match(r"([+-]\d+) ", r)))


@pytest.mark.parametrize("models", [False, True], ids=["indicators", "shipped models"])
def test_the_table_follows_the_contract_and_reasons_add_up(models: bool) -> None:
    scorer = Scorer.with_default_models() if models else Scorer()
    vessels, days = _vessels()
    table = scorer.score(_alerts(), vessels, days)
    assert dict(table.schema) == VESSEL_SCHEMA
    by = {r["mmsi"]: r for r in table.iter_rows(named=True)}
    assert table["mmsi"][0] == SMUGGLER  # highest risk first
    s = by[SMUGGLER]
    assert s["smuggling_band"] in ("high", "critical") and s["band"] == band_of(max(s["smuggling_score"],
                                                                                      s["fire_score"]))  # fmt: skip
    # every point of the score is a reason (each rounded to a whole point)
    assert abs(_points(s["smuggling_reasons"]) - s["smuggling_score"]) <= len(s["smuggling_reasons"])
    assert by[QUIET]["smuggling_score"] == 0 and by[QUIET]["smuggling_reasons"] == []
    assert by[TANKER]["fire_score"] > by[SMUGGLER]["fire_score"] > 0  # hazard A tanker in a transfer
    assert any("hazard category A" in r for r in by[TANKER]["fire_reasons"])
    assert by[SMUGGLER]["alerts"] == 3 and by[TANKER]["alerts_encounter"] == 1  # the pair counts for both
    assert all(r.startswith(("smuggling ", "fire ")) for r in s["reasons"])


@pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models: run `make models`")
def test_the_shipped_models_load_and_say_how_they_were_made() -> None:
    meta = load_model(DEFAULT_DIR / EVIDENCE_FILE, EVIDENCE_FEATURES).metadata
    assert meta["command"].startswith("seawatch train") and meta["seeds"] and meta["positives"] > 0
    assert meta["held_out"]["model_ap"] >= 0.5  # far better than chance (the base rate is about 0.1)


def _with_labels(labels: str | None) -> Scorer:
    """The shipped models, with the evidence model's metadata saying its labels were ``labels``."""
    shipped = Scorer.with_default_models()
    assert shipped.evidence_model is not None
    meta = {k: v for k, v in shipped.evidence_model.metadata.items() if k != "labels"}
    if labels is not None:
        meta["labels"] = labels
    evidence = ModelFile(shipped.evidence_model.predictor, meta, shipped.evidence_model.path)
    return Scorer(unusual_model=shipped.unusual_model, evidence_model=evidence)


@pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models: run `make models`")
def test_a_model_trained_on_simulated_labels_is_a_capped_hint_that_claims_no_share() -> None:
    vessels, days = _vessels()
    hint = Scorer().learned.hint_points
    for labels in (None, SIMULATED):  # files from before the metadata said so were all simulated
        table = _with_labels(labels).score(_alerts(), vessels, days)
        assert set(table["learned_from"].drop_nulls().to_list()) == {SIMULATED}  # the vessels it scored
        assert table["learned_points"].abs().max() <= hint  # type: ignore[operator]
        said = [r for rs in table["smuggling_reasons"].to_list() for r in rs if "model" in r or "learned" in r]
        assert said and all("simulated traffic only" in r and "%" not in r for r in said)
    # the same model, were it trained on analysts' decisions, would move the loiterer further, and say how far
    analysts = _with_labels(ANALYSTS).score(_alerts(), vessels, days).filter(pl.col("mmsi") == PARTNER)
    capped = _with_labels(SIMULATED).score(_alerts(), vessels, days).filter(pl.col("mmsi") == PARTNER)
    assert analysts["learned_points"].item() > hint == capped["learned_points"].item()
    assert any("% of triaged vessels" in r for r in analysts["smuggling_reasons"][0])


def test_without_a_model_nothing_is_learned() -> None:
    vessels, days = _vessels()
    table = Scorer().score(_alerts(), vessels, days)
    assert table["learned_points"].null_count() == table.height and table["learned_from"].null_count() == table.height


DECIDED = T0 + timedelta(days=1, hours=10, minutes=5)


def _decisions(*rows: tuple[str, str, str | None]) -> pl.DataFrame:
    """(alert_id, status, reason code) decided by analyst 'le' at DECIDED"""
    return pl.DataFrame([{"alert_id": a, "status": s, "reason": r, "by": "le", "at": DECIDED} for a, s, r in rows],
                        schema=dict(DECISION_SCHEMA))  # fmt: skip


@pytest.mark.parametrize("models", [False, True], ids=["indicators", "shipped models"])
def test_a_dismissed_alert_stops_counting_and_the_reasons_say_who_when_and_why(models: bool) -> None:
    if models and not (DEFAULT_DIR / EVIDENCE_FILE).is_file():
        pytest.skip("no shipped models: run `make models`")
    scorer = Scorer.with_default_models() if models else Scorer()
    vessels, days = _vessels()
    before = {r["mmsi"]: r for r in scorer.score(_alerts(), vessels, days).iter_rows(named=True)}
    table = scorer.score(_alerts(), vessels, days, decisions=_decisions(("a1", "dismissed", "reception_problem")))
    after = {r["mmsi"]: r for r in table.iter_rows(named=True)}
    s = after[SMUGGLER]
    assert s["smuggling_score"] < before[SMUGGLER]["smuggling_score"]
    # the gap's points, then the same points taken off by the dismissal: the reasons still add up to the score
    (minus,) = [r for r in s["smuggling_reasons"] if r.startswith("-")]
    assert minus.endswith("ais gap alert dismissed by analyst 'le' at 2024-06-02 10:05 UTC: reception problem")
    plus = s["smuggling_reasons"][s["smuggling_reasons"].index(minus) - 1]
    assert plus.startswith(f"+{minus[1:].split()[0]} went dark (") and "ais_gap evidence" in plus
    assert abs(_points(s["smuggling_reasons"]) - s["smuggling_score"]) <= len(s["smuggling_reasons"])
    # as if the detector had never raised it (the learned model sees the same evidence)
    without = scorer.score(
        _alerts().filter(pl.col("alert_id") != "a1"), vessels, days, asof=data_end(_alerts(), vessels)
    )
    assert s["smuggling_score"] == without.filter(pl.col("mmsi") == SMUGGLER)["smuggling_score"].item()
    assert after[PARTNER] == before[PARTNER]  # nobody else's score moves
    assert s["alerts"] == 3  # still one of the vessel's alerts


def test_a_dismissed_transfer_leaves_both_vessels_fire_scores() -> None:
    vessels, days = _vessels()
    before = Scorer().score(_alerts(), vessels, days)
    after = Scorer().score(_alerts(), vessels, days, decisions=_decisions(("a0", "dismissed", "legitimate_activity")))
    for mmsi in (SMUGGLER, TANKER):
        b, a = (t.filter(pl.col("mmsi") == mmsi).row(0, named=True) for t in (before, after))
        assert a["fire_score"] < b["fire_score"]
        assert any("encounter alert dismissed by analyst 'le'" in r and r.endswith("legitimate activity")
                   for r in a["fire_reasons"])  # fmt: skip
        assert abs(_points(a["fire_reasons"]) - a["fire_score"]) <= len(a["fire_reasons"])
    # the tanker's cargo is not an alert: it still counts
    assert after.filter(pl.col("mmsi") == TANKER)["fire_score"].item() > 0


def test_a_confirmed_alert_counts_at_full_strength_and_does_not_age() -> None:
    vessels, days = _vessels()
    later = T0 + timedelta(days=28)  # two half-lives: the loitering is worth a quarter of its points by then
    confirmed = _decisions(("a3", "confirmed", None))
    for asof in (None, later):
        before = (
            Scorer().score(_alerts(), vessels, days, asof=asof).filter(pl.col("mmsi") == PARTNER).row(0, named=True)
        )
        after = Scorer().score(_alerts(), vessels, days, asof=asof, decisions=confirmed)
        p = after.filter(pl.col("mmsi") == PARTNER).row(0, named=True)
        assert p["smuggling_score"] > before["smuggling_score"]
        assert p["smuggling_score"] == pytest.approx(Scorer().weights.smuggling["loitering"], abs=0.05)
        (line,) = p["smuggling_reasons"]
        assert (
            line.startswith("+15 loitered at sea (") and ", confirmed by analyst 'le' at 2024-06-02 10:05 UTC: " in line
        )
    # escalated and reopened alerts count as the detector said
    same = Scorer().score(
        _alerts(), vessels, days, decisions=_decisions(("a3", "escalated", None), ("a1", "new", None))
    )
    assert same.equals(Scorer().score(_alerts(), vessels, days))


def test_decisions_about_other_alerts_change_nothing() -> None:
    vessels, days = _vessels()
    base = Scorer().score(_alerts(), vessels, days)
    assert Scorer().score(_alerts(), vessels, days, decisions=_decisions(("gone", "dismissed", "other"))).equals(base)
    assert Scorer().score(_alerts(), vessels, days, decisions=pl.DataFrame(schema=dict(DECISION_SCHEMA))).equals(base)


MUTED_UNTIL = T0 + timedelta(days=20)


def _mutes(*rows: dict[str, object]) -> pl.DataFrame:
    """Mutes in force by analyst 'le' until MUTED_UNTIL; each row gives pattern and what it matches."""
    base = {"kind": None, "mmsi": None, "other_mmsi": None, "zone": None, "station": None, "by": "le",
            "reason": "legitimate bunkering barge", "expires_at": MUTED_UNTIL}  # fmt: skip
    return pl.DataFrame([base | {"mute_id": i + 1} | r for i, r in enumerate(rows)], schema=dict(MUTE_SCHEMA))


def test_a_muted_alert_stops_counting_and_the_reasons_name_the_mute() -> None:
    vessels, days = _vessels()
    before = {r["mmsi"]: r for r in Scorer().score(_alerts(), vessels, days).iter_rows(named=True)}
    mutes = _mutes({"pattern": "vessel", "kind": "ais_gap", "mmsi": SMUGGLER})
    after = {r["mmsi"]: r for r in Scorer().score(_alerts(), vessels, days, mutes=mutes).iter_rows(named=True)}
    s = after[SMUGGLER]
    assert s["smuggling_score"] < before[SMUGGLER]["smuggling_score"]
    (minus,) = [r for r in s["smuggling_reasons"] if r.startswith("-")]
    assert minus.endswith(
        "ais gap alert muted by analyst 'le' until 2024-06-21 00:00 UTC: legitimate bunkering barge"
    ), minus
    # the vessel's other kinds still count: the transfer, the draught change
    assert any("ship-to-ship transfer" in r for r in s["smuggling_reasons"] if r.startswith("+"))
    assert any("draught changed at sea" in r for r in s["smuggling_reasons"])
    without = Scorer().score(
        _alerts().filter(pl.col("alert_id") != "a1"), vessels, days, asof=data_end(_alerts(), vessels)
    )
    assert s["smuggling_score"] == without.filter(pl.col("mmsi") == SMUGGLER)["smuggling_score"].item()
    assert after[PARTNER] == before[PARTNER]


def test_a_pair_mute_matches_either_order_and_leaves_other_pairs() -> None:
    vessels, days = _vessels()
    before = Scorer().score(_alerts(), vessels, days)
    for a, b in ((SMUGGLER, TANKER), (TANKER, SMUGGLER)):
        after = Scorer().score(_alerts(), vessels, days, mutes=_mutes({"pattern": "pair", "mmsi": a, "other_mmsi": b}))
        for mmsi in (SMUGGLER, TANKER):  # both vessels lose the transfer, in both scores
            old, new = (t.filter(pl.col("mmsi") == mmsi).row(0, named=True) for t in (before, after))
            assert new["fire_score"] < old["fire_score"]
            assert any("encounter alert muted by analyst 'le'" in r for r in new["fire_reasons"])
    other_pair = _mutes({"pattern": "pair", "mmsi": SMUGGLER, "other_mmsi": PARTNER})
    assert Scorer().score(_alerts(), vessels, days, mutes=other_pair).equals(before)


def test_zone_and_station_mutes_match_the_reasons_exactly() -> None:
    vessels, days = _vessels()
    alerts = _alerts().with_columns(
        kind=pl.Series(["encounter", "ais_gap", "zone_entry", "zone_entry"]),
        reasons=pl.Series([["close"], ["dark 5.0 h in good coverage after station CT01 came back at 10:00",
                                       "silent since 04:00; station CT01 heard 0 of its usual ~240 messages"],
                           ["entered restricted zone Ha Long"], ["entered restricted zone Ha Long Bay"]]),
    )  # fmt: skip
    muted = muted_alerts(alerts, _mutes({"pattern": "zone", "kind": "zone_entry", "zone": "Ha Long"},
                                        {"pattern": "station", "kind": "ais_gap", "station": "CT01"}))  # fmt: skip
    assert muted["mute_id"].to_list() == [None, 2, 1, None]
    assert muted_alerts(alerts, _mutes({"pattern": "station", "kind": "ais_gap", "station": "CT0"}))[
        "mute_id"].null_count() == 4  # fmt: skip
    # a confirmation of the alert itself outweighs a mute of its pattern
    mutes = _mutes({"pattern": "zone", "kind": "zone_entry", "zone": "Ha Long Bay"})
    assert not Scorer().score(alerts, vessels, days, mutes=mutes).equals(Scorer().score(alerts, vessels, days))
    confirmed = Scorer().score(alerts, vessels, days, decisions=_decisions(("a3", "confirmed", None)))
    both = Scorer().score(alerts, vessels, days, decisions=_decisions(("a3", "confirmed", None)), mutes=mutes)
    assert both.equals(confirmed)


@pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models: run `make models`")
def test_a_model_trained_on_few_analysts_decisions_moves_a_score_at_most_ten_points_and_says_how_many() -> None:
    vessels, days = _vessels()
    shipped = _with_labels(ANALYSTS)
    assert shipped.evidence_model is not None
    few, many = Scorer().learned.few_decisions_points, Scorer().learned.analyst_decisions
    tables = {}
    for n in (60, many):
        meta = {**shipped.evidence_model.metadata, "decisions_trained": n}
        model = ModelFile(shipped.evidence_model.predictor, meta, shipped.evidence_model.path)
        tables[n] = Scorer(unusual_model=shipped.unusual_model, evidence_model=model).score(_alerts(), vessels, days)
    assert tables[60]["learned_points"].abs().max() <= few  # type: ignore[operator]
    said = [r for rs in tables[60]["smuggling_reasons"].to_list() for r in rs if "learned from" in r]
    assert said and all("learned from 60 analysts' decisions: " in r for r in said)
    assert tables[many]["learned_points"].abs().max() > few  # type: ignore[operator]  # uncapped from 200 on
