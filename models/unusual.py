"""What is normal: an unsupervised model of vessel-days, and the features that make a day unusual (training side).

:class:`UnusualBehaviour` is an IsolationForest (Liu, Ting and Zhou 2008) over per-vessel-day features
(:data:`models.features.DAY_FEATURES` plus the vessel's type group and where it was) with two additions an
analyst needs: missing features are filled with the training medians, and :meth:`UnusualBehaviour.explain` names
the features furthest from what is typical *for the row's group* (its type of vessel) in robust units
(distance from the group's median in interquartile ranges).

Fitting needs scikit-learn and is done by ``seawatch train`` only. What it learns is kept as
:class:`models.packed.PackedUnusual` (``predictor_``): the forest as a few flat arrays walked by a compiled kernel
with the exact arithmetic of ``IsolationForest.score_samples`` (tested against it), which is what a model file
holds and scoring uses, without scikit-learn. This estimator's predictions are the predictor's.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.utils.validation import check_is_fitted, validate_data

from models.packed import PackedForest, PackedUnusual

TREE_LEAF = -1  # scikit-learn's child index of a leaf


def pack_forest(forest: IsolationForest) -> PackedForest:
    """``forest``'s trees as one :class:`models.packed.PackedForest` (each tree's nodes breadth first, its column
    subset mapped back to the full row's columns, each leaf's depth with its unsuccessful-search term added)."""
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
    return PackedForest(
        start=np.array(starts, np.int64),
        depth=np.array(depths, np.int64),
        child=np.concatenate(child).astype(np.int64),
        feature=np.concatenate(feature).astype(np.int64),
        threshold=np.concatenate(threshold).astype(np.float64),
        nan_step=np.concatenate(nan_step).astype(np.int64),
        leaf_depth=np.concatenate(leaf_depth),
        denominator=float(len(depths) * _average_path_length([forest._max_samples])[0]),
    )


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
            medians = np.nan_to_num(np.nanmedian(X, axis=0))
        filled = np.where(np.isnan(X), medians, X)
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                 contamination=self.contamination, random_state=self.random_state)  # fmt: skip
        forest.fit(filled)
        groups = filled[:, self.group_column] if self.group_column is not None else np.zeros(filled.shape[0])
        known = np.unique(groups)
        group_medians = np.empty((known.shape[0], filled.shape[1]))
        group_scales = np.empty_like(group_medians)
        overall_scale = _scale(filled)
        for k, g in enumerate(known):
            rows = filled[groups == g]
            group_medians[k] = np.median(rows, axis=0)
            scale = _scale(rows)
            group_scales[k] = np.where(scale > 0, scale, overall_scale)
        group_scales[group_scales <= 0] = 1.0
        self.forest_ = forest  # scikit-learn's, which the packed forest is tested against
        self.offset_ = float(forest.offset_)
        self.predictor_ = PackedUnusual(
            forest=pack_forest(forest), medians=medians, offset=self.offset_,
            group_column=-1 if self.group_column is None else int(self.group_column), groups=known,
            group_medians=group_medians, group_scales=group_scales,
        )  # fmt: skip
        return self

    def _rows(self, X) -> np.ndarray:  # noqa: N803
        """``X`` validated, after checking the model is fitted (before ``predictor_`` is looked up)."""
        check_is_fitted(self)
        return validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)

    def score_samples(self, X) -> np.ndarray:  # noqa: N803
        """The opposite of the anomaly score of Liu et al.: about -0.5 for normal rows, towards -1 for unusual."""
        rows = self._rows(X)
        return self.predictor_.score_samples(rows)

    def decision_function(self, X) -> np.ndarray:  # noqa: N803
        """Negative for outliers (below the fitted threshold), positive for inliers."""
        rows = self._rows(X)
        return self.predictor_.decision_function(rows)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """-1 for outliers, 1 for inliers."""
        rows = self._rows(X)
        return self.predictor_.predict(rows)

    def explain(self, X, columns: list[int] | None = None, top: int = 2) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        """:meth:`models.packed.PackedUnusual.explain`: per row, the ``top`` features furthest from their group's
        typical value, and how far in interquartile ranges."""
        rows = self._rows(X)
        return self.predictor_.explain(rows, columns, top)

    def typical(self, X, feature: np.ndarray) -> np.ndarray:  # noqa: N803
        """The group median of ``feature[i]`` for each row ``i`` of ``X``."""
        rows = self._rows(X)
        return self.predictor_.typical(rows, feature)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _scale(rows: np.ndarray) -> np.ndarray:
    q75, q25 = np.percentile(rows, [75, 25], axis=0)
    iqr = q75 - q25
    std = rows.std(axis=0)
    return np.where(iqr > 0, iqr, std)
