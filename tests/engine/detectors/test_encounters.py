"""Encounters: the grid-hash pairing against all pairs (fixed edge cases and Hypothesis), the detector on made-up
meetings, and stream = batch on a simulated scenario."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.dark_partners import Flat, _partner_seen
from engine.detectors.encounters import EncounterDetector, EncounterSettings
from engine.detectors.gaps import GapDetector
from engine.detectors.pairs import KM_PER_DEG, close_pairs
from engine.detectors.transfers import median_kn
from engine.geo.regions import load_pack
from engine.runner import Engine
from tests import reference as ref
from tests.engine.detectors.scenario import T0, chunked_alerts, empty_tables, framed_alerts, positions, simulated


def pairs_of(lat: list[float], lon: list[float], km: float = 0.5) -> list[tuple[int, int]]:
    i, j, d = close_pairs(np.array(lat, float), np.array(lon, float), km)
    assert np.all(d <= km)
    return list(zip(i.tolist(), j.tolist(), strict=True))


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        ([], []),  # nothing
        ([20.0], [108.0]),  # one ping
        ([20.0, 20.0, 20.0], [108.0, 108.0, 108.0]),  # duplicates
        ([20.0, math.nan, 20.001], [108.0, 108.0, math.nan]),  # NaN never pairs
        ([10.0, 10.0, 10.001], [179.999, -179.999, -179.998]),  # across the antimeridian
        ([60.0, 60.0], [0.0, 0.008]),  # high latitude: several longitude cells apart but 0.45 km
        ([-90.0 + 0.5 / KM_PER_DEG * 100, -90.0 + 0.5 / KM_PER_DEG * 101], [5.0, 5.0]),  # exactly on cell borders
        ([20.0, 20.0 + 0.5 / KM_PER_DEG], [108.0, 108.0]),  # exactly max_km apart (within rounding)
        ([89.5, 89.5], [0.0, 10.0]),  # near the pole
    ],
)
def test_pairs_match_all_pairs_on_edge_cases(lat: list[float], lon: list[float]) -> None:
    assert pairs_of(lat, lon) == ref.close_pairs(lat, lon, 0.5)


def test_pairs_reject_a_bad_distance() -> None:
    with pytest.raises(ValueError, match="max_km"):
        close_pairs(np.zeros(2), np.zeros(2), 0.0)


centre = st.tuples(st.floats(-80, 80), st.sampled_from([-180.0, -179.99, 0.0, 108.0, 179.99, 180.0]))
offsets = st.lists(st.tuples(st.floats(-0.01, 0.01), st.floats(-0.02, 0.02)), min_size=0, max_size=40)


@settings(max_examples=150, deadline=None)
@given(centre, offsets, st.sampled_from([0.1, 0.5, 2.0]))
def test_pairs_match_all_pairs_on_clusters(c: tuple[float, float], offs: list[tuple[float, float]], km: float) -> None:
    lat = [c[0] + a for a, _ in offs]
    lon = [c[1] + b for _, b in offs]
    got = pairs_of(lat, lon, km)
    want = ref.close_pairs(lat, lon, km)
    # a pair within 1e-9 km of max_km may fall either side of it with rounding
    near_edge = {
        (i, j)
        for i in range(len(lat))
        for j in range(i + 1, len(lat))
        if abs(ref.haversine_km(lat[i], lon[i], lat[j], lon[j]) - km) < 1e-9
    }
    assert set(got) - near_edge == set(want) - near_edge


def meeting(hours: float, kn: float, lat: float = 20.2, lon: float = 108.3, apart_km: float = 0.2,
            start_h: float = 0.0, jitter_m: float = 0.0) -> pl.DataFrame:  # fmt: skip
    """Two vessels side by side (one ``apart_km`` north of the other) for ``hours`` from ``start_h``, reporting each
    minute; each fix off by ``jitter_m`` (standard deviation, north and east) as GPS fixes are."""
    t = start_h * 3600 + np.arange(0, int(hours * 60)) * 60.0
    rng = np.random.default_rng(5)
    rows = []
    for mmsi, dlat in ((574000002, 0.0), (574000001, apart_km / KM_PER_DEG)):
        drift = kn * 1.852 / KM_PER_DEG / 3600.0 * (t - t[0])
        noise = rng.normal(0.0, jitter_m / 1000 / KM_PER_DEG, (2, t.shape[0]))
        rows.append(positions(mmsi, t, lat + dlat + drift + noise[0], lon + noise[1] / math.cos(math.radians(lat)),
                              sog=kn))  # fmt: skip
    return pl.concat(rows).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


NIGHT_H = 13.0  # hours after T0 (00:00 UTC) when it is night in the Gulf of Tonkin (20:00 local)


def typed(table: pl.DataFrame, types: dict[int, int]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Positions, statics saying each vessel's ship type (a type 5 report a minute before its first fix), events:
    numbered in time order, as a feed delivers them."""
    schema = empty_tables()[0].schema
    first = table.group_by("mmsi").agg(pl.col("t").min()).sort("mmsi")
    n = first.height
    data = {"mmsi": first["mmsi"], "t": first["t"] - timedelta(minutes=1), "msg_type": np.full(n, 5, np.int8),
            "ship_type": [types.get(m, -1) for m in first["mmsi"]]}  # fmt: skip
    statics = pl.DataFrame([pl.Series(k, data[k]) if k in data else pl.Series(k, [None] * n) for k in schema])
    statics = statics.cast(dict(schema))  # type: ignore[arg-type]
    rows = pl.concat([statics.select("t").with_columns(kind=pl.lit(0)), table.select("t").with_columns(kind=pl.lit(1))])
    order = rows.with_row_index("i").sort("t", "kind")["i"].to_numpy()
    seq = np.empty(order.shape[0], np.int64)
    seq[order] = np.arange(order.shape[0])
    return table.with_columns(seq=seq[n:]), statics.with_columns(seq=seq[:n]), empty_tables()[1]


def run(table: pl.DataFrame, detector: EncounterDetector, types: dict[int, int] | None = None) -> pl.DataFrame:
    engine = Engine([detector])
    engine.process(*(typed(table, types) if types else (table, *empty_tables())))
    engine.finish()
    return engine.alerts()


TANKER, FISHING, PILOT, CARGO = 80, 30, 50, 70  # ITU-R M.1371 ship types
A, B = 574000001, 574000002  # the pair of meeting()


PLACES = load_pack("gulf-of-tonkin").places


def test_a_slow_meeting_offshore_is_one_encounter_with_both_vessels() -> None:
    alerts = run(meeting(3.0, 0.5), EncounterDetector(PLACES))
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert (row["kind"], row["mmsi"], row["other_mmsi"]) == ("encounter", 574000001, 574000002)
    hours = (row["end"] - row["start"]).total_seconds() / 3600
    assert 2.5 < hours <= 3.0
    assert any("0.5 and 0.5 kn" in r for r in row["reasons"])
    assert any("km from the nearest port" in r for r in row["reasons"])


@pytest.mark.parametrize(
    ("hours", "kn", "apart", "where"),
    [
        (1.5, 0.5, 0.2, (20.2, 108.3)),  # too short
        (3.0, 5.0, 0.2, (20.2, 108.3)),  # too fast: convoy, not a transfer
        (3.0, 0.5, 0.8, (20.2, 108.3)),  # too far apart
        (3.0, 0.5, 0.2, None),  # in port
    ],
)
def test_no_encounter_when_a_condition_fails(hours: float, kn: float, apart: float, where: tuple | None) -> None:
    if where is None:
        port = int(np.flatnonzero(PLACES.kinds == "port")[0])
        where = (float(PLACES.lat[port]), float(PLACES.lon[port]))
    assert run(meeting(hours, kn, where[0], where[1], apart_km=apart), EncounterDetector(PLACES)).height == 0


def test_settings_change_the_thresholds() -> None:
    loose = EncounterSettings(min_h=1.0)
    assert run(meeting(1.5, 0.5), EncounterDetector(PLACES, loose)).height == 1


def test_a_vessel_dark_beside_a_waiting_one_is_an_encounter() -> None:
    table = meeting(4.0, 0.3)
    t = table["t"].dt.epoch("s") - T0
    dark = (table["mmsi"] == 574000001) & (t > 1800) & (t < 3.5 * 3600)
    alerts = run(table.filter(~dark), EncounterDetector(PLACES))
    assert alerts.height == 1
    assert any("dark throughout" in r for r in alerts["reasons"][0])


def sailed_dark(reappear_after_h: float, reappear_km: float) -> pl.DataFrame:
    """A tanker (A) stopped at sea 4-7.5 h after T0; a fishing boat (B) at 8 kn heard until 1.5 h, 30 km north of
    the stop and heading for it, then dark until ``reappear_after_h`` after the stop's end, ``reappear_km`` south."""
    lat, lon = 20.2, 108.3
    t_a = np.arange(2 * 3600, int(7.5 * 3600), 60.0)
    approach = np.clip((4 * 3600 - t_a) * 10 * 1.852 / KM_PER_DEG / 3600, 0, None)  # 10 kn from the west, then still
    tanker = positions(A, t_a, np.full(t_a.shape, lat), lon - approach, sog=0.3)
    kn_deg = 8 * 1.852 / KM_PER_DEG / 3600
    before = np.arange(0.0, 1.5 * 3600, 60.0)
    north = lat + 30 / KM_PER_DEG + (1.5 * 3600 - before) * kn_deg
    back = (7.5 + reappear_after_h) * 3600 + np.arange(0.0, 3600, 60.0)
    south = lat - reappear_km / KM_PER_DEG - (back - back[0]) * kn_deg
    boat = pl.concat([positions(B, before, north, np.full(before.shape, lon), sog=8.0),
                      positions(B, back, south, np.full(back.shape, lon), sog=8.0)])  # fmt: skip
    return pl.concat([tanker, boat]).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 30), st.just(math.nan), st.sampled_from([0.0, 1.5, 2.0, math.inf])),
                max_size=40))  # fmt: skip
def test_median_speed_is_numpys(speeds: list[float]) -> None:
    want = float(np.nanmedian(speeds)) if speeds and not np.all(np.isnan(speeds)) else math.nan
    got = median_kn(speeds)
    assert (math.isnan(got) and math.isnan(want)) or got == want


slice_rows = st.lists(st.tuples(st.integers(0, 4), st.floats(-1, 1)), max_size=6)  # (vid, a value) a slow vessel


@settings(max_examples=150, deadline=None)
@given(st.lists(slice_rows, max_size=5), st.lists(slice_rows, max_size=6), st.integers(0, 4), st.integers(-1, 12),
       st.integers(-1, 12), st.integers(0, 3), st.integers(-1, 12), st.integers(-1, 12),
       st.integers(0, 12))  # fmt: skip
def test_the_dark_partner_walk_matches_the_reference(old: list, new: list, a: int, lo_s: int, hi_s: int,
                                                     max_missed: int, s0: int, s1: int,
                                                     dropped: int) -> None:  # fmt: skip
    """The slow-vessel lists laid flat (the old entries, then the walk's) hold what the lists hold; the walk
    through the slices a vessel was in (the compiled kernel) is the slice-by-slice one."""

    def cols(rows: list) -> list[np.ndarray]:  # vid, lat, lon, speed, type
        v = np.array([r[1] for r in rows], np.float64)
        return [np.array([r[0] for r in rows], np.int64), v, v + 1, v + 2, v + 3]

    entries = [(k, *cols(rows)) for k, rows in enumerate(old)]
    new_off = np.concatenate(([0], np.cumsum([len(rows) for rows in new]))).astype(np.int64)
    flat = Flat.of(entries, len(old), new_off, cols([r for rows in new for r in rows]))
    every = entries + [(len(old) + k, *cols(rows)) for k, rows in enumerate(new)]
    flat.hi = len(every)
    flat.lo = min(dropped, flat.hi)  # the list without its oldest entries
    listed = [e for e in every[flat.lo :] if s0 <= e[0] < s1]
    chosen = flat.within(s0, s1)
    assert flat.number[chosen].tolist() == [e[0] for e in listed]
    for part, want_entries in ((chosen, listed), (chosen[::2], listed[::2])):  # the rows of entries that follow or not
        assert flat.cols[0][flat.rows(part)].tolist() == [x for e in want_entries for x in e[1].tolist()]
    got_s, got_f = _partner_seen(a, chosen, flat.number, flat.off, *flat.cols, lo_s, hi_s, max_missed)
    slices = [(e[0], list(zip(*(c.tolist() for c in e[1:]), strict=True))) for e in listed]
    want = ref.partner_seen(slices, a, lo_s, hi_s, max_missed)
    assert [(s, *f) for s, f in zip(got_s.tolist(), got_f.tolist(), strict=True)] == want


def test_a_vessel_that_sailed_to_a_stopped_tanker_dark_is_its_partner() -> None:
    table = sailed_dark(0.5, 6.0)
    alerts = run(table, EncounterDetector(PLACES), {A: TANKER, B: FISHING})
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert (row["mmsi"], row["other_mmsi"]) == (A, B)
    assert row["score"] <= 70.0  # inferred, never seen together
    words = " ".join(row["reasons"])
    assert f"{B} was dark while {A} stayed slow at sea" in words
    assert re.search(r"vanished 3\d km away [\d.]+ h before and reappeared 6 km away \d+ min after the meeting", words)
    # streamed in two parts, as a live feed arrives, the same alert
    engine = Engine([EncounterDetector(PLACES)])
    pos, statics, events = typed(table, {A: TANKER, B: FISHING})
    cut = int(pos["seq"][pos.height // 2])
    engine.process(pos.filter(pl.col("seq") < cut), statics, events)
    engine.process(pos.filter(pl.col("seq") >= cut), statics.head(0), events)
    engine.finish()
    assert engine.alerts().equals(alerts)


@pytest.mark.parametrize(
    ("after_h", "km"),
    [
        (3.0, 6.0),  # back on hours after the stop ended: its silence is not tied to this meeting
        (0.5, 40.0),  # reappeared farther than it can sail in 30 min at 8 kn (+25 %)
    ],
)
def test_no_dark_partner_when_the_route_does_not_fit(after_h: float, km: float) -> None:
    assert run(sailed_dark(after_h, km), EncounterDetector(PLACES), {A: TANKER, B: FISHING}).height == 0


def test_an_hour_alongside_is_a_transfer() -> None:
    """1 h at ~80 m (fixes jittered by 25 m, so some are 150 m apart) is too short for an encounter (2 h) but is a
    transfer; its reasons give the distances, speeds, ship types and the night."""
    table = meeting(1.0, 0.4, apart_km=0.08, start_h=NIGHT_H, jitter_m=25.0)
    alerts = run(table, EncounterDetector(PLACES), {A: TANKER, B: FISHING})
    assert alerts.height == 1
    why = alerts["reasons"][0]
    assert why[0].startswith(f"ship-to-ship transfer: {A} and {B} alongside for ")
    assert "typical" in why[0] and "closest" in why[0]
    assert "median speeds 0.4 and 0.4 kn" in why
    assert "ship types 80 (tanker) and 30 (fishing)" in why
    assert any("at night" in r for r in why)
    assert 55 <= alerts["score"][0] <= 100
    # the same hour 300 m apart is neither: not alongside, and too short for an encounter
    assert run(meeting(1.0, 0.4, apart_km=0.3, start_h=NIGHT_H), EncounterDetector(PLACES), {A: TANKER}).height == 0


def test_a_transfer_needs_the_time_alongside() -> None:
    """Alongside for 30 min: below transfer_min (45 min); the setting lowers it."""
    table = meeting(0.5, 0.4, apart_km=0.08)
    assert run(table, EncounterDetector(PLACES), {A: TANKER, B: TANKER}).height == 0
    quick = EncounterSettings(transfer_min=20.0)
    assert run(table, EncounterDetector(PLACES, quick), {A: TANKER, B: TANKER}).height == 1


def test_fishing_boats_drifting_near_each_other_are_no_encounter() -> None:
    """Two fishing boats 300 m apart drifting 4 h at night: fishing together, not a GFW encounter."""
    table = meeting(4.0, 0.4, apart_km=0.3, start_h=NIGHT_H, jitter_m=25.0)
    assert run(table, EncounterDetector(PLACES), {A: FISHING, B: FISHING}).height == 0
    # the same with unknown types (no static report heard) is still an encounter, as GFW reports it
    assert run(table, EncounterDetector(PLACES)).height == 1


def test_fishing_boats_alongside_are_a_transfer() -> None:
    """Fuel goes to converted fishing boats from other fishing boats too: alongside, the fishing rule gives way."""
    alerts = run(meeting(1.5, 0.3, apart_km=0.06), EncounterDetector(PLACES), {A: FISHING, B: FISHING})
    assert alerts.height == 1
    assert alerts["reasons"][0][0].startswith("ship-to-ship transfer")


def test_fishing_boats_gathering_then_drifting_apart_are_no_transfer() -> None:
    """Boats that come within 40 m for 30 min, then drift 250 m apart for 3 h, were never alongside for long:
    within no 50 min were they close most of the time (a low percentile of the separation would say alongside)."""
    close = meeting(0.5, 0.3, apart_km=0.04, start_h=NIGHT_H)
    apart = meeting(3.0, 0.3, apart_km=0.25, start_h=NIGHT_H + 0.5)
    table = pl.concat([close, apart]).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    assert run(table, EncounterDetector(PLACES), {A: FISHING, B: FISHING}).height == 0


def test_pair_trawlers_hauling_side_by_side_are_no_transfer() -> None:
    """Two fishing boats 80 m apart towing at 3.5 kn for 4 h, then side by side at 0.3 kn for 1 h to haul: their
    meeting as a whole is at trawling speed, so the hour alongside is their work. A tanker doing the same is not."""
    tow = meeting(4.0, 3.5, apart_km=0.08, start_h=NIGHT_H)
    last = tow.filter(pl.col("mmsi") == B)["lat"][-1]
    haul = meeting(1.0, 0.3, lat=float(last), apart_km=0.08, start_h=NIGHT_H + 4.0)
    table = pl.concat([tow, haul]).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    assert run(table, EncounterDetector(PLACES), {A: FISHING, B: FISHING}).height == 0
    assert run(table, EncounterDetector(PLACES), {A: FISHING, B: TANKER}).height == 1


def test_a_vessel_of_unknown_type_among_fishing_boats_is_one_of_them() -> None:
    """A vessel that never said its type, drifting 4 h 300 m from two fishing boats at once (one north, one south),
    fishes with them; beside a single fishing boat it is an encounter (GFW counts unknown types)."""
    pair = meeting(4.0, 0.3, apart_km=0.3, start_h=NIGHT_H)  # A 300 m north of B
    south = pair.filter(pl.col("mmsi") == B).with_columns(pl.lit(574000003, pl.Int64).alias("mmsi"),
                                                           pl.col("lat") - 0.3 / KM_PER_DEG)  # fmt: skip
    group = pl.concat([pair, south]).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    assert run(group, EncounterDetector(PLACES), {A: FISHING, 574000003: FISHING}).height == 0
    alerts = run(pair, EncounterDetector(PLACES), {A: FISHING})
    assert alerts.height == 1
    assert "ship types 30 (fishing) and unknown" in alerts["reasons"][0]


def test_a_tanker_near_a_fishing_boat_for_hours_is_an_encounter() -> None:
    alerts = run(meeting(3.0, 0.4, apart_km=0.3, jitter_m=25.0), EncounterDetector(PLACES), {A: TANKER, B: FISHING})
    assert alerts.height == 1
    why = alerts["reasons"][0]
    assert why[0].startswith(f"encounter: {A} and {B} within 0.5 km for ")
    assert "ship types 80 (tanker) and 30 (fishing)" in why


@pytest.mark.parametrize("service", [PILOT, 52, 53, 51, 55, 31])
def test_a_service_vessel_alongside_a_ship_is_its_work(service: int) -> None:
    """A pilot boat (tug, tender, SAR, law enforcement, towing) alongside a ship at sea, for 3 h: no alert."""
    table = meeting(3.0, 0.4, apart_km=0.05, start_h=NIGHT_H)
    assert run(table, EncounterDetector(PLACES), {A: CARGO, B: TANKER}).height == 1  # the same with a cargo ship
    assert run(table, EncounterDetector(PLACES), {A: CARGO, B: service}).height == 0
    assert run(table, EncounterDetector(PLACES, EncounterSettings(service_types=())), {A: CARGO, B: service}).height


def test_a_transfer_with_lost_reports_is_found() -> None:
    """Class B reports with 30 % lost and gaps of up to 20 min: the window takes the slices it has."""
    table = meeting(1.2, 0.4, apart_km=0.08, jitter_m=20.0)
    keep = np.random.default_rng(3).random(table.height) > 0.3
    t = (table["t"].dt.epoch("s") - T0).to_numpy()
    keep &= ~((t > 1200) & (t < 2400))  # a fade of 20 min
    alerts = run(table.filter(keep), EncounterDetector(PLACES), {A: TANKER, B: FISHING})
    assert alerts.height == 1
    assert alerts["reasons"][0][0].startswith("ship-to-ship transfer")


def test_stream_equals_batch_with_ship_types_and_a_restore() -> None:
    """A transfer and a pilot boat's work, cut in random chunks and through a snapshot: the same alerts. The ship
    type is kept in the state: a pilot boat heard naming its type only before the cut stays a pilot boat."""
    pair = meeting(2.5, 0.4, apart_km=0.07, start_h=NIGHT_H, jitter_m=20.0)
    pilot = pair.with_columns(pl.col("mmsi") + 10, pl.col("lat") + 0.5)  # 574000011/12, 55 km north
    table = pl.concat([pair, pilot]).sort("t").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    pos, sta, ev = typed(table, {A: TANKER, B: FISHING, A + 10: CARGO, B + 10: PILOT})
    whole = Engine([EncounterDetector(PLACES)])
    whole.process(pos, sta, ev)
    whole.finish()
    want = whole.alerts()
    assert want.height == 1 and set(want["mmsi"]) == {A}
    rng = np.random.default_rng(11)
    cuts = np.sort(rng.choice(np.arange(1, pos.height), 9, replace=False))
    engine = Engine([EncounterDetector(PLACES)])
    for k, (lo, hi) in enumerate(zip([0, *cuts.tolist()], [*cuts.tolist(), pos.height + sta.height], strict=True)):
        engine.process(pos.filter(pl.col("seq").is_between(lo, hi - 1)),
                       sta.filter(pl.col("seq").is_between(lo, hi - 1)), ev)  # fmt: skip
        if k == 4:
            restored = EncounterDetector(PLACES)
            restored.restore(engine.detectors[0].snapshot())
            engine.detectors = [restored]
    engine.finish()
    assert engine.alerts().equals(want)


def test_stream_equals_batch_on_a_simulated_scenario() -> None:
    sim = simulated()
    batch = chunked_alerts(sim, lambda: [EncounterDetector(PLACES)], chunks=1)
    assert batch.filter(pl.col("kind") == "encounter").height >= 1
    for seed in (1, 2):
        assert chunked_alerts(sim, lambda: [EncounterDetector(PLACES)], chunks=17, seed=seed).equals(batch)


def test_recall_on_a_simulated_scenario() -> None:
    sim = simulated()
    alerts = chunked_alerts(sim, lambda: [EncounterDetector(PLACES)], chunks=1)
    labels = sim.labels.filter(pl.col("kind") == "encounter")
    found = 0
    for lab in labels.iter_rows(named=True):
        pair = {lab["mmsi"], lab["other_mmsi"]}
        found += any({a["mmsi"], a["other_mmsi"]} == pair for a in alerts.iter_rows(named=True))
    assert found == labels.height


def test_snapshot_and_restore_keep_the_state() -> None:
    table = meeting(3.0, 0.5)
    whole = run(table, EncounterDetector(PLACES))
    half = table.height // 2
    first = EncounterDetector(PLACES)
    engine = Engine([first])
    engine.process(table[:half], *empty_tables())
    second = EncounterDetector(PLACES)
    second.restore(first.snapshot())
    engine.detectors = [second]
    engine.process(table[half:], *empty_tables())
    engine.finish()
    assert engine.alerts().equals(whole)


def test_snapshot_and_restore_keep_a_dark_partner_search() -> None:
    sim = simulated()
    make = lambda: EncounterDetector(PLACES)  # noqa: E731
    whole = chunked_alerts(sim, lambda: [make()], chunks=1)
    engine = Engine([make()])
    tables = (sim.positions, sim.statics, sim.events)
    cut = int(sim.positions["seq"].max()) // 2  # type: ignore[operator]
    engine.process(*(t.filter(pl.col("seq") < cut) for t in tables))
    restored = make()
    restored.restore(engine.detectors[0].snapshot())
    engine.detectors = [restored]
    engine.process(*(t.filter(pl.col("seq") >= cut) for t in tables))
    engine.finish()
    assert engine.alerts().equals(whole)


def test_the_buffer_holds_two_fixes_a_vessel_a_slice_while_streaming() -> None:
    """A long-running service (issue 14): the fixes waiting for their slices are thinned to the first and the last
    of each vessel in each slice (all the alignment reads), so the buffer does not grow with the reporting rate."""
    table = meeting(5.0, 0.5)
    detector = EncounterDetector(PLACES)
    engine = Engine([detector], lateness_s=0.0)
    s = detector.settings
    pending = math.ceil(s.interp_h * 60 / s.slice_min) + 2  # slices not yet walked: the look-ahead, and two open
    most = 0
    for k in range(0, table.height, 20):  # ten minutes of both vessels' fixes a step
        engine.process(table[k : k + 20], *empty_tables())
        most = max(most, detector.buffer["t"].shape[0])
    assert 0 < most <= 2 * 2 * pending < table.height  # two vessels, two fixes a slice
    engine.finish()
    assert engine.alerts().equals(run(table, EncounterDetector(PLACES)))


def test_sparse_fixes_are_interpolated_between_slices() -> None:
    table = meeting(3.0, 0.5)
    t = table["t"].dt.epoch("s") - T0
    sparse = table.filter((t % 5400 < 60) | (t > 3 * 3600 - 120))  # a fix every 90 min (satellite passes)
    assert run(sparse, EncounterDetector(PLACES)).height == 1
    assert run(sparse, EncounterDetector(PLACES, EncounterSettings(interp_h=0.0))).height == 0


def test_stream_equals_batch_with_the_feed_framed_in_random_chunks() -> None:
    sim = simulated()
    make = lambda: [GapDetector(), EncounterDetector(PLACES)]  # noqa: E731
    batch = framed_alerts(sim.feed, make, chunks=1)
    assert set(batch["kind"]) == {"ais_gap", "encounter"}
    assert framed_alerts(sim.feed, make, chunks=41, seed=3).equals(batch)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=50), st.integers(0, 50), st.booleans())
def test_vessel_order_matches_the_reference(rows: list[tuple[int, int]], cut: int, nearly: bool) -> None:
    """A buffer as the detector holds it (earlier rows by vessel and time, then a step's later ones, the same way)
    takes the counting sort; any other order the fallback: both give the reference's order."""
    from engine.detectors.encounters import vessel_order

    if nearly:
        cut = min(cut, len(rows))
        old = sorted(rows[:cut])
        rows = old + sorted((v, t + 100) for v, t in rows[cut:])
    vid = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    assert vessel_order(vid, t, 4).tolist() == ref.vessel_order(vid.tolist(), t.tolist())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180), st.floats(0, 0.5)), max_size=30),
       st.lists(st.integers(0, 30), max_size=6), st.integers(0, 2**31))  # fmt: skip
def test_run_sums_add_row_by_row(rows: list[tuple[float, float, float]], cuts: list[int], seed: int) -> None:
    """Exactly the sums of adding one row at a time (floating-point addition depends on the order)."""
    from engine.detectors.encounters import _run_sums

    edges = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    runs = list(zip(edges[:-1], edges[1:], strict=True))
    init = np.random.default_rng(seed).uniform(-1e3, 1e3, (len(runs), 3))
    cols = [np.array([r[k] for r in rows], np.float64) for k in range(3)]
    got = _run_sums(np.array([r for r, _ in runs], np.int64), np.array([e for _, e in runs], np.int64),
                    init, *cols)  # fmt: skip
    assert got.tolist() == ref.run_sums(runs, init.tolist(), [c.tolist() for c in cols])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12 * 600), st.floats(20, 21), st.floats(107, 108),
                          st.floats(0, 5), st.sampled_from([-1.0, 30.0, 52.0, 80.0])), max_size=40))  # fmt: skip
def test_aligned_positions_match_the_reference(rows: list[tuple[int, int, float, float, float, float]]) -> None:
    """Each slice's vessels and positions (carried, interpolated, stale) and ship types as the reference finds
    them."""
    from engine.detectors.encounters import _align_slices

    slice_us, stale_us, interp_us, ahead, count = 600, 1800, 1200, 2, 12
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    cols = [np.array([r[k] for r in rows], np.float64 if k >= 2 else np.int64) for k in range(6)]
    runs = np.searchsorted(cols[0], np.arange(5))
    last_t, last = np.full(4, -1, np.int64), np.full((4, 4), np.nan)
    at, ids, pos, _, _ = _align_slices(0, count, slice_us, stale_us, interp_us, 10**9, ahead, 4, *cols,
                                       runs[:-1].copy(), runs[1:].copy(), last_t, last)  # fmt: skip
    want = ref.aligned_slices(rows, 0, count, slice_us, stale_us, interp_us, ahead)
    for k in range(count):
        got = [(int(v), *p) for v, p in zip(ids[at[k] : at[k + 1]].tolist(), pos[at[k] : at[k + 1]].tolist(),
                                            strict=True)]  # fmt: skip
        assert [g[0] for g in got] == [w[0] for w in want[k]]
        assert np.allclose([g[1:] for g in got], [w[1:] for w in want[k]], equal_nan=True) or not got
