"""Learning from labels: a calibrated classifier that re-weights the evidence against what analysts decided.

:class:`EvidenceModel` is a gradient-boosted tree classifier (HistGradientBoosting, which takes missing values
as they are) wrapped in probability calibration (CalibratedClassifierCV), so its output can be read as "this
share of vessels with such evidence were smuggling". It is trained from labels: simulated scenarios now
(``seawatch train``), analysts' triage decisions later.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
