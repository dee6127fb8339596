"""The scoring models as packed arrays: predictions with numpy and compiled walks only, no scikit-learn.

``seawatch train`` fits scikit-learn estimators (:mod:`models.unusual`, :mod:`models.evidence`) and packs each
into a predictor here; a model file (:mod:`models.files`) holds the predictor's arrays by name. Scoring reads
them and imports neither scikit-learn nor skops, whose imports were a third of a backtest's run (1.2 s of 3.5 s).

- :class:`PackedUnusual`: the isolation forest of :class:`models.unusual.UnusualBehaviour` (a
  :class:`PackedForest`) with what explains a day: the training medians, the groups' medians and scales;
- :class:`PackedEvidence`: the gradient-boosted trees of :class:`models.evidence.EvidenceModel` (a
  :class:`PackedBoosting`) and its sigmoid calibration (Platt 2000).

The walks repeat scikit-learn's arithmetic in its order, so the scores are its scores (tests/models/test_packed.py
holds them to it). Rebuilding a predictor from arrays (``from_arrays``) checks that every walk stays inside its
tree: a damaged or tampered file is refused rather than read out of bounds by a kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from feeds.jit import kernel

Arrays = Mapping[str, np.ndarray]


class PackedArraysError(ValueError):
    """Arrays that do not make a predictor (missing, of the wrong shape, or indices outside their tree)."""


@dataclass(frozen=True, eq=False)
class PackedForest:
    """An isolation forest's trees, end to end in flat arrays, laid out for a walk without branches.

    Each tree's nodes are numbered breadth first so that a node's two children sit side by side: the walk goes to
    ``child[node] + (0 if x <= threshold else 1)``. A leaf is its own child and tests column ``n_features`` (always
    0) against +inf, so every walk takes exactly its tree's ``depth`` in steps and ends on its leaf; a missing value
    steps to the child scikit-learn sends it to (``nan_step``). ``feature`` is a column of the full row,
    ``leaf_depth`` the depth a row ending in that node adds: its depth in the tree plus the average path length of an
    unsuccessful search among the training samples left there, less one (Liu, Ting and Zhou 2008, eq. 1-2).
    ``start`` is where each tree's nodes begin, then the number of nodes; ``denominator`` the trees times the
    average path length of the subsample size.
    """

    start: np.ndarray
    depth: np.ndarray
    child: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_step: np.ndarray
    leaf_depth: np.ndarray
    denominator: float

    ARRAYS: ClassVar[tuple[str, ...]] = ("start", "depth", "child", "feature", "threshold", "nan_step",
                                         "leaf_depth", "denominator")  # fmt: skip

    def score_samples(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        """``IsolationForest.score_samples``: minus 2 to the minus mean path length over its normaliser."""
        depths = np.zeros(X.shape[0], np.float64)
        # the trees compare float32 values (scikit-learn's DTYPE) with float64 thresholds; the last column is
        # the 0 that leaves test
        x = np.zeros((X.shape[0], X.shape[1] + 1), np.float64)
        x[:, :-1] = np.asarray(X, np.float32)
        _path_depths(x, self.start, self.depth, self.child, self.feature, self.threshold, self.nan_step,
                     self.leaf_depth, depths)  # fmt: skip
        # a single training sample: depths and normaliser are 0 and scikit-learn takes their ratio as 1
        ratio = depths / self.denominator if self.denominator != 0 else np.ones(X.shape[0])
        return -(2.0 ** (-ratio))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Arrays, n_features: int) -> PackedForest:
        start, depth = _ints(arrays, "start"), _ints(arrays, "depth")
        child, feature, nan_step = _ints(arrays, "child"), _ints(arrays, "feature"), _ints(arrays, "nan_step")
        threshold, leaf_depth = _floats(arrays, "threshold"), _floats(arrays, "leaf_depth")
        tree_end = _tree_ends(start, child.shape[0], depth.shape[0], "forest")
        _same_length("forest", child, feature, threshold, nan_step, leaf_depth)
        node = np.arange(child.shape[0])
        leaf = child == node
        # a leaf stays put (column n_features is 0, never above +inf); a branch steps to one of two children
        # further down its own tree
        stays = (feature[leaf] == n_features).all() and (threshold[leaf] == np.inf).all()
        inner = ~leaf
        steps = ((child[inner] > node[inner]).all() and (child[inner] + 1 < tree_end[inner]).all()
                 and ((feature[inner] >= 0) & (feature[inner] < n_features)).all()
                 and np.isin(nan_step[inner], (0, 1)).all())  # fmt: skip
        if not (stays and steps and (depth >= 0).all()):
            raise PackedArraysError("forest: a node steps outside its tree or reads a column the model has not")
        return cls(start, depth, child, feature, threshold, nan_step, leaf_depth, _scalar(arrays, "denominator"))


@kernel
def _path_depths(x, start, depth, child, feature, threshold, nan_step, leaf_depth, depths):
    """Add each row's leaf depth in every tree to ``depths``, tree by tree (the order scikit-learn adds them in;
    one tree at a time also keeps its nodes in the cache). A missing value goes where the node sends it."""
    for t in range(start.shape[0] - 1):
        root = start[t]
        steps = depth[t]
        for i in range(x.shape[0]):
            node = root
            for _ in range(steps):
                v = x[i, feature[node]]
                node = child[node] + (nan_step[node] if np.isnan(v) else (0 if v <= threshold[node] else 1))
            depths[i] += leaf_depth[node]


@dataclass(frozen=True, eq=False)
class PackedUnusual:
    """What :class:`models.unusual.UnusualBehaviour` learned, for scoring: its forest, the training medians that
    fill missing features, its outlier threshold (``offset``), and per group (the value of ``group_column``; -1:
    one group) the medians and scales (interquartile ranges) that explanations measure distances in."""

    forest: PackedForest
    medians: np.ndarray
    offset: float
    group_column: int
    groups: np.ndarray
    group_medians: np.ndarray
    group_scales: np.ndarray

    KIND: ClassVar[str] = "unusual-behaviour"
    ARRAYS: ClassVar[tuple[str, ...]] = (*(f"forest_{name}" for name in PackedForest.ARRAYS), "medians", "offset",
                                         "group_column", "groups", "group_medians", "group_scales")  # fmt: skip

    @property
    def n_features(self) -> int:
        return int(self.medians.shape[0])

    def score_samples(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """The opposite of the anomaly score of Liu et al.: about -0.5 for normal rows, towards -1 for unusual."""
        return self.forest.score_samples(self._fill(_rows(X, self.n_features)))

    def decision_function(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Negative for outliers (below the fitted threshold), positive for inliers."""
        return self.score_samples(X) - self.offset

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """-1 for outliers, 1 for inliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def explain(self, X: np.ndarray, columns: list[int] | None = None, top: int = 2) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        """Per row, the ``top`` features (among ``columns``) furthest from their group's typical value.

        Returns ``(index, z)``: feature indices (n, top) and their signed distance from the group median in
        interquartile ranges; :meth:`typical` gives the median the distance is taken from.
        """
        raw = _rows(X, self.n_features)
        filled = self._fill(raw)
        k = self._group_rows(filled)
        z = (filled - self.group_medians[k]) / self.group_scales[k]
        z[np.isnan(raw)] = 0.0  # a missing feature explains nothing (it was filled with the median)
        cols = np.arange(self.n_features) if columns is None else np.asarray(columns)
        index = cols[np.argsort(-np.abs(z[:, cols]), axis=1, kind="stable")[:, :top]]
        return index, np.take_along_axis(z, index, axis=1)

    def typical(self, X: np.ndarray, feature: np.ndarray) -> np.ndarray:  # noqa: N803
        """The group median of ``feature[i]`` for each row ``i`` of ``X``."""
        filled = self._fill(_rows(X, self.n_features))
        return self.group_medians[self._group_rows(filled), feature]

    def _fill(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        return np.where(np.isnan(X), self.medians, X)

    def _group_rows(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        if self.group_column < 0:
            return np.zeros(X.shape[0], np.int64)
        values = X[:, self.group_column]
        k = np.clip(np.searchsorted(self.groups, values), 0, self.groups.shape[0] - 1)
        # a group never seen in training is compared with the most common pattern: the overall medians' group 0
        return np.where(self.groups[k] != values, 0, k)

    def arrays(self) -> dict[str, np.ndarray]:
        forest = {f"forest_{name}": a for name, a in self.forest.arrays().items()}
        return {**forest, "medians": self.medians, "offset": np.asarray(self.offset),
                "group_column": np.asarray(self.group_column), "groups": self.groups,
                "group_medians": self.group_medians, "group_scales": self.group_scales}  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> PackedUnusual:
        medians = _floats(arrays, "medians")
        n = medians.shape[0]
        forest = PackedForest.from_arrays({k.removeprefix("forest_"): v for k, v in arrays.items()}, n)
        groups = _floats(arrays, "groups")
        group_medians, group_scales = _floats(arrays, "group_medians", 2), _floats(arrays, "group_scales", 2)
        group_column = int(_scalar(arrays, "group_column"))
        if not (-1 <= group_column < n and groups.shape[0] > 0
                and group_medians.shape == group_scales.shape == (groups.shape[0], n)):  # fmt: skip
            raise PackedArraysError(f"unusual behaviour: groups do not fit {n} features")
        return cls(forest, medians, _scalar(arrays, "offset"), group_column, groups, group_medians, group_scales)


@dataclass(frozen=True, eq=False)
class PackedBoosting:
    """A gradient-boosted model's trees (HistGradientBoosting's predictors), end to end in flat arrays.

    Trees are in scikit-learn's order, iteration by iteration and within one its ``k`` trees (one a class beyond
    two, else one); tree ``t`` adds to raw score ``t % k``, which starts at ``baseline``. A node is a leaf when
    ``left`` is -1 (its ``value`` is added); otherwise a row goes left when its ``feature`` is at most ``threshold``,
    or, when missing, when ``nan_left``. Children are numbered after their parent (scikit-learn's order), so a walk
    always ends.
    """

    start: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    baseline: np.ndarray
    n_features: int

    ARRAYS: ClassVar[tuple[str, ...]] = ("start", "feature", "threshold", "nan_left", "left", "right", "value",
                                         "baseline", "n_features")  # fmt: skip

    def decision_function(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """The raw scores (n, k): the baseline plus the leaf values of the trees, added in scikit-learn's order."""
        x = np.ascontiguousarray(_rows(X, self.n_features))
        raw = np.empty((x.shape[0], self.baseline.shape[0]), np.float64)
        _raw_scores(x, self.start, self.feature, self.threshold, self.nan_left, self.left, self.right, self.value,
                    self.baseline, raw)  # fmt: skip
        return raw

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> PackedBoosting:
        start, feature, left, right = (_ints(arrays, k) for k in ("start", "feature", "left", "right"))
        threshold, value, baseline = _floats(arrays, "threshold"), _floats(arrays, "value"), _floats(arrays, "baseline")
        nan_left = _ints(arrays, "nan_left").astype(np.bool_)
        n_features = int(_scalar(arrays, "n_features"))
        trees = start.shape[0] - 1
        tree_end = _tree_ends(start, left.shape[0], trees, "boosting")
        _same_length("boosting", feature, threshold, nan_left, left, right, value)
        node = np.arange(left.shape[0])
        inner = left != -1
        ok = ((left[inner] > node[inner]).all() and (right[inner] > node[inner]).all()
              and (left[inner] < tree_end[inner]).all() and (right[inner] < tree_end[inner]).all()
              and ((feature[inner] >= 0) & (feature[inner] < n_features)).all())  # fmt: skip
        if not ok or baseline.shape[0] == 0 or trees % baseline.shape[0] != 0:
            raise PackedArraysError("boosting: a node steps outside its tree or reads a column the model has not")
        return cls(start, feature, threshold, nan_left, left, right, value, baseline, n_features)


@kernel
def _raw_scores(x, start, feature, threshold, nan_left, left, right, value, baseline, raw):
    """Each row's raw scores: the baseline, then every tree's leaf value in turn (the order of scikit-learn's
    sums, so the same floats)."""
    k = baseline.shape[0]
    for i in range(x.shape[0]):
        for c in range(k):
            raw[i, c] = 0.0 + baseline[c]  # scikit-learn adds the baseline to zeros
        for t in range(start.shape[0] - 1):
            node = start[t]
            while left[node] != -1:
                v = x[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if nan_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            raw[i, t % k] += value[node]


@dataclass(frozen=True, eq=False)
class PackedEvidence:
    """What :class:`models.evidence.EvidenceModel` learned, for scoring: the boosting's trees and, when it was
    calibrated, each raw score's sigmoid ``(a, b)`` (``calibration``, one row a raw score; none: uncalibrated)."""

    classes: np.ndarray
    boosting: PackedBoosting
    calibration: np.ndarray

    KIND: ClassVar[str] = "evidence"
    ARRAYS: ClassVar[tuple[str, ...]] = (*(f"trees_{name}" for name in PackedBoosting.ARRAYS), "classes",
                                         "calibration")  # fmt: skip

    @property
    def calibrated(self) -> bool:
        return self.calibration.shape[0] > 0

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """The classes' probabilities (n, classes), as ``CalibratedClassifierCV(HistGradientBoostingClassifier)``
        (``ensemble=False``) or, uncalibrated, as the boosting alone gives them."""
        raw = self.boosting.decision_function(X)
        if self.calibrated:  # scikit-learn's _SigmoidCalibration: expit(-(a T + b)), one-vs-rest
            p = _expit(-(self.calibration[:, 0] * raw + self.calibration[:, 1]))
        elif raw.shape[1] == 1:  # the binomial loss's link
            p = _expit(raw)
        else:  # the multinomial loss's link: softmax
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if p.shape[1] == 1:
            proba = np.column_stack([1.0 - p[:, 0], p[:, 0]])
        else:  # the one-vs-rest probabilities normalised; all zero: uniform
            total = p.sum(axis=1, keepdims=True)
            proba = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total != 0)
        # (scikit-learn then sets values a hair above 1 to 1: neither 1 - p nor a share of a sum of non-negative
        # numbers ever is, in floating point too)
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        trees = {f"trees_{name}": a for name, a in self.boosting.arrays().items()}
        return {**trees, "classes": self.classes, "calibration": self.calibration}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> PackedEvidence:
        boosting = PackedBoosting.from_arrays({k.removeprefix("trees_"): v for k, v in arrays.items()})
        classes, calibration = _array(arrays, "classes", 1), _floats(arrays, "calibration", 2)
        k = boosting.baseline.shape[0]
        if classes.shape[0] != (2 if k == 1 else k) or calibration.shape not in ((0, 2), (k, 2)):
            raise PackedArraysError(f"evidence: {classes.shape[0]} classes, {k} raw scores and calibration of "
                                    f"shape {calibration.shape} do not go together")  # fmt: skip
        return cls(classes, boosting, calibration)


def _expit(z: np.ndarray) -> np.ndarray:
    """scipy.special.expit, which scikit-learn's links and calibration use: 1 / (1 + exp(-z)) with the C library's
    exp (compiled, as scipy's is: numpy's own exp differs from it in the last bit for about 2 % of values)."""
    flat = np.ascontiguousarray(z, np.float64).ravel()
    out = np.empty_like(flat)
    _expit_kernel(flat, out)
    return out.reshape(np.shape(z))


@kernel
def _expit_kernel(z, out):
    for i in range(z.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-z[i]))


def _rows(X: np.ndarray, n_features: int) -> np.ndarray:  # noqa: N803
    x = np.asarray(X, np.float64)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"expected rows of {n_features} features, got an array of shape {x.shape}")
    return x


def _array(arrays: Arrays, name: str, ndim: int) -> np.ndarray:
    a = arrays.get(name)
    if not isinstance(a, np.ndarray) or a.ndim != ndim:
        raise PackedArraysError(f"{name}: expected a {ndim}-d array, found {type(a).__name__} "
                                f"{getattr(a, 'shape', '')}")  # fmt: skip
    return a


def _ints(arrays: Arrays, name: str) -> np.ndarray:
    a = _array(arrays, name, 1)
    if a.dtype.kind not in "iub":
        raise PackedArraysError(f"{name}: expected integers, found {a.dtype}")
    return np.ascontiguousarray(a, np.int64)


def _floats(arrays: Arrays, name: str, ndim: int = 1) -> np.ndarray:
    a = _array(arrays, name, ndim)
    if a.dtype.kind not in "fiu":
        raise PackedArraysError(f"{name}: expected numbers, found {a.dtype}")
    return np.ascontiguousarray(a, np.float64)


def _scalar(arrays: Arrays, name: str) -> float:
    a = _array(arrays, name, 0)
    if a.dtype.kind not in "fiu":
        raise PackedArraysError(f"{name}: expected a number, found {a.dtype}")
    return float(a)


def _tree_ends(start: np.ndarray, nodes: int, trees: int, what: str) -> np.ndarray:
    """Each node's end of tree (the first node of the next), after checking ``start`` cuts ``nodes`` into
    ``trees`` non-empty trees."""
    cut = start.shape[0] == trees + 1 > 0 and start[0] == 0 and start[-1] == nodes and (np.diff(start) > 0).all()
    if not cut:
        raise PackedArraysError(f"{what}: tree starts {start[:4]}... do not cut {nodes} nodes into {trees} trees")
    return np.repeat(start[1:], np.diff(start))


def _same_length(what: str, *columns: np.ndarray) -> None:
    if len({c.shape[0] for c in columns}) != 1:
        raise PackedArraysError(f"{what}: node arrays of different lengths {[c.shape[0] for c in columns]}")
