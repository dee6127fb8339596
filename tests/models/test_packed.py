"""The packed predictors score exactly as the scikit-learn models they were packed from, and as the plain walks of
tests/reference.py: on fixed edge cases (missing values, one row, no rows, values on a threshold) and on
Hypothesis-generated data; and arrays that would lead a walk out of its tree are refused."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.ensemble import IsolationForest

from models.evidence import EvidenceModel, pack_boosting
from models.packed import PackedArraysError, PackedBoosting, PackedEvidence, PackedForest, PackedUnusual
from models.unusual import UnusualBehaviour, pack_forest
from tests.reference import boosting_raw, class_probabilities

RTOL = 1e-12  # the walks add the same floats in the same order: in practice the results are identical


def _training(classes: int, calibrated: bool, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + classes)
    X = rng.uniform(0, 1, (n, 4))  # noqa: N806
    X[::7, 1] = np.nan  # missing values in training: the trees learn where to send them
    y = np.minimum((X[:, 0] * classes + rng.normal(0, 0.2, n)).clip(0).astype(int), classes - 1)
    if not calibrated:
        y[:] = 0
        y[: classes - 1] = np.arange(1, classes)  # one member of each other class: too few to hold out
    return X, y


@cache
def _evidence(classes: int, calibrated: bool) -> EvidenceModel:
    model = EvidenceModel(max_iter=30, random_state=0).fit(*_training(classes, calibrated))
    assert model.calibrated_ is calibrated
    return model


def _edge_rows(X: np.ndarray) -> dict[str, np.ndarray]:  # noqa: N803
    """Rows that go down unusual paths: missing values, every value missing, a single row, values on a split."""
    nan_rows = X[:20].copy()
    nan_rows[::2, 0] = np.nan
    nan_rows[1::3, 2:] = np.nan
    return {
        "missing values": nan_rows,
        "every value missing": np.full((3, X.shape[1]), np.nan),
        "one row": X[:1],
        "far outside the training range": np.array([[-1e9] * X.shape[1], [1e9] * X.shape[1]]),
    }


def _reference_proba(model: EvidenceModel, rows: np.ndarray) -> np.ndarray:
    calibrated = model.model_.calibrated_classifiers_[0] if model.calibrated_ else None
    boosting = calibrated.estimator if calibrated is not None else model.model_
    trees = [[tree.nodes for tree in iteration] for iteration in boosting._predictors]
    calibration = [(c.a_, c.b_) for c in calibrated.calibrators] if calibrated is not None else None
    baseline = boosting._baseline_prediction.ravel().tolist()
    out = [class_probabilities(boosting_raw(trees, baseline, row.tolist()), calibration) for row in rows]
    return np.array(out, np.float64).reshape(rows.shape[0], model.classes_.shape[0])


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
def test_packed_evidence_gives_scikit_learns_probabilities_on_edge_cases(classes: int, calibrated: bool) -> None:
    model = _evidence(classes, calibrated)
    X, _ = _training(classes, calibrated)  # noqa: N806
    packed = model.predictor_
    # rows exactly on the trees' thresholds go left (x <= threshold), as scikit-learn sends them
    on_split = np.tile(X[:1], (8, 1))
    inner = packed.boosting.left != -1
    on_split[:, packed.boosting.feature[inner][:8]] = packed.boosting.threshold[inner][:8]
    for name, rows in {**_edge_rows(X), "on a split": on_split, "training rows": X}.items():
        got = packed.predict_proba(rows)
        np.testing.assert_allclose(got, model.model_.predict_proba(rows), rtol=RTOL, atol=0, err_msg=name)
        np.testing.assert_allclose(got, _reference_proba(model, rows), rtol=RTOL, atol=0, err_msg=name)
    none = packed.predict_proba(np.empty((0, 4)))  # scikit-learn refuses no rows; the predictor gives none
    assert none.shape == (0, classes)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=arrays(np.float64, st.tuples(st.integers(1, 30), st.just(4)),
                   elements=st.floats(-2, 3) | st.sampled_from([0.0, 0.5, np.nan])))  # fmt: skip
def test_packed_evidence_gives_scikit_learns_probabilities_on_any_rows(rows: np.ndarray, classes: int,
                                                                        calibrated: bool) -> None:  # fmt: skip
    model = _evidence(classes, calibrated)
    got = model.predictor_.predict_proba(rows)
    np.testing.assert_allclose(got, model.model_.predict_proba(rows), rtol=RTOL, atol=0)
    np.testing.assert_allclose(got, _reference_proba(model, rows), rtol=RTOL, atol=0)
    assert np.allclose(got.sum(axis=1), 1.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), classes=st.sampled_from([2, 3]), n=st.integers(12, 120),
       missing=st.floats(0.0, 0.5))  # fmt: skip
def test_packed_evidence_of_models_fitted_on_generated_labels(seed: int, classes: int, n: int, missing: float) -> None:
    """Models of any shape (few rows, many missing values, trees of one leaf, 2 or 3 classes, calibrated when each
    class has members enough)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))  # noqa: N806
    X[rng.uniform(size=X.shape) < missing] = np.nan
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)  # every class present
    model = EvidenceModel(max_iter=8, random_state=0).fit(X, y)
    rows = np.vstack([X, rng.normal(size=(5, 3)), np.full((1, 3), np.nan)])
    got = model.predictor_.predict_proba(rows)
    np.testing.assert_allclose(got, model.model_.predict_proba(rows), rtol=RTOL, atol=0)
    np.testing.assert_allclose(got, _reference_proba(model, rows), rtol=RTOL, atol=0)


def test_the_evidence_estimator_predicts_through_its_packed_form() -> None:
    model = _evidence(2, True)
    X, _ = _training(2, True)  # noqa: N806
    assert np.array_equal(model.predict_proba(X), model.predictor_.predict_proba(X))


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_the_packed_forest_scores_exactly_as_scikit_learns_isolation_forest(max_features: float) -> None:
    """The compiled walk over the packed trees against IsolationForest.score_samples itself: same floats."""
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.normal(size=500), rng.exponential(size=500), rng.integers(0, 4, 500)])  # noqa: N806
    forest = IsolationForest(n_estimators=30, max_features=max_features, random_state=3).fit(X)
    rows = np.vstack([X[:50], rng.normal(0, 5, (200, 3)), X[:5] + 1e-7])  # incl. values a hair off thresholds
    rows[::7, 1] = np.nan  # a missing value goes to the right child
    packed = pack_forest(forest)
    assert np.array_equal(packed.score_samples(rows), forest.score_samples(rows))
    assert np.array_equal(packed.score_samples(rows[:1]), forest.score_samples(rows[:1]))
    assert packed.score_samples(np.empty((0, 3))).shape == (0,)
    one = IsolationForest(n_estimators=3, random_state=0).fit(X[:1])  # one training row: scikit-learn says -0.5
    assert np.array_equal(pack_forest(one).score_samples(rows[:4]), one.score_samples(rows[:4]))


@settings(max_examples=30, deadline=None)
@given(rows=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)),
                   elements=st.floats(-10, 10) | st.just(np.nan)))  # fmt: skip
def test_packed_unusual_scores_as_the_forest_on_filled_rows(rows: np.ndarray) -> None:
    model = _unusual()
    filled = np.where(np.isnan(rows), model.predictor_.medians, rows)
    assert np.array_equal(model.predictor_.score_samples(rows), model.forest_.score_samples(filled))
    assert np.array_equal(model.predictor_.predict(rows), model.forest_.predict(filled))


@cache
def _unusual() -> UnusualBehaviour:
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.normal(size=400), rng.exponential(size=400), rng.integers(0, 3, 400)])  # noqa: N806
    X[::9, 0] = np.nan
    return UnusualBehaviour(n_estimators=25, contamination=0.02, group_column=2, random_state=0).fit(X)


def test_packed_predictors_come_back_whole_from_their_arrays() -> None:
    unusual, evidence = _unusual().predictor_, _evidence(3, True).predictor_
    rows = np.array([[0.1, 2.0, 1.0], [np.nan, 9.0, 7.0]])
    again = PackedUnusual.from_arrays(unusual.arrays())
    assert np.array_equal(again.score_samples(rows), unusual.score_samples(rows))
    assert all(np.array_equal(a, b) for a, b in zip(again.explain(rows), unusual.explain(rows), strict=True))
    x = _training(3, True)[0]
    assert np.array_equal(PackedEvidence.from_arrays(evidence.arrays()).predict_proba(x), evidence.predict_proba(x))


def test_arrays_that_would_walk_out_of_a_tree_are_refused() -> None:
    forest = _unusual().predictor_.forest.arrays()
    inner = np.flatnonzero(forest["child"] != np.arange(forest["child"].shape[0]))[0]
    for name, value in [("child", forest["child"].shape[0]), ("child", 0), ("feature", 3), ("feature", -1),
                        ("nan_step", 2)]:  # fmt: skip
        bad = {k: v.copy() for k, v in forest.items()}
        bad[name][inner] = value
        with pytest.raises(PackedArraysError, match="forest"):
            PackedForest.from_arrays(bad, 3)
    trees = _evidence(2, True).predictor_.boosting.arrays()
    inner = int(np.flatnonzero(trees["left"] != -1)[1])
    for name, value in [("left", inner), ("right", inner - 1), ("left", 10**9), ("feature", 4)]:
        bad = {k: v.copy() for k, v in trees.items()}
        bad[name][inner] = value  # a loop back up the tree, or past its end, or a column it has not
        with pytest.raises(PackedArraysError, match="boosting"):
            PackedBoosting.from_arrays(bad)
    short = {**trees, "start": trees["start"][:-1]}
    with pytest.raises(PackedArraysError, match="do not cut"):
        PackedBoosting.from_arrays(short)


def test_categorical_splits_are_not_packed_silently() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.column_stack([np.arange(40) % 4, np.arange(40) % 3]).astype(float)  # noqa: N806
    y = (X[:, 0] == 2).astype(int)
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(X, y)
    with pytest.raises(ValueError, match="categorical"):
        pack_boosting(model)


def test_rows_of_the_wrong_width_are_refused() -> None:
    with pytest.raises(ValueError, match="4 features"):
        _evidence(2, True).predictor_.predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 features"):
        _unusual().predictor_.score_samples(np.zeros(3))
