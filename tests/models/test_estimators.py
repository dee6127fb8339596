"""The scoring estimators follow scikit-learn's conventions (its own checks), and do what they are for."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.evidence import EvidenceModel
from models.unusual import UnusualBehaviour


@parametrize_with_checks(
    [UnusualBehaviour(n_estimators=20, random_state=0), EvidenceModel(max_iter=10, random_state=0)]
)
def test_scikit_learn_checks(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def _days(rng: np.random.Generator, n: int) -> np.ndarray:
    # columns: slow share, mean speed, group (0 fishing-like: slow; 1 cargo-like: fast)
    group = rng.integers(0, 2, n).astype(float)
    slow = np.where(group == 0, rng.normal(0.6, 0.05, n), rng.normal(0.05, 0.02, n))
    speed = np.where(group == 0, rng.normal(3.0, 0.5, n), rng.normal(12.0, 1.0, n))
    return np.column_stack([slow, speed, group])


def test_unusual_finds_a_planted_outlier_and_names_the_feature_for_its_group() -> None:
    rng = np.random.default_rng(1)
    X = _days(rng, 600)  # noqa: N806
    model = UnusualBehaviour(n_estimators=100, contamination=0.01, group_column=2, random_state=0).fit(X)
    odd = np.array([[0.95, 12.0, 1.0]])  # a cargo ship slow nearly all day, at cargo speed otherwise
    normal = np.array([[0.05, 12.0, 1.0]])
    assert model.predict(odd)[0] == -1 and model.predict(normal)[0] == 1
    assert model.score_samples(odd)[0] < model.score_samples(normal)[0]
    index, z = model.explain(odd, columns=[0, 1], top=1)
    assert index[0, 0] == 0 and z[0, 0] > 5  # the slow share, far above a cargo ship's
    assert model.typical(odd, index[:, 0])[0] == pytest.approx(0.05, abs=0.01)  # typical of cargo, not of all


def test_unusual_fills_missing_features_with_the_training_medians() -> None:
    rng = np.random.default_rng(2)
    X = _days(rng, 300)  # noqa: N806
    model = UnusualBehaviour(n_estimators=50, random_state=0).fit(X)
    row = np.array([[np.nan, 3.0, 0.0]])
    filled = np.array([[model.predictor_.medians[0], 3.0, 0.0]])
    assert model.score_samples(row)[0] == model.score_samples(filled)[0]


def test_evidence_model_learns_and_is_calibrated_in_the_large() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    X = rng.uniform(0, 1, (n, 3))  # noqa: N806
    p = 1 / (1 + np.exp(-(8 * X[:, 0] - 4)))
    y = (rng.uniform(0, 1, n) < p).astype(int)
    model = EvidenceModel(random_state=0).fit(X, y)
    assert model.calibrated_
    q = model.predict_proba(X)[:, 1]
    assert abs(q.mean() - y.mean()) < 0.03  # calibrated: the mean probability is the base rate
    assert np.corrcoef(q, p)[0, 1] > 0.9


def test_evidence_model_refuses_one_class_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="one class"):
        EvidenceModel().fit(np.zeros((10, 2)), np.zeros(10))


def test_a_missing_feature_is_never_the_explanation() -> None:
    rng = np.random.default_rng(4)
    X = _days(rng, 400)  # noqa: N806
    model = UnusualBehaviour(n_estimators=50, group_column=2, random_state=0).fit(X)
    odd = np.array([[np.nan, 40.0, 0.0]])  # speed far off; slow share missing (filled with the median)
    index, _ = model.explain(odd, columns=[0, 1], top=2)
    assert index[0, 0] == 1
