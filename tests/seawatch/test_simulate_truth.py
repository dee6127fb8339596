"""The simulator's ground truth against its feed: every alert kind of DESIGN.md is injected, nobody is on land
but the land_position labels (an independent land mask), background traffic stays out of restricted zones and
small craft do not cross the border, and each label lines up with what the decoded feed shows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.geo.regions import haversine_km
from seawatch.simulator.geometry import crossings, points_in_polygon
from seawatch.simulator.scenario import KINDS
from tests.land_oracle import surely_land

DESIGN_KINDS = {
    "ais_gap",
    "encounter",
    "loitering",
    "spoofing",
    "land_position",
    "identity_conflict",
    "identity_change",
    "invalid_identity",
    "draught_change",
    "zone_entry",
    "border_crossing",
    "distress",
}


@pytest.fixture(scope="module")
def truth(day):
    pos = day.decoded.positions.with_columns(day.seconds_of().alias("s"))
    statics = day.decoded.statics.with_columns(day.seconds_of().alias("s"))
    return day, pos, statics, day.labels


def labels_of(labels: pl.DataFrame, kind: str) -> list[dict]:
    rows = labels.filter(pl.col("kind") == kind).to_dicts()
    assert rows, kind
    return rows


def window(pos: pl.DataFrame, mmsi: int, a: float, b: float) -> pl.DataFrame:
    return pos.filter((pl.col("mmsi") == mmsi) & (pl.col("s") >= a) & (pl.col("s") <= b))


def test_every_alert_kind_of_design_md_appears_a_few_times_a_day(truth):
    _, _, _, labels = truth
    assert set(KINDS) == DESIGN_KINDS
    counts = labels.group_by("kind").len().to_dict(as_series=False)
    got = dict(zip(counts["kind"], counts["len"], strict=True))
    assert set(got) == DESIGN_KINDS
    assert min(got.values()) >= 3, got


def test_nobody_is_on_land_but_the_land_position_labels(truth):
    _, pos, _, labels = truth
    pos = pos.drop_nulls(["lat", "lon"])
    on_land = pos.filter(pl.Series(surely_land(pos["lat"].to_numpy(), pos["lon"].to_numpy())))
    allowed = labels.filter(pl.col("kind") == "land_position")
    joined = on_land.join(allowed.select("mmsi", "start", "end"), on="mmsi", how="left")
    explained = joined.filter((pl.col("s") >= pl.col("start") - 1) & (pl.col("s") <= pl.col("end") + 1))
    assert explained.height == on_land.height > 0
    for lb in allowed.to_dicts():  # and what those labels say is on land indeed
        w = window(pos, lb["mmsi"], lb["start"], lb["end"])
        assert surely_land(w["lat"].to_numpy(), w["lon"].to_numpy()).all()


def test_no_true_track_crosses_land(truth):
    day, _, _, _ = truth
    lat, lon = [], []
    for v in day.scenario.voyages:
        t = np.arange(max(v.track.start, -3600.0), min(v.track.end, day.scenario.cfg.seconds + 3600.0), 60.0)
        la, lo = v.track.position(t)
        lat.append(la)
        lon.append(lo)
    lat_all, lon_all = np.concatenate(lat), np.concatenate(lon)
    assert lat_all.shape[0] > 300_000
    assert not surely_land(lat_all, lon_all).any()


def test_background_traffic_keeps_out_of_restricted_zones_and_small_craft_keep_their_side(truth):
    day, pos, _, _ = truth
    world = day.scenario.world
    for v in day.scenario.voyages:
        if v.vessel.injected:
            continue
        t = np.arange(v.track.start, v.track.end, 60.0)
        lat, lon = v.track.position(t)
        for zone in world.zones_of("restricted"):
            assert not points_in_polygon(lat, lon, zone.lat, zone.lon).any(), (v.vessel.name, zone.name)
        if v.vessel.role in ("fishing", "tug", "ferry"):
            blat, blon = world.pack.boundaries.part(0)
            assert crossings(v.track.lat, v.track.lon, blat, blon).size == 0, v.vessel.name


def test_injected_small_craft_cross_the_border_only_when_labelled(truth):
    day, _, _, labels = truth
    crossers = set(labels.filter(pl.col("kind") == "border_crossing")["mmsi"])
    blat, blon = day.scenario.world.pack.boundaries.part(0)
    small = [v for v in day.scenario.voyages if v.vessel.injected and v.vessel.role in ("fishing", "small_tanker")]
    assert len(small) > 10
    for v in small:
        if v.vessel.mmsi not in crossers:
            assert crossings(v.track.lat, v.track.lon, blat, blon).size == 0, v.vessel.name


def test_dark_vessels_send_nothing_inside_their_window_and_are_heard_around_it(truth):
    _, pos, statics, labels = truth
    for lb in labels_of(labels, "ais_gap"):
        assert window(pos, lb["mmsi"], lb["start"] + 1, lb["end"] - 1).height == 0
        assert window(statics, lb["mmsi"], lb["start"] + 1, lb["end"] - 1).height == 0
        assert window(pos, lb["mmsi"], lb["start"] - 1800, lb["start"]).height > 0  # good coverage before
        assert window(pos, lb["mmsi"], lb["end"], lb["end"] + 3600).height > 0


def test_encounters_are_two_slow_vessels_alongside(truth):
    _, pos, _, labels = truth
    seen = 0
    for lb in labels_of(labels, "encounter"):
        a = window(pos, lb["mmsi"], lb["start"], lb["end"]).sort("s")
        b = window(pos, lb["other_mmsi"], lb["start"], lb["end"]).sort("s")
        assert (a["sog"] < 2).all()
        if a.height == 0 or b.height == 0:
            continue  # the dark one, or far offshore where only a satellite pass may hear them
        pair = a.join_asof(
            b.select("s", pl.col("lat").alias("lat_b"), pl.col("lon").alias("lon_b")),
            on="s",
            strategy="nearest",
            tolerance=300.0,
        ).drop_nulls("lat_b")
        d = haversine_km(
            pair["lat"].to_numpy(), pair["lon"].to_numpy(), pair["lat_b"].to_numpy(), pair["lon_b"].to_numpy()
        )
        assert (d < 0.5).all()
        seen += pair.height > 0
    assert seen >= 1


def test_loitering_is_slow_and_near_the_border(truth):
    day, pos, _, labels = truth
    heard = 0
    for lb in labels_of(labels, "loitering"):
        w = window(pos, lb["mmsi"], lb["start"] + 60, lb["end"])
        heard += w.height > 0
        assert (w["sog"] < 2).all()
        assert (day.scenario.world.boundary_distance_km(w["lat"].to_numpy(), w["lon"].to_numpy()) < 20).all()
        assert day.scenario.world.shore_distance_km(lb["lat"], lb["lon"])[0] > 37  # >= 20 nm from shore
    assert heard >= 1


def test_spoofed_positions_jump_far_from_the_track(truth):
    _, pos, _, labels = truth
    for lb in labels_of(labels, "spoofing"):
        inside = window(pos, lb["mmsi"], lb["start"] + 1, lb["end"] - 1)
        before = window(pos, lb["mmsi"], lb["start"] - 3600, lb["start"] - 1)
        assert (haversine_km(inside["lat"].to_numpy(), inside["lon"].to_numpy(), lb["lat"], lb["lon"]) < 3).all()
        assert (haversine_km(before["lat"].to_numpy(), before["lon"].to_numpy(), lb["lat"], lb["lon"]) > 50).all()


def test_identities_conflict_change_and_malformed(truth):
    day, pos, statics, labels = truth
    for lb in labels_of(labels, "identity_conflict"):
        names = window(statics, lb["mmsi"], 0, day.scenario.cfg.seconds)["name"].drop_nulls().unique()
        assert names.len() >= 2, lb
    for lb in labels_of(labels, "identity_change"):
        before = window(statics, lb["mmsi"], lb["start"] - 6 * 3600, lb["start"] - 1)["name"].drop_nulls().unique()
        after_mmsi = lb["other_mmsi"] or lb["mmsi"]
        after = window(statics, after_mmsi, lb["start"] + 1, lb["start"] + 6 * 3600)["name"].drop_nulls().unique()
        if before.len() and after.len():
            assert set(before) != set(after)
    for lb in labels_of(labels, "invalid_identity"):
        assert pos.filter(pl.col("mmsi") == lb["mmsi"]).height > 0


def test_draught_changes_by_a_metre_or_more_at_sea(truth):
    day, _, statics, labels = truth
    checked = 0
    for lb in labels_of(labels, "draught_change"):
        d = statics.filter((pl.col("mmsi") == lb["mmsi"]) & pl.col("draught").is_not_null())
        before = d.filter(pl.col("s") < lb["start"])["draught"]
        after = d.filter((pl.col("s") > lb["start"]) & (pl.col("s") < lb["start"] + 6 * 3600))["draught"]
        assert before.len() and after.len(), "a labelled draught change must be heard before and after"
        checked += 1
        assert abs(after[0] - before[-1]) >= 1.0
        assert day.scenario.world.port_gap_km(lb["lat"], lb["lon"])[0] > 18.5  # > 10 nm from any port's edge
    assert checked >= 2


def test_zone_entries_are_inside_the_zone(truth):
    day, pos, _, labels = truth
    zones = day.scenario.world.zones_of("restricted")
    for lb in labels_of(labels, "zone_entry"):
        w = window(pos, lb["mmsi"], lb["start"] + 60, lb["end"] - 60)
        inside = np.zeros(w.height, bool)
        for z in zones:
            inside |= points_in_polygon(w["lat"].to_numpy(), w["lon"].to_numpy(), z.lat, z.lon)
        assert inside.all()


def test_border_crossings_cross_and_come_back(truth):
    day, pos, _, labels = truth
    blat, blon = day.scenario.world.pack.boundaries.part(0)
    voyages = {v.vessel.mmsi: v for v in day.scenario.voyages if v.vessel.injected}
    checked = 0
    for lb in labels_of(labels, "border_crossing"):
        track = voyages[lb["mmsi"]].track  # the truth: out at start, back at end
        t = np.arange(track.start, track.end, 10.0)
        lat, lon = track.position(t)
        out_and_back = t[crossings(lat, lon, blat, blon)]
        assert out_and_back.shape[0] == 2
        np.testing.assert_allclose(out_and_back, [lb["start"], lb["end"]], atol=120)
        before = window(pos, lb["mmsi"], lb["start"] - 3 * 3600, lb["start"] - 60).sort("s")
        during = window(pos, lb["mmsi"], lb["start"] + 60, lb["end"] - 60)
        if before.height and during.height:  # the feed shows it on the other side
            checked += 1
            for la, lo in zip(during["lat"], during["lon"], strict=True):
                side = crossings(np.array([before["lat"][-1], la]), np.array([before["lon"][-1], lo]), blat, blon)
                assert side.size % 2 == 1
    assert checked >= 1


def test_distress_is_broadcast(truth):
    day, pos, _, labels = truth
    events = day.decoded.events
    for lb in labels_of(labels, "distress"):
        w = window(pos, lb["mmsi"], lb["start"] + 60, lb["end"] - 60)
        assert w["nav_status"].is_in([2, 14]).all()
        if str(lb["mmsi"]).startswith("970"):
            assert events.filter((pl.col("mmsi") == lb["mmsi"]) & (pl.col("msg_type") == 14))["text"].to_list()[:1] in (
                [],
                ["SART ACTIVE"],
            )


def test_vessels_and_outages_line_up_with_the_feed(truth, tmp_path):
    day, pos, _, labels = truth
    paths = day.scenario.write(tmp_path)
    vessels = pl.read_csv(paths["vessels.csv"])
    assert set(pos["mmsi"].unique()) <= set(vessels["mmsi"])
    assert set(vessels["role"]) == {"background", "injected"}
    injected = set(vessels.filter(pl.col("role") == "injected")["mmsi"])
    for lb in labels.filter(pl.col("kind") != "identity_conflict").to_dicts():
        assert lb["mmsi"] in injected, lb
    cov = day.scenario.world.coverage
    assert cov.outages  # a scenario of 6 h or more always has at least one
    for s, a, b in cov.outages:
        assert pos.filter((pl.col("source") == cov.ids[s]) & (pl.col("s") >= a) & (pl.col("s") < b - 1)).height == 0
    assert pos.filter(pl.col("source") == "SAT").height > 0


def test_deception_labels_leave_evidence_and_new_mmsis_sail_on(truth):
    """Stations hear each spoofed spell and identity change (a label that no station heard describes nothing),
    and a vessel that changes its MMSI keeps its course through the change."""
    _, pos, statics, labels = truth
    for kind in ("spoofing", "land_position"):
        for lb in labels_of(labels, kind):
            assert window(pos, lb["mmsi"], lb["start"], lb["end"]).height > 0, lb
    for lb in labels_of(labels, "identity_change"):
        if lb["other_mmsi"] is None:
            assert window(statics, lb["mmsi"], lb["start"] - 3600, lb["start"]).height > 0, lb
            assert window(statics, lb["mmsi"], lb["start"], lb["start"] + 3600).height > 0, lb
            continue
        old = window(pos, lb["mmsi"], lb["start"] - 3600, lb["start"])
        new = window(pos, lb["other_mmsi"], lb["start"], lb["start"] + 3600)
        assert old.height and new.height, lb
        turn = abs((old["cog"][-1] - new["cog"][0] + 180.0) % 360.0 - 180.0)
        assert turn < 45.0, lb
