"""The scoring estimators follow scikit-learn's conventions (its own checks), and do what they are for."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.evidence import EvidenceModel
from models.unusual import PackedForest, UnusualBehaviour


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
    filled = np.array([[model.medians_[0], 3.0, 0.0]])
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


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_the_packed_forest_scores_exactly_as_scikit_learns_isolation_forest(max_features: float) -> None:
    """The compiled walk over the packed trees against IsolationForest.score_samples itself: same floats."""
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.normal(size=500), rng.exponential(size=500), rng.integers(0, 4, 500)])  # noqa: N806
    forest = IsolationForest(n_estimators=30, max_features=max_features, random_state=3).fit(X)
    rows = np.vstack([X[:50], rng.normal(0, 5, (200, 3)), X[:5] + 1e-7])  # incl. values a hair off thresholds
    rows[::7, 1] = np.nan  # a missing value goes to the right child
    assert np.array_equal(PackedForest(forest).score_samples(rows), forest.score_samples(rows))
    one = IsolationForest(n_estimators=3, random_state=0).fit(X[:1])  # one training row: scikit-learn says -0.5
    assert np.array_equal(PackedForest(one).score_samples(rows[:4]), one.score_samples(rows[:4]))


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("calibrated", [True, False])
def test_an_evidence_model_file_predicts_exactly_as_the_model_saved(tmp_path, classes: int, calibrated: bool) -> None:
    """The boosting's trees go into the file as one array and come out as predictors again: same probabilities
    (calibrated or not, two classes or three), and saving leaves the model itself untouched."""
    from models.files import load_model, save_model

    rng = np.random.default_rng(classes)
    X = rng.uniform(0, 1, (600, 4))  # noqa: N806
    X[::7, 1] = np.nan
    y = np.minimum((X[:, 0] * classes).astype(int), classes - 1)
    if not calibrated:
        y[:] = 0
        y[:1] = 1  # one member of a class: too few to hold out, so the model stays uncalibrated
    model = EvidenceModel(max_iter=30, random_state=0).fit(X, y)
    assert model.calibrated_ is calibrated
    before = model.predict_proba(X)
    path = save_model(tmp_path / "evidence.skops", model, {"features": list("abcd")})
    assert np.array_equal(model.predict_proba(X), before)
    assert np.array_equal(load_model(path).estimator.predict_proba(X), before)
