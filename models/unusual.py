"""What is normal: an unsupervised model of vessel-days, and the features that make a day unusual.

:class:`UnusualBehaviour` is an IsolationForest (Liu, Ting and Zhou 2008) over per-vessel-day features
(:data:`models.features.DAY_FEATURES` plus the vessel's type group and where it was) with two additions an
analyst needs: missing features are filled with the training medians, and :meth:`UnusualBehaviour.explain` names
the features furthest from what is typical *for the row's group* (its type of vessel) in robust units
(distance from the group's median in interquartile ranges).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted, validate_data


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
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                       contamination=self.contamination,
                                       random_state=self.random_state).fit(filled)  # fmt: skip
        self.offset_ = self.forest_.offset_
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
