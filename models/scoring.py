"""Alerts + per-vessel features -> the vessel risk table (models/schema.py): both scores, bands and reasons.

The smuggling score is the indicator model's (models/indicators.py) with two learned contributions, each a
reason of its own so the score stays explainable:
- *unusual for its type and area* (models/unusual.py): points when a vessel-day is an outlier among the days
  the model was fitted on, naming the features that make it one;
- *learned re-weighting* (models/evidence.py): the score moves ``evidence_weight`` of the way towards the
  calibrated probability that vessels with such evidence were labelled smuggling in the training data. What the
  model learned from decides how it may speak: trained on analysts' decisions, it is evidence ("learned from 840
  analysts' decisions: 62% of triaged vessels with this evidence were confirmed"), moving a score at most
  ``few_decisions_points`` while its decisions are under ``analyst_decisions``; trained on simulated or other
  scenario labels only, it is a hint, capped at ``hint_points`` either way, that claims no share of real vessels
  ("hint from a model trained on simulated traffic only"). ``vessels.parquet`` carries both the points
  (``learned_points``) and what they were learned from (``learned_from``).
The fire score is the indicator model's. Without model files, both learned parts are left out (and the reasons
say nothing about them).

Analysts' decisions (``decisions``, :data:`models.indicators.DECISION_SCHEMA`; the live service reads them from
its store, a backtest has none) apply to both scores and to what the learned model sees: a dismissed alert no
longer counts, a confirmed one counts at full strength (:func:`models.indicators.with_decisions`). So do mutes in
force (``mutes``, :data:`models.indicators.MUTE_SCHEMA`): a muted alert counts for nothing until the mute expires;
and so do the raised bars of noisy detectors (``bars``, models/quality.py): an alert of a kind (or zone) analysts
mostly dismiss counts only from the bar's score up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from engine.alerts import ALERT_KINDS
from engine.detectors.mid import MID_FLAG
from engine.detectors.mmsi import mmsi_mid
from models.features import DAY_FEATURES, FEATURE_UNITS, FEATURE_WORDS, number_text
from models.files import DEFAULT_DIR, EVIDENCE_FILE, UNUSUAL_FILE, ModelFile, load_model
from models.indicators import (
    FAMILIES,
    Weights,
    combine,
    fire_dismissed,
    fire_evidence,
    is_tanker,
    smuggling_dismissed,
    smuggling_evidence,
    with_decisions,
)
from models.packed import PackedEvidence, PackedUnusual
from models.schema import VESSEL_SCHEMA, band_expr
from models.watchlist import match, watchlist_evidence, with_watchlists

# the unusual-behaviour model's inputs: the day's behaviour, the vessel's type group and where it was
UNUSUAL_FEATURES = (*DAY_FEATURES, "type_group", "lat", "lon")
TYPE_GROUP = UNUSUAL_FEATURES.index("type_group")
# the evidence model's inputs, one row per vessel
EVIDENCE_FEATURES = (*(f"strength_{k}" for k in ALERT_KINDS), "families", "unusual", "log_positions", "tanker",
                     "fishing", "indicator")  # fmt: skip
TYPE_WORDS = {3.0: "fishing vessel", 5.0: "special craft", 6.0: "passenger ship", 7.0: "cargo ship", 8.0: "tanker",
              -1.0: "vessel of unknown type"}  # fmt: skip


@dataclass(frozen=True)
class LearnedWeights:
    # points an unusual day adds at full strength: a hint for an analyst, never enough to raise a band alone
    unusual_points: float = 15.0
    # how far past the model's outlier threshold a day must be to count fully (anomaly score units)
    unusual_span: float = 0.1
    # how far the learned probability moves the indicator score: a third of the way (labels are few so far)
    evidence_weight: float = 0.33
    # a model that never saw analysts' decisions (simulated scenarios) moves a score at most this far: it learned
    # the simulator's habits, and on real traffic told ordinary cargo ships "100% were smuggling" (issue 11)
    hint_points: float = 5.0
    # a model trained on analysts' decisions is evidence, but one trained on few is a small sample: under
    # ``analyst_decisions`` decisions (rule of thumb: ~100 of each kind before a share means much) it moves a score
    # at most ``few_decisions_points``, twice a simulated hint, and the reason gives the count
    analyst_decisions: int = 200
    few_decisions_points: float = 10.0


# what a model file's labels were (metadata "labels"); only analysts' decisions on real traffic make evidence
ANALYSTS = "analysts' decisions"
SIMULATED = "simulated traffic"
SCENARIOS = "labelled scenarios"


def learned_from(metadata: dict[str, object]) -> str:
    """What an evidence model's labels were: :data:`ANALYSTS`, :data:`SIMULATED` or :data:`SCENARIOS`.

    Model files written before this was recorded were all trained by ``seawatch train --seeds`` (simulated).
    """
    said = metadata.get("labels")
    if said in (ANALYSTS, SIMULATED, SCENARIOS):
        return str(said)
    return SCENARIOS if metadata.get("scenario_folders") and not metadata.get("seeds") else SIMULATED


@dataclass
class Scorer:
    """Scores vessels; models are optional (``Scorer.with_default_models()`` loads the shipped ones)."""

    weights: Weights = field(default_factory=Weights)
    learned: LearnedWeights = field(default_factory=LearnedWeights)
    unusual_model: ModelFile | None = None
    evidence_model: ModelFile | None = None

    @classmethod
    def with_default_models(cls, directory: Path | None = None, weights: Weights | None = None) -> Scorer:
        folder = directory or DEFAULT_DIR
        unusual = load_model(folder / UNUSUAL_FILE, UNUSUAL_FEATURES)
        evidence = load_model(folder / EVIDENCE_FILE, EVIDENCE_FEATURES)
        return cls(weights=weights or Weights(), unusual_model=unusual, evidence_model=evidence)

    def score(self, alerts: pl.DataFrame, vessels: pl.DataFrame, days: pl.DataFrame,
              asof: datetime | None = None, decisions: pl.DataFrame | None = None,
              mutes: pl.DataFrame | None = None, bars: pl.DataFrame | None = None,
              watchlist: pl.DataFrame | None = None) -> pl.DataFrame:  # fmt: skip
        """The vessel risk table: ``vessels`` and ``days`` from :class:`models.features.FeatureAccumulator`;
        ``decisions`` the analysts' latest decision per alert (:data:`models.indicators.DECISION_SCHEMA`), if any;
        ``mutes`` the mutes in force (:data:`models.indicators.MUTE_SCHEMA`): the alerts they match count for
        nothing, as if dismissed, and the reasons name the mute; ``bars`` the raised bars of noisy kinds and zones
        (:func:`models.quality.raised_bars`): their alerts scored under the bar count for nothing, and the reasons
        say why ("under the raised bar: spoofing alerts count from score 70 up: analysts dismissed 14 of 18 ...");
        ``watchlist`` the vessels on analysts' watchlists (:func:`models.watchlist.match`): a reason on the smuggling
        score each ("+20 on watchlist 'caught 2025': MMSI 574001234 listed for ..."), not an alert.
        """
        w = self.weights
        when = asof or data_end(alerts, vessels)
        counted, dismissed = with_decisions(alerts, decisions, mutes, bars)
        vessels, evidence_rows = self.evidence(counted, vessels, days, when)
        listed = evidence_rows
        if watchlist is not None and watchlist.height:
            listed = pl.concat([evidence_rows, watchlist_evidence(watchlist).select(evidence_rows.columns)],
                               how="vertical_relaxed")  # fmt: skip
        smuggling = combine(listed, vessels, w, corroborate=True,
                            dismissed=smuggling_dismissed(dismissed, when, w))  # fmt: skip
        smuggling = self._reweight(smuggling, counted, evidence_rows, vessels)
        fire = combine(fire_evidence(counted, vessels, when, w), vessels, w, corroborate=False,
                       dismissed=fire_dismissed(dismissed, vessels, when, w))  # fmt: skip
        return assemble(vessels, alerts, smuggling, fire)

    def score_listed(self, alerts: pl.DataFrame, vessels: pl.DataFrame, days: pl.DataFrame, entries: pl.DataFrame,
                     decisions: pl.DataFrame | None = None, mutes: pl.DataFrame | None = None,
                     bars: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
        """:meth:`score` with the analysts' watchlists: ``entries`` (:data:`models.watchlist.ENTRY_SCHEMA`) matched
        against ``vessels`` (:func:`models.watchlist.match`), the matches a reason on the smuggling score each, and
        the table's ``watchlists`` the names of the lists each vessel is on (null: none). Returns the table and the
        matches. The live service (every scoring, the store's lists) and the backtest (``--watchlist FILE``) both
        score through here; ``decisions``, ``mutes``, ``bars``: as :meth:`score` takes them."""
        matches = match(vessels, entries)
        table = self.score(alerts, vessels, days, decisions=decisions, mutes=mutes, bars=bars, watchlist=matches)
        return with_watchlists(table, matches), matches

    def evidence(self, alerts: pl.DataFrame, vessels: pl.DataFrame, days: pl.DataFrame,
                 asof: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
        """Vessels with flag, drift and unusualness added, and the smuggling evidence rows (before the learned
        re-weighting): what :func:`evidence_features` and :func:`combine` take."""
        vessels = with_drift(vessels, days).with_columns(flag=flag_expr())
        unusual_rows, anomaly = self.unusual_evidence(vessels, days)
        vessels = vessels.join(anomaly, on="mmsi", how="left")
        rows = pl.concat([smuggling_evidence(alerts, asof, self.weights), unusual_rows], how="vertical")
        return vessels, rows

    def unusual_evidence(self, vessels: pl.DataFrame, days: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        empty_rows = pl.DataFrame(schema={"mmsi": pl.Int64(), "points": pl.Float64(), "family": pl.String(),
                                          "reason": pl.String()})  # fmt: skip
        empty_anomaly = pl.DataFrame(schema={"mmsi": pl.Int64(), "unusual": pl.Float64()})
        if self.unusual_model is None or days.height == 0:
            return empty_rows, empty_anomaly
        model: PackedUnusual = self.unusual_model.predictor
        table = unusual_matrix(days, vessels)
        X = table.select(UNUSUAL_FEATURES).to_numpy()  # noqa: N806 (scikit-learn's name)
        anomaly = -model.score_samples(X)
        threshold = -model.offset
        table = table.with_columns(anomaly=pl.Series(anomaly)).with_row_index("row")
        worst = table.sort("anomaly", descending=True).group_by("mmsi", maintain_order=True).first()
        per_vessel = worst.select("mmsi", unusual=pl.col("anomaly"))
        out = worst.filter(pl.col("anomaly") > threshold)
        if out.height == 0:
            return empty_rows, per_vessel
        rows = X[out["row"].to_numpy()]
        index, z = model.explain(rows, columns=list(range(len(DAY_FEATURES))), top=2)
        typical = np.stack([model.typical(rows, index[:, k]) for k in range(index.shape[1])], axis=1)
        strength = np.clip((out["anomaly"].to_numpy() - threshold) / self.learned.unusual_span, 0.0, 1.0)
        said = pl.DataFrame({
            "mmsi": out["mmsi"], "day": out["day"], "group": out["type_group"],
            **{f"f{k}": index[:, k] for k in range(index.shape[1])},
            **{f"v{k}": rows[np.arange(rows.shape[0]), index[:, k]] for k in range(index.shape[1])},
            **{f"t{k}": typical[:, k] for k in range(index.shape[1])},
        }).select(
            "mmsi",
            points=pl.Series(self.learned.unusual_points * strength),
            family=pl.lit("unusual behaviour"),
            reason=pl.format("unusual for a {} on {}: {}", pl.col("group").replace_strict(TYPE_WORDS, default="vessel",
                             return_dtype=pl.String), pl.col("day").dt.strftime("%Y-%m-%d"),
                             pl.concat_str([_feature_said(k) for k in range(index.shape[1])], separator=", ")),
        )  # fmt: skip
        return said, per_vessel

    def _reweight(self, smuggling: pl.DataFrame, alerts: pl.DataFrame, evidence_rows: pl.DataFrame,
                  vessels: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
        if self.evidence_model is None or smuggling.height == 0:
            return smuggling
        model: PackedEvidence = self.evidence_model.predictor
        feats = evidence_features(alerts, evidence_rows, vessels, smuggling).join(smuggling.select("mmsi"), on="mmsi")
        p = model.predict_proba(feats.select(EVIDENCE_FEATURES).to_numpy())[:, -1]
        learned = pl.DataFrame({"mmsi": feats["mmsi"], "p": p})
        k = self.learned.evidence_weight
        source = learned_from(self.evidence_model.metadata)
        shift = k * (100.0 * pl.col("p") - pl.col("score"))
        cap = self._cap(source)
        if cap is not None:
            shift = shift.clip(-cap, cap)
        moved = (pl.col("score") + shift).clip(0.0, 100.0).round(1)
        delta = (moved - pl.col("score")).round(0).cast(pl.Int64)
        sign = pl.when(delta >= 0).then(pl.lit("+")).otherwise(pl.lit(""))
        if source == ANALYSTS:
            said = pl.format("{}{} learned from {}analysts' decisions: {}% of triaged vessels with this evidence were "
                             "confirmed", sign, delta, pl.lit(_how_many(self.evidence_model.metadata)),
                             (100 * pl.col("p")).round(0).cast(pl.Int64))  # fmt: skip
        else:
            said = pl.format("{}{} hint from a model trained on {} only, not on analysts' decisions: this mix of "
                             "evidence {} the labelled smuggling cases there", sign, delta, pl.lit(source),
                             pl.when(delta >= 0).then(pl.lit("resembles")).otherwise(pl.lit("is unlike")))  # fmt: skip
        return (
            smuggling.join(learned, on="mmsi", how="left")
            .with_columns(pl.col("p").fill_null(0.0))
            .with_columns(
                reasons=pl.when(delta != 0).then(pl.concat_list("reasons", said)).otherwise("reasons"),
                learned_points=(moved - pl.col("score")).round(1),
                score=moved,
                learned_from=pl.lit(source),
            )  # fmt: skip
            .drop("p")
        )

    def _cap(self, source: str) -> float | None:
        """How far the learned model may move a score (None: as far as it says)."""
        if source != ANALYSTS:
            return self.learned.hint_points
        decisions = _decisions(self.evidence_model.metadata if self.evidence_model else {})
        if decisions is None or decisions < self.learned.analyst_decisions:
            return self.learned.few_decisions_points
        return None


def _decisions(metadata: dict[str, object]) -> int | None:
    """How many analysts' decisions a model was fitted on (``seawatch train --from-store`` records it)."""
    n = metadata.get("decisions_trained")
    return int(n) if isinstance(n, int | float) else None


def _how_many(metadata: dict[str, object]) -> str:
    n = _decisions(metadata)
    return "" if n is None else f"{n:,} "


def data_end(alerts: pl.DataFrame, vessels: pl.DataFrame) -> datetime:
    """Scores are as of the latest evidence: the end of the data."""
    times: list[datetime] = []
    if alerts.height:
        times.append(alerts["end"].max())  # type: ignore[arg-type]  # a datetime column's max is a datetime
    if vessels.height and vessels["last_seen"].null_count() < vessels.height:
        times.append(vessels["last_seen"].max())  # type: ignore[arg-type]
    return max(times) if times else datetime.fromtimestamp(0, tz=UTC)


def flag_expr() -> pl.Expr:
    mid = pl.col("mmsi").map_batches(lambda s: pl.Series(mmsi_mid(s.to_numpy())), return_dtype=pl.Int64)
    return mid.replace_strict(MID_FLAG, default=None, return_dtype=pl.String)


def with_drift(vessels: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    drift = days.group_by("mmsi").agg(
        drift_frac=(pl.col("drift_frac").fill_nan(0.0) * pl.col("fixes")).sum() / pl.col("fixes").sum()
    )
    return vessels.join(drift, on="mmsi", how="left")


def type_group(ship_type: pl.Expr) -> pl.Expr:
    """The first digit of the AIS ship type (3 fishing, 6 passenger, 7 cargo, 8 tanker...); -1 when unknown."""
    return (ship_type // 10).fill_null(-1).cast(pl.Float64)


def unusual_matrix(days: pl.DataFrame, vessels: pl.DataFrame) -> pl.DataFrame:
    """Vessel-days with :data:`UNUSUAL_FEATURES` (the vessel's type joined in)."""
    return days.join(vessels.select("mmsi", "ship_type"), on="mmsi", how="left").with_columns(
        type_group=type_group(pl.col("ship_type"))
    )


def _feature_said(k: int) -> pl.Expr:
    """The ``k``-th named feature of an unusual day in words: "95% of positions under 2 kn (typical 40%)"."""
    which, value, typical = pl.col(f"f{k}"), pl.col(f"v{k}"), pl.col(f"t{k}")
    out: pl.Expr = pl.lit(None, pl.String)
    for i, name in reversed(list(enumerate(DAY_FEATURES))):
        words, style = FEATURE_WORDS[name]
        before, after = words.split("{}")
        phrase = pl.format("{}{}{} (typical {}{})", pl.lit(before), number_text(value, style), pl.lit(after),
                           number_text(typical, style), pl.lit(FEATURE_UNITS.get(name, "")))  # fmt: skip
        out = pl.when(which == i).then(phrase).otherwise(out)
    return out


def evidence_features(alerts: pl.DataFrame, evidence_rows: pl.DataFrame, vessels: pl.DataFrame,
                      indicator: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
    """:data:`EVIDENCE_FEATURES` per vessel (every vessel of ``vessels``); ``indicator`` has the indicator model's
    smuggling ``score`` per ``mmsi`` (the learned model re-weights it with the evidence it is made of)."""
    own = alerts.select("mmsi", "kind", "score")
    mirror = alerts.filter(pl.col("other_mmsi").is_not_null()).select(mmsi="other_mmsi", kind="kind", score="score")
    strengths = (
        pl.concat([own, mirror], how="vertical")
        .with_columns(pl.col("score") / 100.0)
        .pivot("kind", index="mmsi", values="score", aggregate_function="sum")
    )
    for kind in ALERT_KINDS:
        if kind not in strengths.columns:
            strengths = strengths.with_columns(pl.lit(0.0).alias(kind))
    strengths = strengths.select("mmsi", *(pl.col(k).alias(f"strength_{k}") for k in ALERT_KINDS))
    families = (
        evidence_rows.filter(pl.col("family").is_in(list(set(FAMILIES.values()))))
        .group_by("mmsi")
        .agg(families=pl.col("family").n_unique().cast(pl.Float64))
    )
    base = vessels.select(
        "mmsi",
        unusual=pl.col("unusual") if "unusual" in vessels.columns else pl.lit(None, pl.Float64),
        log_positions=(pl.col("positions").cast(pl.Float64) + 1.0).log(),
        tanker=is_tanker(pl.col("ship_type")).fill_null(False).cast(pl.Float64),
        fishing=(pl.col("ship_type") == 30).fill_null(False).cast(pl.Float64),
    )
    return (
        base.join(strengths, on="mmsi", how="left")
        .join(families, on="mmsi", how="left")
        .join(indicator.select("mmsi", indicator="score"), on="mmsi", how="left")
        .with_columns(
            pl.col(f"strength_{k}" for k in ALERT_KINDS).fill_null(0.0), pl.col("families", "indicator").fill_null(0.0)
        )  # fmt: skip
        .select("mmsi", *EVIDENCE_FEATURES)
    )


def assemble(vessels: pl.DataFrame, alerts: pl.DataFrame, smuggling: pl.DataFrame, fire: pl.DataFrame) -> pl.DataFrame:
    """The vessel risk table in :data:`models.schema.VESSEL_SCHEMA`, one row per vessel, highest risk first."""
    own = alerts.select("mmsi", "kind")
    mirror = alerts.filter(pl.col("other_mmsi").is_not_null()).select(mmsi="other_mmsi", kind="kind")
    counts = pl.concat([own, mirror], how="vertical").group_by("mmsi", "kind").len()
    counts = counts.pivot("kind", index="mmsi", values="len") if counts.height else pl.DataFrame({"mmsi": []})
    counts = counts.select(
        pl.col("mmsi").cast(pl.Int64),
        *(pl.col(k).cast(pl.Int64).alias(f"alerts_{k}") if k in counts.columns else pl.lit(0, pl.Int64).alias(
            f"alerts_{k}") for k in ALERT_KINDS),
    )  # fmt: skip
    s = smuggling.rename({"score": "smuggling_score", "reasons": "smuggling_reasons"})
    f = fire.rename({"score": "fire_score", "reasons": "fire_reasons"})
    empty = pl.lit([], pl.List(pl.String))
    base = (
        vessels.join(s, on="mmsi", how="left")
        .join(f, on="mmsi", how="left")
        .join(counts, on="mmsi", how="left")
        .with_columns(
            pl.col("smuggling_score", "fire_score").fill_null(0.0),
            pl.col("smuggling_reasons", "fire_reasons").fill_null(empty),
            pl.col([f"alerts_{k}" for k in ALERT_KINDS]).fill_null(0),
        )
        .with_columns(_top=pl.max_horizontal("smuggling_score", "fire_score"))
    )
    for column in ("unusual", "learned_points", "learned_from"):
        if column not in base.columns:
            base = base.with_columns(pl.lit(None, VESSEL_SCHEMA[column]).alias(column))
    return (
        base.with_columns(
            smuggling_band=band_expr("smuggling_score"),
            fire_band=band_expr("fire_score"),
            band=band_expr("_top"),
            alerts=pl.sum_horizontal([f"alerts_{k}" for k in ALERT_KINDS]),
            reasons=pl.concat_list(
                pl.col("smuggling_reasons").list.eval(pl.format("smuggling {}", pl.element())),
                pl.col("fire_reasons").list.eval(pl.format("fire {}", pl.element())),
            ),
        )
        .sort(["_top", "mmsi"], descending=[True, False])
        .select([pl.col(c).cast(t) for c, t in VESSEL_SCHEMA.items()])
    )
