"""What is normal: an unsupervised model of vessel-days, and the features that make a day unusual.

:class:`UnusualBehaviour` is an IsolationForest (Liu, Ting and Zhou 2008) over per-vessel-day features
(:data:`models.features.DAY_FEATURES` plus the vessel's type group and where it was) with two additions an
analyst needs: missing features are filled with the training medians, and :meth:`UnusualBehaviour.explain` names
the features furthest from what is typical *for the row's group* (its type of vessel) in robust units
(distance from the group's median in interquartile ranges).

The fitted forest is kept as a few flat arrays (:class:`PackedForest`) rather than scikit-learn's hundred tree
objects: a model file then loads in milliseconds instead of ~0.1 s (skops rebuilds every object of every tree),
and a compiled walk scores rows with the exact arithmetic of ``IsolationForest.score_samples`` (tested against it).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.utils.validation import check_is_fitted, validate_data

from feeds.jit import kernel

TREE_LEAF = -1  # scikit-learn's child index of a leaf


class PackedForest:
    """An isolation forest's trees, end to end in flat arrays, laid out for a walk without branches.

    Each tree's nodes are renumbered breadth first so that a node's two children sit side by side: the walk goes
    to ``child[node] + (0 if x <= threshold else 1)``. A leaf is its own child and tests a column that is always
    0 against +inf, so every walk takes exactly its tree's depth in steps and ends on its leaf; a missing value
    steps to the child scikit-learn sends it to (``nan_step``). ``feature`` is a
    column of the full row (each tree's own column subset mapped back), ``leaf_depth`` the depth a row ending in
    that node adds: its depth in the tree plus the average path length of an unsuccessful search among the
    training samples left there, less one (Liu et al. 2008, eq. 1-2).
    """

    def __init__(self, forest: IsolationForest) -> None:
        n_features = forest.n_features_in_
        # trees of a forest drawing every feature were fitted on the rows as they are (their drawn order unused)
        every = forest._max_features == n_features
        child, feature, threshold, nan_step, leaf_depth, starts, depths = [], [], [], [], [], [0], []
        for est, cols, paths, average in zip(forest.estimators_, forest.estimators_features_,
                                             forest._decision_path_lengths, forest._average_path_length_per_tree,
                                             strict=True):  # fmt: skip
            tree = est.tree_
            order, kids = _breadth_first(tree.children_left, tree.children_right)
            leaf = kids == np.arange(order.shape[0])
            columns = np.arange(n_features) if every else np.asarray(cols, np.int64)
            child.append(kids + starts[-1])
            feature.append(np.where(leaf, n_features, columns[np.maximum(tree.feature[order], 0)]))
            threshold.append(np.where(leaf, np.inf, tree.threshold[order]))
            nan_step.append(np.where(tree.missing_go_to_left[order], 0, 1))
            leaf_depth.append((np.asarray(paths, np.float64) + np.asarray(average, np.float64) - 1.0)[order])
            starts.append(starts[-1] + order.shape[0])
            depths.append(tree.max_depth)
        self.start = np.array(starts, np.int64)
        self.depth = np.array(depths, np.int64)
        self.child = np.concatenate(child).astype(np.int64)
        self.feature = np.concatenate(feature).astype(np.int64)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.nan_step = np.concatenate(nan_step).astype(np.int64)
        self.leaf_depth = np.concatenate(leaf_depth)
        self.denominator = float(len(depths) * _average_path_length([forest._max_samples])[0])

    def score_samples(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
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


def _breadth_first(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A tree's nodes in breadth-first order (old numbers), and each one's first child in the new numbering
    (itself for a leaf); the second child follows the first."""
    order, kids = [0], []
    for k, old in enumerate(order):  # grows while it is walked
        if left[old] == TREE_LEAF:
            kids.append(k)
        else:
            kids.append(len(order))
            order += [int(left[old]), int(right[old])]
    return np.array(order, np.int64), np.array(kids, np.int64)


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


class UnusualBehaviour(OutlierMixin, BaseEstimator):
    """IsolationForest with median imputation and per-group explanations.

    Parameters
    ----------
    n_estimators, max_samples, contamination, random_state:
        passed to :class:`sklearn.ensemble.IsolationForest`.
    group_column:
        index of a column holding a group code (e.g. the ship type group); typical values for explanations are
        taken within the row's group. ``None``: one group.
    """

    def __init__(self, n_estimators: int = 200, max_samples: int | str = "auto", contamination: float | str = "auto",
                 group_column: int | None = None, random_state: int | None = None) -> None:  # fmt: skip
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.group_column = group_column
        self.random_state = random_state

    def fit(self, X, y=None):  # noqa: N803 (scikit-learn's names)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column's median is NaN: filled with 0
            self.medians_ = np.nan_to_num(np.nanmedian(X, axis=0))
        filled = self._fill(X)
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                 contamination=self.contamination, random_state=self.random_state)  # fmt: skip
        forest.fit(filled)
        self.forest_ = PackedForest(forest)
        self.offset_ = forest.offset_
        groups = filled[:, self.group_column] if self.group_column is not None else np.zeros(filled.shape[0])
        self.groups_ = np.unique(groups)
        self.group_medians_ = np.empty((self.groups_.shape[0], filled.shape[1]))
        self.group_scales_ = np.empty_like(self.group_medians_)
        overall_scale = _scale(filled)
        for k, g in enumerate(self.groups_):
            rows = filled[groups == g]
            self.group_medians_[k] = np.median(rows, axis=0)
            scale = _scale(rows)
            self.group_scales_[k] = np.where(scale > 0, scale, overall_scale)
        self.group_scales_[self.group_scales_ <= 0] = 1.0
        return self

    def _fill(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.medians_, X)

    def score_samples(self, X) -> np.ndarray:  # noqa: N803
        """The opposite of the anomaly score of Liu et al.: about -0.5 for normal rows, towards -1 for unusual."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return self.forest_.score_samples(self._fill(X))

    def decision_function(self, X) -> np.ndarray:  # noqa: N803
        """Negative for outliers (below the fitted threshold), positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """-1 for outliers, 1 for inliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def explain(self, X, columns: list[int] | None = None, top: int = 2) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        """Per row, the ``top`` features (among ``columns``) furthest from their group's typical value.

        Returns ``(index, z)``: feature indices (n, top) and their signed distance from the group median in
        interquartile ranges; ``typical_(row, feature)`` gives the median the distance is taken from.
        """
        check_is_fitted(self)
        raw = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        X = self._fill(raw)
        k = self._group_rows(X)
        z = (X - self.group_medians_[k]) / self.group_scales_[k]
        z[np.isnan(raw)] = 0.0  # a missing feature explains nothing (it was filled with the median)
        cols = np.arange(X.shape[1]) if columns is None else np.asarray(columns)
        order = np.argsort(-np.abs(z[:, cols]), axis=1, kind="stable")[:, :top]
        index = cols[order]
        return index, np.take_along_axis(z, index, axis=1)

    def typical(self, X, feature: np.ndarray) -> np.ndarray:  # noqa: N803
        """The group median of ``feature[i]`` for each row ``i`` of ``X``."""
        X = self._fill(validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False))
        return self.group_medians_[self._group_rows(X), feature]

    def _group_rows(self, X: np.ndarray) -> np.ndarray:
        if self.group_column is None:
            return np.zeros(X.shape[0], np.int64)
        k = np.searchsorted(self.groups_, X[:, self.group_column])
        k = np.clip(k, 0, self.groups_.shape[0] - 1)
        unseen = self.groups_[k] != X[:, self.group_column]
        # a group never seen in training is compared with the most common pattern: the overall medians' group 0
        return np.where(unseen, 0, k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _scale(rows: np.ndarray) -> np.ndarray:
    q75, q25 = np.percentile(rows, [75, 25], axis=0)
    iqr = q75 - q25
    std = rows.std(axis=0)
    return np.where(iqr > 0, iqr, std)
