"""Fleet index: MMSI -> dense vessel id, so per-vessel state lives in arrays indexed by id.

Ids are given in order of first appearance and never change; ``mmsi[vid]`` maps back. Lookups are vectorised
(a sorted copy of the known MMSIs and ``searchsorted``): no Python object per message.
"""

from __future__ import annotations

import numpy as np


class VesselIndex:
    """Dense ids for MMSIs: 8 bytes for the MMSI and 16 for the sorted lookup, per vessel."""

    def __init__(self, mmsi: np.ndarray | None = None) -> None:
        self._mmsi = np.zeros(0, np.int64) if mmsi is None else np.asarray(mmsi, np.int64).copy()
        self._reindex()

    def _reindex(self) -> None:
        self._order = np.argsort(self._mmsi, kind="stable")
        self._sorted = self._mmsi[self._order]

    @property
    def size(self) -> int:
        """Vessels known so far (ids are 0 .. size-1)."""
        return int(self._mmsi.shape[0])

    @property
    def mmsi(self) -> np.ndarray:
        """MMSI of each vessel id (read-only view)."""
        view = self._mmsi.view()
        view.flags.writeable = False
        return view

    def lookup(self, mmsi: np.ndarray) -> np.ndarray:
        """Ids of known MMSIs; -1 for unknown ones."""
        mmsi = np.asarray(mmsi, np.int64)
        if self.size == 0:
            return np.full(mmsi.shape[0], -1, np.int64)
        pos = np.searchsorted(self._sorted, mmsi).clip(max=self.size - 1)
        found = self._sorted[pos] == mmsi
        return np.where(found, self._order[pos], -1).astype(np.int64)

    def ids(self, mmsi: np.ndarray) -> np.ndarray:
        """Ids of ``mmsi``, giving new ids (in order of first appearance) to MMSIs never seen before."""
        mmsi = np.asarray(mmsi, np.int64)
        if mmsi.shape[0] == 0:
            return np.zeros(0, np.int64)
        # a batch names few vessels many times: look up each distinct MMSI once
        uniq, first, inverse = np.unique(mmsi, return_index=True, return_inverse=True)
        vid = self.lookup(uniq)
        new = vid < 0
        if new.any():
            order = np.argsort(first[new], kind="stable")  # first appearance order, whatever the values
            self._mmsi = np.concatenate([self._mmsi, uniq[new][order]])
            self._reindex()
            vid = self.lookup(uniq)
        return vid[inverse.reshape(-1)]

    def state(self) -> dict[str, np.ndarray]:
        return {"mmsi": self._mmsi.copy()}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> VesselIndex:
        return cls(arrays["mmsi"])
