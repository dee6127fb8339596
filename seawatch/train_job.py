"""``seawatch train``: fit the scoring models on labelled scenarios, or on analysts' decisions in the store, and
write versioned model files.

Scenarios are simulated from seeds (``--seeds``; the simulator labels every injected behaviour) or read from
folders holding ``feed.nmea`` and ``labels.csv`` (``--scenario``). Each goes through the engine and the feature
accumulator exactly as a backtest does; then
1. :class:`models.unusual.UnusualBehaviour` is fitted on every vessel-day;
2. :class:`models.evidence.EvidenceModel` is fitted on one row of evidence per vessel, labelled 1 when the
   vessel carries a smuggling label (any kind but distress);
3. with two or more scenarios, the last one is held out first and both the learned model and the indicator
   score alone are measured on it (average precision, ROC AUC), so the metadata says whether learning helps.

``seawatch train --from-store [URL]`` (:func:`run_train_from_store`) fits the evidence model on the store's triage
decisions instead (:mod:`models.training_rows`: the decided vessels' evidence as it stood at each decision), on the
earlier ones, and measures it and the current model on the latest ones (the same rows), which it writes beside the
model (``heldout.npz``) for the registry (:mod:`models.registry`) to compare at promotion. Simulated scenarios may
be added to the training rows as priors (``--prior-seeds``, ``--prior-weight``). The unusual-behaviour model is
the current one's, copied: the store keeps no vessel-days to refit it on.

The models are written as their packed predictors (:mod:`models.packed`, :mod:`models.files`): scoring reads
them without scikit-learn, which only this command imports. The shipped models (models/default/) come from
``make models``, which runs this command with fixed seeds.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from engine.alerts import ALERT_KINDS
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import COLUMNS as ENGINE_COLUMNS
from engine.runner import Engine
from feeds.files import InputError
from models.evidence import EvidenceModel
from models.features import COLUMNS as FEATURE_COLUMNS
from models.features import FeatureAccumulator
from models.files import EVIDENCE_FILE, UNUSUAL_FILE, ModelFile, load_model, save_model
from models.indicators import combine
from models.registry import HELD_OUT_FILE, held_out_figures, save_held_out
from models.scoring import (
    ANALYSTS,
    EVIDENCE_FEATURES,
    SCENARIOS,
    SIMULATED,
    TYPE_GROUP,
    UNUSUAL_FEATURES,
    Scorer,
    data_end,
    evidence_features,
    unusual_matrix,
)
from models.training_rows import HOLD_OUT, decision_rows, time_split
from models.unusual import UnusualBehaviour
from seawatch.inputs import chunks, classify, readers_columns

SMUGGLING_KINDS = tuple(k for k in ALERT_KINDS if k != "distress")
CONTAMINATION = 0.01  # one vessel-day in a hundred is called unusual: a hint an analyst can still look at
TREES = 100  # scikit-learn's default; keeps the shipped model file to a few MB


@dataclass
class TrainOptions:
    seeds: list[int] = field(default_factory=list)
    scenarios: list[Path] = field(default_factory=list)
    hours: float = 24.0
    vessels: int = 300
    region: str = "gulf-of-tonkin"
    random_state: int = 0


@dataclass
class Scenario:
    name: str
    alerts: pl.DataFrame
    vessels: pl.DataFrame
    days: pl.DataFrame
    labels: pl.DataFrame


@dataclass
class TrainSummary:
    out: Path
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        m = self.metadata
        lines = [f"trained on {m['scenarios']} scenario(s): {m['vessel_days']:,} vessel-days, {m['vessels']:,} "
                 f"vessels of which {m['positives']:,} smuggling, in {self.seconds:.1f} s"]  # fmt: skip
        held = m.get("held_out")
        if held:
            lines.append(f"held-out scenario {held['scenario']}: average precision {held['model_ap']:.3f} learned vs "
                         f"{held['indicator_ap']:.3f} indicators alone; ROC AUC {held['model_auc']:.3f} vs "
                         f"{held['indicator_auc']:.3f}")  # fmt: skip
        lines.append(f"written: {self.out / UNUSUAL_FILE}, {self.out / EVIDENCE_FILE}")
        return "\n".join(lines) + "\n"


def run_train(options: TrainOptions, out: Path, command: str | None = None) -> TrainSummary:
    if not options.seeds and not options.scenarios:
        raise InputError("nothing to train on: give --seeds N... (simulated scenarios) or --scenario DIR...")
    started = time.perf_counter()
    scenarios = [
        *(_simulated(seed, options) for seed in options.seeds),
        *(_folder(p, options) for p in options.scenarios),
    ]
    unusual = fit_unusual(scenarios, options.random_state)
    scorer = Scorer(unusual_model=ModelFile(unusual.predictor_, {}, Path("<training>")))
    rows = [_evidence_rows(scorer, s) for s in scenarios]
    meta: dict[str, Any] = {
        "command": command or "seawatch " + shlex.join(sys.argv[1:]),
        "seeds": options.seeds,
        "scenario_folders": [str(p) for p in options.scenarios],
        "hours": options.hours,
        "vessels_per_scenario": options.vessels,
        "scenarios": len(scenarios),
        "vessel_days": int(sum(s.days.height for s in scenarios)),
        "vessels": int(sum(r.height for r in rows)),
        "positives": int(sum(int(r["y"].sum()) for r in rows)),
        "random_state": options.random_state,
        # what the labels were: the scorer lets a model that never saw analysts' decisions give a capped hint only
        "labels": SIMULATED if not options.scenarios else SCENARIOS,
    }
    if len(rows) >= 2:
        meta["held_out"] = _held_out(rows, scenarios[-1].name, options.random_state)
    evidence = EvidenceModel(random_state=options.random_state).fit(*_xy(pl.concat(rows)))
    meta["calibrated"] = bool(evidence.calibrated_)
    unusual_meta = {**meta, "model": "unusual behaviour (IsolationForest)", "features": list(UNUSUAL_FEATURES)}
    evidence_meta = {**meta, "model": "evidence re-weighting (calibrated boosting)",
                     "features": list(EVIDENCE_FEATURES)}  # fmt: skip
    save_model(out / UNUSUAL_FILE, unusual.predictor_, unusual_meta)
    save_model(out / EVIDENCE_FILE, evidence.predictor_, evidence_meta)
    return TrainSummary(out=out, seconds=time.perf_counter() - started, metadata=meta)


def fit_unusual(scenarios: list[Scenario], random_state: int) -> UnusualBehaviour:
    days = pl.concat([unusual_matrix(s.days, s.vessels) for s in scenarios], how="vertical")
    X = days.select(UNUSUAL_FEATURES).to_numpy()  # noqa: N806 (scikit-learn's name)
    model = UnusualBehaviour(
        n_estimators=TREES, contamination=CONTAMINATION, group_column=TYPE_GROUP, random_state=random_state
    )
    return model.fit(X)


def _evidence_rows(scorer: Scorer, s: Scenario) -> pl.DataFrame:
    """Per vessel: the evidence features, the indicator score, and the label ``y``."""
    when = data_end(s.alerts, s.vessels)
    vessels, evidence_rows = scorer.evidence(s.alerts, s.vessels, s.days, when)
    indicator = combine(evidence_rows, vessels, scorer.weights, corroborate=True).select("mmsi", "score")
    feats = evidence_features(s.alerts, evidence_rows, vessels, indicator)
    smuggling = s.labels.filter(pl.col("kind").is_in(SMUGGLING_KINDS))
    positive = pl.concat([smuggling["mmsi"], smuggling["other_mmsi"].drop_nulls()]).unique().implode()
    return (
        feats.join(indicator, on="mmsi", how="left")
        .with_columns(pl.col("score").fill_null(0.0), y=pl.col("mmsi").is_in(positive).cast(pl.Int64))
        .with_columns(scenario=pl.lit(s.name))
    )


def _xy(rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return rows.select(EVIDENCE_FEATURES).to_numpy(), rows["y"].to_numpy()


def _held_out(rows: list[pl.DataFrame], name: str, random_state: int) -> dict[str, Any]:
    train, test = pl.concat(rows[:-1]), rows[-1]
    model = EvidenceModel(random_state=random_state).fit(*_xy(train))
    X, y = _xy(test)  # noqa: N806
    p = model.predict_proba(X)[:, -1]
    both = len(set(y.tolist())) == 2
    score = test["score"].to_numpy()
    return {
        "scenario": name,
        "vessels": int(test.height),
        "positives": int(y.sum()),
        "model_ap": float(average_precision_score(y, p)) if both else float("nan"),
        "indicator_ap": float(average_precision_score(y, score)) if both else float("nan"),
        "model_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "indicator_auc": float(roc_auc_score(y, score)) if both else float("nan"),
    }


def _run(inputs_paths: list[Path], region: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    land = LandIndex.load()
    engine = Engine(default_detectors(load_pack(region), land))
    features = FeatureAccumulator(land)
    inputs, _ = classify(inputs_paths)
    for chunk in chunks(inputs, columns=readers_columns(ENGINE_COLUMNS, FEATURE_COLUMNS)):
        engine.process(chunk.positions, chunk.statics, chunk.events)
        features.add(chunk.positions, chunk.statics)
    engine.finish()
    return engine.alerts(), features.vessels(), features.days()


def _simulated(seed: int, options: TrainOptions) -> Scenario:
    from seawatch.simulator.config import SimConfig  # training may use the simulator; scoring never does
    from seawatch.simulator.scenario import simulate

    scenario = simulate(SimConfig(hours=options.hours, seed=seed, vessels=options.vessels, region=options.region))
    with tempfile.TemporaryDirectory() as tmp:
        scenario.write(Path(tmp))
        return _folder(Path(tmp), options, name=f"seed {seed}")


def _folder(folder: Path, options: TrainOptions, name: str | None = None) -> Scenario:
    feed, labels_path = folder / "feed.nmea", folder / "labels.csv"
    for path in (feed, labels_path):
        if not path.is_file():
            raise InputError(f"{folder}: a training scenario folder needs feed.nmea and labels.csv ({path.name} "
                             "is missing); make one with `seawatch simulate --out DIR`")  # fmt: skip
    alerts, vessels, days = _run([feed], options.region)
    labels = pl.read_csv(labels_path, schema_overrides={"mmsi": pl.Int64, "other_mmsi": pl.Int64})
    return Scenario(name or str(folder), alerts, vessels, days, labels)


@dataclass
class StoreTrainOptions:
    database_url: str
    current: Path  # the model folder in use now (the registry's current version, or the base models)
    current_name: str = "base"  # how the summary and the metadata name it ("version 0003", "base")
    hold_out: float = HOLD_OUT
    prior_seeds: list[int] = field(default_factory=list)
    prior_weight: float = 0.5  # a simulated vessel counts this much of an analyst's decision (by sampling)
    hours: float = 24.0
    vessels: int = 300
    region: str = "gulf-of-tonkin"
    random_state: int = 0


@dataclass
class StoreTrainSummary:
    out: Path
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        m, h = self.metadata, self.metadata["held_out"]
        priors = m.get("priors")
        extra = f" + {priors['rows']} simulated vessel rows (seeds {priors['seeds']}, weight {priors['weight']})" if (
            priors) else ""  # fmt: skip
        return (
            f"trained on {m['decisions_trained']} analysts' decisions ({m['rows_trained']} vessel rows, "
            f"{m['positives_trained']} confirmed or escalated){extra}, from {m['first_decision']} to before "
            f"{m['cut']}, in {self.seconds:.1f} s\n"
            f"held out the latest {m['hold_out']:.0%}: {h['decisions']} decisions to {m['last_decision']} "
            f"({h['rows']} rows, {h['positives']} confirmed or escalated): average precision {h['model_ap']:.3f} "
            f"this model vs {h['current_ap']:.3f} the current one ({h['current']}) vs {h['indicator_ap']:.3f} "
            f"indicators alone; ROC AUC {h['model_auc']:.3f} vs {h['current_auc']:.3f} vs {h['indicator_auc']:.3f}\n"
            f"written: {self.out / EVIDENCE_FILE}, {self.out / UNUSUAL_FILE} (the current one's), "
            f"{self.out / HELD_OUT_FILE}; register it with `seawatch models add {self.out}`, then `seawatch models "
            "promote VERSION` (promoted only if it beats the current model on these held-out decisions)\n"
        )


def run_train_from_store(options: StoreTrainOptions, out: Path, command: str | None = None) -> StoreTrainSummary:
    """Fit the evidence model on the store's earlier decisions; measure it and the current model on the later."""
    from api.store import Store  # the command line wires the store to the models; scoring itself never does

    started = time.perf_counter()
    store = Store(options.database_url, migrate=False)
    try:
        if not store.is_current():
            raise InputError(f"{_shown(options.database_url)}: the store's schema is not the latest; open it with "
                             "`seawatch serve` (or `seawatch api`) once to migrate it")  # fmt: skip
        data = store.training_data()
    finally:
        store.close()
    rows = decision_rows(data.decisions, data.alerts, data.vessels)
    split = time_split(rows, options.hold_out)
    X, y = _xy(split.train)  # noqa: N806 (scikit-learn's names)
    priors = _priors(options) if options.prior_seeds else None
    if priors is not None:
        X, y = np.vstack([X, priors[0]]), np.concatenate([y, priors[1]])  # noqa: N806
    # a feature the store never had (no vessel scored with an unusual-behaviour model) is a constant: the boosting
    # cannot bin a column of missing values alone, and never splits on a constant, whatever it later sees there
    X[:, np.isnan(X).all(axis=0)] = 0.0
    model = EvidenceModel(random_state=options.random_state).fit(X, y)
    current = load_model(options.current / EVIDENCE_FILE, EVIDENCE_FEATURES)
    Xh, yh = _xy(split.held_out)  # noqa: N806
    model_ap, model_auc = held_out_figures(yh, model.predict_proba(Xh)[:, -1])
    current_ap, current_auc = held_out_figures(yh, current.predictor.predict_proba(Xh)[:, -1])
    indicator_ap, indicator_auc = held_out_figures(yh, split.held_out["score"].to_numpy())
    decided = rows.unique("alert_id").sort("at")
    prior_meta = None if priors is None else {"seeds": options.prior_seeds, "weight": options.prior_weight,
                                              "rows": int(priors[1].shape[0])}  # fmt: skip
    meta: dict[str, Any] = {
        "command": command or "seawatch " + shlex.join(sys.argv[1:]),
        "model": "evidence re-weighting (calibrated boosting)",
        "features": list(EVIDENCE_FEATURES),
        "labels": ANALYSTS,
        "source": "analysts",
        "database": _shown(options.database_url),
        "decisions": int(decided.height),
        "decisions_trained": int(split.train["alert_id"].n_unique()),
        "rows_trained": int(split.train.height),
        "positives_trained": int(split.train["y"].sum()),
        "first_decision": _iso(decided["at"].min()),
        "last_decision": _iso(decided["at"].max()),
        "cut": _iso(split.cut),
        "hold_out": options.hold_out,
        "priors": prior_meta,
        "random_state": options.random_state,
        "calibrated": bool(model.calibrated_),
        "held_out": {
            "decisions": int(split.held_out["alert_id"].n_unique()),
            "rows": int(yh.shape[0]),
            "positives": int(yh.sum()),
            "model_ap": model_ap,
            "model_auc": model_auc,
            "current": options.current_name,
            "current_labels": current.metadata.get("labels", SIMULATED),
            "current_ap": current_ap,
            "current_auc": current_auc,
            "indicator_ap": indicator_ap,
            "indicator_auc": indicator_auc,
        },
    }
    save_model(out / EVIDENCE_FILE, model.predictor_, meta)
    if (options.current / UNUSUAL_FILE).resolve() != (out / UNUSUAL_FILE).resolve():
        shutil.copyfile(options.current / UNUSUAL_FILE, out / UNUSUAL_FILE)
    save_held_out(out, Xh, yh)
    return StoreTrainSummary(out=out, seconds=time.perf_counter() - started, metadata=meta)


def _priors(options: StoreTrainOptions) -> tuple[np.ndarray, np.ndarray]:
    """Simulated vessels as extra training rows, each kept with probability ``prior_weight`` (repeated for a weight
    over 1): the boosting takes no sample weights through its calibration, so the weight is a sampling rate. Their
    unusualness is left out, as the store's rows have none."""
    scenario_options = TrainOptions(hours=options.hours, vessels=options.vessels, region=options.region)
    rows = pl.concat([_evidence_rows(Scorer(), _simulated(seed, scenario_options)) for seed in options.prior_seeds])
    X, y = _xy(rows)  # noqa: N806
    rng = np.random.default_rng(options.random_state)
    whole, part = divmod(options.prior_weight, 1.0)
    times = np.full(y.shape[0], int(whole)) + (rng.random(y.shape[0]) < part)
    return np.repeat(X, times, axis=0), np.repeat(y, times)


def _shown(url: str) -> str:
    """A database URL without its password, as it may be printed and kept in a model's metadata."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _iso(t: Any) -> str:
    return t.isoformat(timespec="seconds") if t is not None else ""
