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
    """An isolation forest's trees, end to end in flat arrays: node ``k`` of tree ``t`` is at ``start[t] + k``.

    ``feature`` is a column of the full row (each tree's own column subset already mapped back), ``leaf_depth``
    the depth a row ending in that node adds: its depth in the tree plus the average path length of an
    unsuccessful search among the training samples left there, less one (Liu et al. 2008, eq. 1-2).
    """

    def __init__(self, forest: IsolationForest) -> None:
        trees = [e.tree_ for e in forest.estimators_]
        self.start = np.concatenate([[0], np.cumsum([t.node_count for t in trees])]).astype(np.int64)
        self.left = np.concatenate([_global(t.children_left, s) for t, s in zip(trees, self.start, strict=False)])
        self.right = np.concatenate([_global(t.children_right, s) for t, s in zip(trees, self.start, strict=False)])
        # trees of a forest drawing every feature were fitted on the rows as they are (their drawn order unused)
        every = forest._max_features == forest.n_features_in_
        columns = [np.arange(forest.n_features_in_) if every else np.asarray(c) for c in forest.estimators_features_]
        self.feature = np.concatenate(
            [cols.astype(np.int64)[np.maximum(t.feature, 0)] for t, cols in zip(trees, columns, strict=True)]
        )
        self.threshold = np.concatenate([t.threshold for t in trees]).astype(np.float64)
        self.leaf_depth = np.concatenate(
            [np.asarray(d, np.float64) + np.asarray(a, np.float64) - 1.0 for d, a in
             zip(forest._decision_path_lengths, forest._average_path_length_per_tree, strict=True)]
        )  # fmt: skip
        self.denominator = float(len(trees) * _average_path_length([forest._max_samples])[0])

    def score_samples(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """``IsolationForest.score_samples``: minus 2 to the minus mean path length over its normaliser."""
        depths = np.zeros(X.shape[0], np.float64)
        # the trees compare float32 values (scikit-learn's DTYPE) with float64 thresholds
        x32 = np.ascontiguousarray(X, np.float32).astype(np.float64)
        _path_depths(x32, self.start, self.left, self.right, self.feature, self.threshold, self.leaf_depth, depths)
        # a single training sample: depths and normaliser are 0 and scikit-learn takes their ratio as 1
        ratio = depths / self.denominator if self.denominator != 0 else np.ones(X.shape[0])
        return -(2.0 ** (-ratio))


def _global(children: np.ndarray, start: int) -> np.ndarray:
    return np.where(children == TREE_LEAF, TREE_LEAF, children + start).astype(np.int64)


@kernel
def _path_depths(x, start, left, right, feature, threshold, leaf_depth, depths):
    """Add each row's leaf depth in every tree to ``depths``, tree by tree (the order scikit-learn adds them in;
    one tree at a time also keeps its nodes in the cache)."""
    for t in range(start.shape[0] - 1):
        root = start[t]
        for i in range(x.shape[0]):
            node = root
            while left[node] != TREE_LEAF:
                node = left[node] if x[i, feature[node]] <= threshold[node] else right[node]
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
