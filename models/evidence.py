"""Learning from labels: a calibrated classifier that re-weights the evidence against what analysts decided
(training side).

:class:`EvidenceModel` is a gradient-boosted tree classifier (HistGradientBoosting, which takes missing values
as they are) wrapped in sigmoid probability calibration (CalibratedClassifierCV), so its output can be read as
"this share of the training vessels with such evidence were labelled smuggling". It is trained from labels:
simulated scenarios now (``seawatch train``), analysts' triage decisions later. Simulated labels describe the
simulator, not the sea: :mod:`models.scoring` lets such a model give a small, capped hint only, and never quote
its share.

Fitting needs scikit-learn and is done by ``seawatch train`` only. What it learns is kept as
:class:`models.packed.PackedEvidence` (``predictor_``): the boosting's trees as one array of nodes walked by a
compiled kernel, and the calibration's two numbers a class, which is what a model file holds and scoring uses,
without scikit-learn (tested equal to scikit-learn's probabilities). This estimator's predictions are the
predictor's; they run on one thread, in the caller's (scikit-learn's ran OpenMP threads that waited for each other
at every tree when another core was busy).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from models.packed import PackedBoosting, PackedEvidence

MIN_PER_CLASS = 2  # calibration holds out folds: each class needs a member in more than one of them


class EvidenceModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting over per-vessel evidence features.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, l2_regularization:
        passed to :class:`sklearn.ensemble.HistGradientBoostingClassifier` (small trees, strong regularisation:
        labelled vessels are few).
    cv:
        folds for the sigmoid calibration (Platt; steady on few labels, where isotonic needs ~1000); fewer when a
        class has fewer members. The calibration is fitted on the folds' held-out predictions and the classifier
        once more on all the labels (``ensemble=False``): one model to store, load and run instead of one per fold
        (a fifth of the file, of its loading and of scoring time).
    random_state:
        seed of the boosting's subsampling and of the folds.
    """

    def __init__(self, max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 8,
                 l2_regularization: float = 1.0, cv: int = 3, random_state: int | None = None) -> None:  # fmt: skip
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
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
            self.model_ = CalibratedClassifierCV(boosting, method="sigmoid", cv=folds, ensemble=False).fit(X, y)
        else:  # too few of a class to hold any out: uncalibrated (said in the model file's metadata)
            self.model_ = boosting.fit(X, y)
        self.calibrated_ = folds >= MIN_PER_CLASS
        fitted = [c.estimator for c in self.model_.calibrated_classifiers_] if self.calibrated_ else [self.model_]
        self.n_iter_ = max(int(b.n_iter_) for b in fitted)
        self.predictor_ = pack_evidence(self.model_)
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return self.predictor_.predict_proba(X)

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


def pack_evidence(model: CalibratedClassifierCV | HistGradientBoostingClassifier) -> PackedEvidence:
    """A fitted model (calibrated with ``ensemble=False`` and the sigmoid, or the boosting alone) as arrays."""
    if isinstance(model, CalibratedClassifierCV):
        (calibrated,) = model.calibrated_classifiers_  # ensemble=False: one classifier fitted on all the labels
        boosting = calibrated.estimator
        calibration = np.array([(c.a_, c.b_) for c in calibrated.calibrators], np.float64)
    else:
        boosting, calibration = model, np.empty((0, 2), np.float64)
    return PackedEvidence(classes=np.asarray(model.classes_), boosting=pack_boosting(boosting),
                          calibration=calibration)  # fmt: skip


def pack_boosting(boosting: HistGradientBoostingClassifier) -> PackedBoosting:
    """The boosting's trees (``TreePredictor.nodes``, iteration by iteration) end to end, children renumbered to
    the whole array; numerical features only (Seawatch's evidence has no categorical one)."""
    nodes = [tree.nodes for iteration in boosting._predictors for tree in iteration]
    if any(n["is_categorical"].any() for n in nodes):
        raise ValueError("pack_boosting: categorical splits cannot be packed; give the features as numbers")
    start = np.concatenate([[0], np.cumsum([n.shape[0] for n in nodes])]).astype(np.int64)
    every = np.concatenate(nodes)
    offset = np.repeat(start[:-1], np.diff(start))
    leaf = every["is_leaf"].astype(bool)
    return PackedBoosting(
        start=start,
        feature=np.where(leaf, 0, every["feature_idx"]).astype(np.int64),
        threshold=every["num_threshold"].astype(np.float64),
        nan_left=every["missing_go_to_left"].astype(np.bool_),
        left=np.where(leaf, -1, every["left"].astype(np.int64) + offset),
        right=np.where(leaf, -1, every["right"].astype(np.int64) + offset),
        value=every["value"].astype(np.float64),
        baseline=np.asarray(boosting._baseline_prediction, np.float64).ravel(),
        n_features=int(boosting.n_features_in_),
    )
