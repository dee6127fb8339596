"""``seawatch train``: fit the scoring models on labelled scenarios and write versioned model files.

Scenarios are simulated from seeds (``--seeds``; the simulator labels every injected behaviour) or read from
folders holding ``feed.nmea`` and ``labels.csv`` (``--scenario``). Each goes through the engine and the feature
accumulator exactly as a backtest does; then
1. :class:`models.unusual.UnusualBehaviour` is fitted on every vessel-day;
2. :class:`models.evidence.EvidenceModel` is fitted on one row of evidence per vessel, labelled 1 when the
   vessel carries a smuggling label (any kind but distress);
3. with two or more scenarios, the last one is held out first and both the learned model and the indicator
   score alone are measured on it (average precision, ROC AUC), so the metadata says whether learning helps.

The models are written as their packed predictors (:mod:`models.packed`, :mod:`models.files`): scoring reads
them without scikit-learn, which only this command imports. The shipped models (models/default/) come from
``make models``, which runs this command with fixed seeds.
"""

from __future__ import annotations

import shlex
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
from models.files import EVIDENCE_FILE, UNUSUAL_FILE, ModelFile, save_model
from models.indicators import combine
from models.scoring import (
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
