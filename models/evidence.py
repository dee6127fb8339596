"""Learning from labels: a calibrated classifier that re-weights the evidence against what analysts decided.

:class:`EvidenceModel` is a gradient-boosted tree classifier (HistGradientBoosting, which takes missing values
as they are) wrapped in probability calibration (CalibratedClassifierCV), so its output can be read as "this
share of the training vessels with such evidence were labelled smuggling". It is trained from labels: simulated
scenarios now (``seawatch train``), analysts' triage decisions later. Simulated labels describe the simulator,
not the sea: :mod:`models.scoring` lets such a model give a small, capped hint only, and never quote its share.

In a model file, the boosting's trees (one scikit-learn ``TreePredictor`` object per tree and iteration) are kept
as one array of their nodes, and made into predictors again when the file is read: skops rebuilds each object it
stores with its own checks, and 100 tree objects were most of a file's loading (both model files: 0.04 s before,
0.008 s after, the "model files" stage of ``benchmarks/bench_backtest.py --stages``).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

MIN_PER_CLASS = 2  # calibration holds out folds: each class needs a member in more than one of them


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's thread pools (listing them reads the loaded libraries: done once, when first needed)."""
    return ThreadpoolController()


class EvidenceModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting over per-vessel evidence features.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, l2_regularization:
        passed to :class:`sklearn.ensemble.HistGradientBoostingClassifier` (small trees, strong regularisation:
        labelled vessels are few).
    method:
        calibration, "sigmoid" (Platt; steady on few labels) or "isotonic" (needs ~1000 labels).
    cv:
        folds for calibration; fewer when a class has fewer members. The calibration is fitted on the folds'
        held-out predictions and the classifier once more on all the labels (``ensemble=False``): one model to
        store, load and run instead of one per fold (a fifth of the file, of its loading and of scoring time).
    random_state:
        seed of the boosting's subsampling and of the folds.

    Predictions run on one OpenMP thread: scoring shares the machine with the engine, and OpenMP's threads wait
    for each other at every tree when another core is busy (600 vessels: 3.4 ms on one thread, 1.2 s on two
    with the other core taken; 100,000 vessels: 0.27 s vs 0.84 s; 2-core machine, benchmarks/RESULTS.md).
    """

    def __init__(self, max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 8,
                 l2_regularization: float = 1.0, method: str = "sigmoid", cv: int = 3,
                 random_state: int | None = None) -> None:  # fmt: skip
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.method = method
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):  # noqa: N803 (scikit-learn's names)
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"EvidenceModel needs labels of at least two classes, got one class ({self.classes_[0]!r}): "
                "add labelled vessels of the other class"
            )
        boosting = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                  max_leaf_nodes=self.max_leaf_nodes,
                                                  l2_regularization=self.l2_regularization,
                                                  random_state=self.random_state)  # fmt: skip
        folds = int(min(self.cv, counts.min()))
        if folds >= MIN_PER_CLASS:
            self.model_ = CalibratedClassifierCV(boosting, method=self.method, cv=folds, ensemble=False).fit(X, y)
        else:  # too few of a class to hold any out: uncalibrated (said in the model file's metadata)
            self.model_ = boosting.fit(X, y)
        self.calibrated_ = folds >= MIN_PER_CLASS
        fitted = [c.estimator for c in self.model_.calibrated_classifiers_] if self.calibrated_ else [self.model_]
        self.n_iter_ = max(int(b.n_iter_) for b in fitted)
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        with _thread_pools().limit(limits=1, user_api="openmp"):
            return self.model_.predict_proba(X)

    def decision_function(self, X) -> np.ndarray:  # noqa: N803
        """Log-odds of the last class (binary) or of each class."""
        p = np.clip(self.predict_proba(X), 1e-9, 1 - 1e-9)
        if p.shape[1] == 2:
            return np.log(p[:, 1] / p[:, 0])
        return np.log(p)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self) -> dict[str, Any]:
        """The state with the boosting's trees as arrays (``trees_``) and the model around them without them."""
        state = dict(super().__getstate__())  # a copy: for classes outside sklearn it is the instance's own dict
        if "model_" not in state:
            return state
        model = copy.copy(self.model_)
        if self.calibrated_:
            model.calibrated_classifiers_ = [copy.copy(c) for c in self.model_.calibrated_classifiers_]
            boostings = [c.estimator for c in model.calibrated_classifiers_]
            for c in model.calibrated_classifiers_:
                c.estimator = copy.copy(c.estimator)
            bare = [c.estimator for c in model.calibrated_classifiers_]
        else:
            boostings, bare = [self.model_], [model]
        trees = [[tree for iteration in b._predictors for tree in iteration] for b in boostings]
        for b in bare:
            del b._predictors
        first = trees[0][0]
        state["model_"] = model
        state["trees_"] = {
            "nodes": np.concatenate([t.nodes for ts in trees for t in ts]),
            "nodes_per_tree": np.array([t.nodes.shape[0] for ts in trees for t in ts], np.int64),
            "binned": np.concatenate([t.binned_left_cat_bitsets for ts in trees for t in ts]).reshape(
                -1, *first.binned_left_cat_bitsets.shape[1:]),
            "binned_per_tree": np.array([t.binned_left_cat_bitsets.shape[0] for ts in trees for t in ts], np.int64),
            "raw": np.concatenate([t.raw_left_cat_bitsets for ts in trees for t in ts]).reshape(
                -1, *first.raw_left_cat_bitsets.shape[1:]),
            "raw_per_tree": np.array([t.raw_left_cat_bitsets.shape[0] for ts in trees for t in ts], np.int64),
            # per boosting: iterations and trees an iteration (one a class beyond two)
            "shape": np.array([(len(b._predictors), len(b._predictors[0])) for b in boostings], np.int64),
        }  # fmt: skip
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed = state.pop("trees_", None)
        super().__setstate__(state)
        if packed is None:
            return
        parts = [np.split(packed[k], np.cumsum(packed[f"{k}_per_tree"])[:-1]) for k in ("nodes", "binned", "raw")]
        trees = iter([TreePredictor(n, b, r) for n, b, r in zip(*parts, strict=True)])
        boostings = [c.estimator for c in self.model_.calibrated_classifiers_] if self.calibrated_ else [self.model_]
        for b, (iterations, per_iteration) in zip(boostings, packed["shape"].tolist(), strict=True):
            b._predictors = [[next(trees) for _ in range(per_iteration)] for _ in range(iterations)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
