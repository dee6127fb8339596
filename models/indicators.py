"""The explainable indicator model: points per piece of evidence, in words, adding up to each vessel's scores.

Smuggling: every alert gives ``weight[kind] x strength x recency`` points, where strength is the alert's own
score (0-100 -> 0-1) and recency halves every ``half_life_days`` before the scoring time. Repeats of one kind add
less each (``repeat_factor``) and a kind gives at most ``kind_cap`` times its weight, so one noisy detector cannot
fill the score alone; evidence from several independent *families* (going dark, meetings at sea, moving cargo,
position deception, identity, forbidden waters) raises it (``corroboration``): that is what separates a smuggler
from a vessel with a flaky transponder. Vessels heard too little are capped (``little_data_cap``).

Fire/explosion: what AIS shows of a vessel that can burn or blow up — hazardous cargo (ship types 80-89 tankers;
second digit 1-4 = hazard category A-D, ITU-R M.1371), ship-to-ship transfers (worse with a tanker in the pair),
distress, drifting, and moving cargo at sea on a tanker.

Analysts' decisions (:func:`with_decisions`) change the evidence at once: a dismissed alert stops counting, and
the reasons say what it was worth and who dismissed it, when and why (a ``+24`` line and its ``-24`` line, so the
reasons still add up to the score); a confirmed alert counts at full strength and does not age. A mute (a pattern
with an expiry, :func:`muted_alerts`) takes the alerts it matches out the same way ("-24 spoofing alert muted by
analyst 'le' until ...: legitimate bunkering barge"), unless an analyst confirmed that very alert.

Every number here is a setting; each carries why it has its value. A vessel's evidence is a table of rows
``(mmsi, score, points, family, reason)``; :func:`combine` turns it into scores and reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import polars as pl

from models.quality import bars_applied

KIND_WORDS: Mapping[str, str] = MappingProxyType({
    "ais_gap": "went dark",
    "encounter": "ship-to-ship transfer",
    "loitering": "loitered at sea",
    "spoofing": "spoofed positions",
    "land_position": "positions on land",
    "identity_conflict": "one MMSI, two vessels",
    "identity_change": "changed identity",
    "invalid_identity": "invalid MMSI",
    "draught_change": "draught changed at sea",
    "zone_entry": "entered a restricted zone",
    "border_crossing": "crossed the border",
    "distress": "distress",
})  # fmt: skip

FAMILIES: Mapping[str, str] = MappingProxyType({
    "ais_gap": "going dark",
    "encounter": "meetings at sea",
    "loitering": "meetings at sea",  # loitering is how a vessel waits for a transfer
    "draught_change": "moving cargo",
    "spoofing": "position deception",
    "land_position": "position deception",
    "identity_conflict": "identity",
    "identity_change": "identity",
    "invalid_identity": "identity",
    "zone_entry": "forbidden waters",
    "border_crossing": "forbidden waters",
})  # fmt: skip


def _smuggling_weights() -> Mapping[str, float]:
    # Points for one full-strength alert. Ship-to-ship transfer at sea is how fuel is smuggled in the Gulf of
    # Tonkin (DESIGN.md), so it weighs most; going dark and moving cargo at sea are the next signs patrols look for
    # (GFW gaps, Pole Star draught); identity and position deception hide a vessel (C4ADS, Windward);
    # entering forbidden waters and crossing borders are the act itself for small craft; loitering and an
    # invalid MMSI alone are weak (many fishing boats do both innocently).
    return MappingProxyType({
        "encounter": 35.0,
        "ais_gap": 30.0,
        "draught_change": 25.0,
        "identity_conflict": 25.0,
        "spoofing": 25.0,
        "zone_entry": 20.0,
        "border_crossing": 20.0,
        "identity_change": 15.0,
        "land_position": 15.0,
        "loitering": 15.0,
        "invalid_identity": 12.0,
        "distress": 0.0,  # distress is a fire/safety signal, not a smuggling one
    })  # fmt: skip


@dataclass(frozen=True)
class Weights:
    """Every weight of the indicator model; override any of them to tune (``Weights(half_life_days=7)``)."""

    smuggling: Mapping[str, float] = field(default_factory=_smuggling_weights)
    # each further alert of one kind adds this fraction of the one before: the 2nd gap says less than the 1st
    repeat_factor: float = 0.5
    # one kind adds at most this many times its weight (a geometric series of 0.5 would reach 2x)
    kind_cap: float = 1.6
    # evidence halves in value every two weeks: a transfer last month is still worth a look, last year's is not
    half_life_days: float = 14.0
    # each independent family beyond the first adds this fraction of the evidence points
    corroboration: float = 0.2
    # a family counts as present from this many points (a weak single hint does not corroborate)
    family_min_points: float = 8.0
    # too few positions to trust a high score: cap it (and say so)
    min_positions: int = 20
    little_data_cap: float = 50.0
    # fire: hazardous cargo. Tankers carry fuel or chemicals; the hazard digit (ITU-R M.1371 table 53) is the
    # cargo's category, A the most dangerous
    tanker_points: float = 15.0
    hazard_points: tuple[float, float, float, float] = (20.0, 15.0, 10.0, 5.0)  # categories A, B, C, D
    # fire: a full-strength transfer with a tanker in the pair; without one (converted fishing boats carry fuel in
    # the Gulf, DESIGN.md) it is half as much
    transfer_tanker_points: float = 35.0
    transfer_points: float = 17.5
    distress_points: float = 35.0  # beacons, not under command, aground: a vessel that may be on fire or adrift
    tanker_draught_points: float = 12.0  # a tanker's cargo moved at sea: a transfer even if unseen
    # drifting (AMSA: heading and course 45-135 degrees apart): points at ``drift_full`` of positions drifting
    drift_points: float = 12.0
    drift_full: float = 0.5
    drift_min: float = 0.05  # below this share, drifting is noise (current, yaw)
    max_reasons: int = 8  # reasons listed per score; the rest are summed in one line


# An analyst's latest decision on an alert (api/store: Store.decisions()); "reason" is a dismissal's reason code
DECISION_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType({
    "alert_id": pl.String(),
    "status": pl.String(),  # confirmed, dismissed, escalated, new (reopened)
    "reason": pl.String(),  # legitimate_activity, reception_problem, data_error, duplicate, other; null otherwise
    "by": pl.String(),  # the name of the analyst's key
    "at": pl.Datetime("us", "UTC"),
})  # fmt: skip


# A mute in force (api/store: Store.mutes_in_force()): a pattern of alerts an analyst took out until expires_at.
# "vessel": kind + mmsi (either vessel of a pair's alert); "pair": mmsi + other_mmsi in either order, kind if given;
# "zone": kind + a reason line naming the zone (zone_entry says "entered <kind> zone <name>"); "station": ais_gap
# alerts whose reasons name the station (a gap's reasons name stations only when an outage was involved)
MUTE_PATTERNS = ("vessel", "pair", "zone", "station")
MUTE_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType({
    "mute_id": pl.Int64(),
    "pattern": pl.String(),
    "kind": pl.String(),
    "mmsi": pl.Int64(),
    "other_mmsi": pl.Int64(),
    "zone": pl.String(),
    "station": pl.String(),
    "reason": pl.String(),
    "by": pl.String(),  # the name of the analyst's key
    "expires_at": pl.Datetime("us", "UTC"),
})  # fmt: skip


def _mute_matches(mute: Mapping[str, object]) -> pl.Expr:
    """Whether an alert (columns kind, mmsi, other_mmsi, reasons) falls under one mute."""
    kind = (pl.col("kind") == mute["kind"]) if mute["kind"] else pl.lit(True)
    a, b = pl.col("mmsi"), pl.col("other_mmsi")
    line = pl.element()
    if mute["pattern"] == "vessel":
        m = pl.lit(mute["mmsi"], pl.Int64)
        return kind & ((a == m) | (b == m).fill_null(False))
    if mute["pattern"] == "pair":
        x, y = pl.lit(mute["mmsi"], pl.Int64), pl.lit(mute["other_mmsi"], pl.Int64)
        return kind & (((a == x) & (b == y)) | ((a == y) & (b == x))).fill_null(False)
    if mute["pattern"] == "zone":  # the zone's whole name: "zone Ha Long" does not name "Ha Long Bay"
        said = f"zone {mute['zone']}"
        names = line.str.ends_with(f" {said}") | (line == said) | line.str.contains(f" {said} when ", literal=True)
    elif mute["pattern"] == "station":  # "station CT01 heard 0 of ...", "after station CT01 came back at ..."
        said = f"station {mute['station']}"
        names = line.str.starts_with(f"{said} ") | line.str.contains(f" {said} ", literal=True) | line.str.ends_with(
            f" {said}")  # fmt: skip
    else:
        raise ValueError(f"mute pattern {mute['pattern']!r}: use one of {', '.join(MUTE_PATTERNS)}")
    return kind & pl.col("reasons").list.eval(names).list.any().fill_null(False)


def muted_alerts(alerts: pl.DataFrame, mutes: pl.DataFrame | None) -> pl.DataFrame:
    """``alerts`` with ``mute_id`` (the first mute in force that matches, null for none) and ``muted`` (who muted
    it, until when and why: "muted by analyst 'le' until 2024-12-20 10:00 UTC: legitimate bunkering barge")."""
    if mutes is None or mutes.height == 0 or alerts.height == 0:
        return alerts.with_columns(mute_id=pl.lit(None, pl.Int64), muted=pl.lit(None, pl.String))
    which: pl.Expr = pl.lit(None, pl.Int64)
    for mute in reversed(mutes.sort("mute_id").to_dicts()):  # the oldest matching mute is named
        which = pl.when(_mute_matches(mute)).then(pl.lit(mute["mute_id"], pl.Int64)).otherwise(which)
    said = mutes.select(
        "mute_id",
        muted=pl.format("muted by analyst '{}' until {}: {}", pl.col("by"),
                        pl.col("expires_at").dt.strftime("%Y-%m-%d %H:%M UTC"), pl.col("reason")),
    )  # fmt: skip
    return alerts.with_columns(mute_id=which).join(said, on="mute_id", how="left", maintain_order="left")


def with_decisions(alerts: pl.DataFrame, decisions: pl.DataFrame | None, mutes: pl.DataFrame | None = None,
                   bars: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """The alerts that count and the ones taken out (dismissed or muted), after the analysts' latest decisions and
    the mutes in force (:data:`MUTE_SCHEMA`).

    A confirmed alert is no longer the detector's guess: it counts at full strength (score 100) and does not age
    (``confirmed``); ``decided`` says who confirmed it and when. A dismissed one counts for nothing; its
    ``decided`` says who dismissed it, when and why. A muted one counts for nothing either, and ``decided`` names
    the mute; a confirmation of that very alert outweighs a mute of its pattern. Escalated and reopened alerts
    count as the detector said. Raised bars (``bars``, :func:`models.quality.raised_bars`) take out the alerts of a
    noisy kind or zone scored under the bar, and ``decided`` says so; an analyst's confirmation or escalation of
    the alert itself outweighs the bar.
    """
    if decisions is None or decisions.height == 0:
        if all(f is None or f.height == 0 for f in (mutes, bars)):
            return _undecided(alerts), _undecided(alerts.clear())
        decisions = pl.DataFrame(schema=dict(DECISION_SCHEMA))
    if alerts.height == 0:
        return _undecided(alerts), _undecided(alerts.clear())
    when = pl.col("at").dt.strftime("%Y-%m-%d %H:%M UTC")
    why = pl.col("reason").str.replace_all("_", " ").fill_null("no reason recorded")
    said = decisions.select(
        "alert_id",
        "status",
        decided=pl.when(pl.col("status") == "dismissed")
        .then(pl.format("dismissed by analyst '{}' at {}: {}", pl.col("by"), when, why))
        .when(pl.col("status") == "confirmed")
        .then(pl.format("confirmed by analyst '{}' at {}", pl.col("by"), when)),
    ).unique("alert_id", keep="last", maintain_order=True)
    joined = bars_applied(muted_alerts(alerts.join(said, on="alert_id", how="left"), mutes), bars)
    confirmed = pl.col("status").fill_null("") == "confirmed"
    dismissed = pl.col("status").fill_null("") == "dismissed"
    muted = pl.col("muted").is_not_null() & ~confirmed
    below = pl.col("below_bar").is_not_null() & ~confirmed & (pl.col("status").fill_null("") != "escalated")
    off = dismissed | muted | below
    counted = joined.filter(~off).with_columns(
        score=pl.when(confirmed).then(100.0).otherwise(pl.col("score")),
        confirmed=confirmed,
        decided=pl.when(confirmed).then(pl.col("decided")),
    )
    taken_out = joined.filter(off).with_columns(
        decided=pl.when(dismissed)
        .then(pl.col("decided"))
        .when(muted)
        .then(pl.col("muted"))
        .otherwise(pl.format("under the raised bar: {}", pl.col("below_bar"))),
        confirmed=pl.lit(False),
    )
    helpers = ["status", "mute_id", "muted", "bar", "below_bar"]
    return counted.drop(helpers), taken_out.drop(helpers)


def _undecided(alerts: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` with the columns :func:`with_decisions` adds, as if nobody had decided anything."""
    if "confirmed" in alerts.columns:
        return alerts
    return alerts.with_columns(confirmed=pl.lit(False), decided=pl.lit(None, pl.String))


def is_tanker(ship_type: pl.Expr) -> pl.Expr:
    return ship_type.is_between(80, 89)


def hazard_category(ship_type: pl.Expr) -> pl.Expr:
    """1-4 for hazard categories A-D (second digit of types 2x, 4x, 6x-9x, ITU-R M.1371), else null."""
    digit = ship_type % 10
    carries = (ship_type // 10).is_in([2, 4, 6, 7, 8, 9])
    return pl.when(carries & digit.is_between(1, 4)).then(digit).otherwise(None)


def _decay(asof: datetime, w: Weights) -> pl.Expr:
    age_days = (pl.lit(asof) - pl.col("end")).dt.total_seconds() / 86_400.0
    aged = pl.lit(0.5) ** (age_days.clip(lower_bound=0.0) / w.half_life_days)
    return pl.when(pl.col("confirmed")).then(pl.lit(1.0)).otherwise(aged)  # an analyst's confirmation does not age


def _both_sides(alerts: pl.DataFrame) -> pl.DataFrame:
    """A pair's alert is evidence about both vessels: one row per vessel, ``other`` naming the other one."""
    alerts = _undecided(alerts)
    own = alerts.with_columns(other=pl.col("other_mmsi"))
    mirror = alerts.filter(pl.col("other_mmsi").is_not_null()).with_columns(
        other=pl.col("mmsi"), mmsi=pl.col("other_mmsi")
    )
    return pl.concat([own, mirror.select(own.columns)], how="vertical")


def _said(prefix: pl.Expr) -> pl.Expr:
    when = pl.col("start").dt.strftime("%Y-%m-%d %H:%M UTC")
    first = pl.col("reasons").list.head(2).list.join("; ")
    confirmed = pl.when(pl.col("confirmed")).then(pl.format(", {}", pl.col("decided"))).otherwise(pl.lit(""))
    return pl.format("{} ({}){}: {}", prefix, when, confirmed, first)


def smuggling_evidence(alerts: pl.DataFrame, asof: datetime, w: Weights, *, ids: bool = False) -> pl.DataFrame:
    """Evidence rows ``(mmsi, points, family, reason)`` for the smuggling score (with ``alert_id`` if ``ids``),
    after repeats and caps."""
    weight = pl.col("kind").replace_strict(dict(w.smuggling), default=0.0, return_dtype=pl.Float64)
    words = pl.col("kind").replace_strict(dict(KIND_WORDS), default=pl.col("kind"))
    return (
        _both_sides(alerts)
        .with_columns(points=weight * pl.col("score") / 100.0 * _decay(asof, w))
        .filter(pl.col("points") > 0)
        .select(
            "mmsi",
            "kind",
            "points",
            *(["alert_id"] if ids else []),
            family=pl.col("kind").replace_strict(dict(FAMILIES), default="other"),
            reason=_said(words),
        )  # fmt: skip
        .pipe(_repeats, w)
    )


def _repeats(rows: pl.DataFrame, w: Weights) -> pl.DataFrame:
    """Each further alert of a kind counts ``repeat_factor`` times the one before; a kind adds at most its cap."""
    weight = pl.col("kind").replace_strict(dict(w.smuggling), default=0.0, return_dtype=pl.Float64)
    rank = pl.col("points").rank("ordinal", descending=True).over("mmsi", "kind") - 1
    rows = rows.with_columns(points=pl.col("points") * pl.lit(w.repeat_factor) ** rank.cast(pl.Float64))
    total = pl.col("points").sum().over("mmsi", "kind")
    cap = weight * w.kind_cap
    scale = pl.when(total > cap).then(cap / total).otherwise(1.0)
    return rows.with_columns(points=pl.col("points") * scale).drop("kind")


def fire_evidence(alerts: pl.DataFrame, vessels: pl.DataFrame, asof: datetime, w: Weights) -> pl.DataFrame:
    """Evidence rows ``(mmsi, points, family, reason)`` for the fire score.

    ``vessels`` needs ``mmsi``, ``ship_type`` (null when unknown) and ``drift_frac`` / ``positions``.
    """
    types = vessels.select("mmsi", "ship_type")
    tanker = is_tanker(pl.col("ship_type")).fill_null(False)
    hazard = hazard_category(pl.col("ship_type"))
    letters = hazard.replace_strict({1: "A", 2: "B", 3: "C", 4: "D"}, default=None, return_dtype=pl.String)
    cargo = (
        types.with_columns(hz=hazard, letter=letters, tanker=tanker)
        .with_columns(
            points=pl.when(pl.col("tanker")).then(w.tanker_points).otherwise(0.0)
            + pl.col("hz").replace_strict(
                {1: w.hazard_points[0], 2: w.hazard_points[1], 3: w.hazard_points[2], 4: w.hazard_points[3]},
                default=0.0,
                return_dtype=pl.Float64,
            ),  # fmt: skip
            what=pl.when(pl.col("tanker")).then(pl.lit("tanker")).otherwise(pl.lit("vessel")),
        )
        .filter(pl.col("points") > 0)
        .select(
            "mmsi",
            "points",
            family=pl.lit("hazardous cargo"),
            reason=pl.when(pl.col("letter").is_not_null())
            .then(
                pl.format(
                    "{} carrying hazard category {} cargo (ship type {}, ITU-R M.1371)",
                    pl.col("what"),
                    pl.col("letter"),
                    pl.col("ship_type"),
                )
            )  # fmt: skip
            .otherwise(pl.format("tanker (ship type {}): fuel or chemical cargo", pl.col("ship_type"))),
        )
    )
    transfers_distress_draught = fire_alert_evidence(alerts, vessels, asof, w)
    drift = (
        vessels.filter(pl.col("drift_frac") >= w.drift_min)
        .select(
            "mmsi",
            points=w.drift_points * (pl.col("drift_frac") / w.drift_full).clip(upper_bound=1.0),
            family=pl.lit("drifting"),
            reason=pl.format(
                "drifting in {}% of positions (heading and course 45-135° apart at 0.25-20 kn, AMSA)",
                (pl.col("drift_frac") * 100).round(0).cast(pl.Int64),
            ),  # fmt: skip
        )
        .filter(pl.col("points") > 0)
    )
    rows = [cargo, transfers_distress_draught, drift]
    return pl.concat([r.select(EVIDENCE_COLUMNS) for r in rows], how="vertical").pipe(_fire_repeats, w)


def fire_alert_evidence(alerts: pl.DataFrame, vessels: pl.DataFrame, asof: datetime, w: Weights, *,
                        ids: bool = False) -> pl.DataFrame:  # fmt: skip
    """The fire evidence that alerts give (transfers, distress, a tanker's draught changed at sea): rows
    ``(mmsi, points, family, reason)``, with ``alert_id`` if ``ids``, before repeats."""
    types = vessels.select("mmsi", "ship_type")
    tanker = is_tanker(pl.col("ship_type")).fill_null(False)
    keep = ["alert_id"] if ids else []
    sides = _both_sides(alerts).with_columns(decay=_decay(asof, w), strength=pl.col("score") / 100.0)
    sides = sides.join(types, on="mmsi", how="left").join(
        types.rename({"mmsi": "other", "ship_type": "other_type"}), on="other", how="left"
    )
    pair_tanker = (tanker | is_tanker(pl.col("other_type")).fill_null(False)) if sides.height else pl.lit(False)
    transfers = sides.filter(pl.col("kind") == "encounter").select(
        "mmsi",
        *keep,
        points=pl.when(pair_tanker).then(w.transfer_tanker_points).otherwise(w.transfer_points)
        * pl.col("strength")
        * pl.col("decay"),
        family=pl.lit("transfer at sea"),
        reason=_said(
            pl.when(pair_tanker)
            .then(pl.lit("ship-to-ship transfer with a tanker in the pair"))
            .otherwise(pl.lit("ship-to-ship transfer (fuel may be moved between hulls)"))
        ),  # fmt: skip
    )
    distress = sides.filter(pl.col("kind") == "distress").select(
        "mmsi",
        *keep,
        points=w.distress_points * pl.col("strength") * pl.col("decay"),
        family=pl.lit("distress"),
        reason=_said(pl.lit("distress")),
    )
    draught = sides.filter((pl.col("kind") == "draught_change") & tanker).select(
        "mmsi",
        *keep,
        points=w.tanker_draught_points * pl.col("strength") * pl.col("decay"),
        family=pl.lit("transfer at sea"),
        reason=_said(pl.lit("tanker's draught changed at sea")),
    )
    return pl.concat([r.select(*EVIDENCE_COLUMNS, *keep) for r in (transfers, distress, draught)], how="vertical")


def _fire_repeats(rows: pl.DataFrame, w: Weights) -> pl.DataFrame:
    # repeats of one family count less each, as for smuggling; families have no cap of their own here (the score
    # saturates at 100) because fire evidence is scarce and each piece is serious
    rank = pl.col("points").rank("ordinal", descending=True).over("mmsi", "family") - 1
    return rows.with_columns(points=pl.col("points") * pl.lit(w.repeat_factor) ** rank.cast(pl.Float64))


EVIDENCE_COLUMNS = ("mmsi", "points", "family", "reason")


def smuggling_dismissed(dismissed: pl.DataFrame, asof: datetime, w: Weights) -> pl.DataFrame:
    """What each dismissed alert (:func:`with_decisions`) would have given the smuggling score, and who dismissed
    it: rows ``(mmsi, points, reason, undone)`` for :func:`combine`."""
    return _dismissals(smuggling_evidence(dismissed, asof, w, ids=True), dismissed)


def fire_dismissed(dismissed: pl.DataFrame, vessels: pl.DataFrame, asof: datetime, w: Weights) -> pl.DataFrame:
    """As :func:`smuggling_dismissed`, for the fire score."""
    return _dismissals(fire_alert_evidence(dismissed, vessels, asof, w, ids=True).pipe(_fire_repeats, w), dismissed)


def _dismissals(rows: pl.DataFrame, dismissed: pl.DataFrame) -> pl.DataFrame:
    said = dismissed.select(
        "alert_id", undone=pl.format("{} alert {}", pl.col("kind").str.replace_all("_", " "), pl.col("decided"))
    ).unique("alert_id")
    return rows.join(said, on="alert_id", how="left").select("mmsi", "points", "reason", "undone")


def _dismissal_lines(dismissed: pl.DataFrame) -> pl.DataFrame:
    """Per vessel, a pair of lines per dismissed alert, largest first: "+24 spoofed positions (...): ..." and
    "-24 spoofing alert dismissed by analyst 'le' at ...: reception problem". Each pair adds up to nothing, as
    the alert now counts for nothing."""
    n = pl.col("points").round(0).cast(pl.Int64)
    pairs = (
        dismissed.filter(n >= 1)
        .sort("mmsi", "points", descending=[False, True])
        .with_row_index("k")
        .select(
            "mmsi", "k", plus=pl.format("+{} {}", n, pl.col("reason")), minus=pl.format("-{} {}", n, pl.col("undone"))
        )
    )
    return (
        pairs.unpivot(["plus", "minus"], index=["mmsi", "k"], variable_name="sign", value_name="line")
        .sort("k", pl.col("sign") == "minus")
        .group_by("mmsi", maintain_order=True)
        .agg(dismissed=pl.col("line"))
    )


def combine(evidence: pl.DataFrame, positions: pl.DataFrame, w: Weights, *, corroborate: bool,
            dismissed: pl.DataFrame | None = None) -> pl.DataFrame:  # fmt: skip
    """Scores and reasons per vessel: ``mmsi``, ``score`` (0-100), ``reasons`` (strongest first, with points).

    ``positions`` has ``mmsi`` and ``positions`` (how many fixes the vessel has) for the little-data cap.
    ``dismissed`` (:func:`smuggling_dismissed`, :func:`fire_dismissed`) adds, after the evidence, what each
    dismissed alert was worth and its dismissal, which cancel out.
    """
    ev = evidence.filter(pl.col("points") > 0).sort("mmsi", "points", descending=[False, True])
    fam = (
        ev.group_by("mmsi", "family")
        .agg(pl.col("points").sum())
        .filter(pl.col("points") >= w.family_min_points)
        .sort("points", descending=True)
        .group_by("mmsi", maintain_order=True)
        .agg(families=pl.col("family"))
    )
    per = ev.group_by("mmsi").agg(
        evidence=pl.col("points").sum(),
        shown=pl.format("+{} {}", pl.col("points").round(0).cast(pl.Int64), pl.col("reason")).head(w.max_reasons),
        rest_n=(pl.len().cast(pl.Int64) - w.max_reasons).clip(lower_bound=0),
        rest=pl.col("points").slice(w.max_reasons).sum(),
    )
    per = per.join(fam, on="mmsi", how="left").join(positions.select("mmsi", "positions"), on="mmsi", how="left")
    n_fam = pl.col("families").list.len().cast(pl.Int64).fill_null(0)
    bonus = (pl.col("evidence") * w.corroboration * (n_fam - 1).clip(lower_bound=0)) if corroborate else pl.lit(0.0)
    raw = (pl.col("evidence") + bonus).clip(upper_bound=100.0)
    little = pl.col("positions").fill_null(0) < w.min_positions
    capped = pl.when(little).then(raw.clip(upper_bound=w.little_data_cap)).otherwise(raw)
    extra = [
        pl.when(pl.col("rest_n") > 0).then(
            pl.format(
                "+{} from {} smaller pieces of evidence", pl.col("rest").round(0).cast(pl.Int64), pl.col("rest_n")
            )  # fmt: skip
        ),
        pl.when(bonus.round(0) >= 1).then(
            pl.format(
                "+{} corroborated by {} independent kinds of evidence ({})",
                bonus.round(0).cast(pl.Int64),
                n_fam,
                pl.col("families").list.join(", "),
            )  # fmt: skip
        ),
        pl.when(little & (raw > w.little_data_cap)).then(
            pl.format(
                "capped at {}: only {} positions heard, too few to be sure",
                pl.lit(round(w.little_data_cap)),
                pl.col("positions").fill_null(0),
            )  # fmt: skip
        ),
    ]
    out = per.select(
        "mmsi",
        score=capped.round(1),
        reasons=pl.concat_list(pl.col("shown"), *(e.cast(pl.String) for e in extra)).list.drop_nulls(),
    )
    if dismissed is None or dismissed.height == 0:
        return out
    return (
        out.join(_dismissal_lines(dismissed), on="mmsi", how="full", coalesce=True)
        .with_columns(
            pl.col("score").fill_null(0.0), pl.col("reasons", "dismissed").fill_null(pl.lit([], pl.List(pl.String)))
        )
        .select("mmsi", "score", reasons=pl.concat_list("reasons", "dismissed"))
    )
