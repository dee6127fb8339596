"""Fleet index: MMSI -> dense vessel id, so per-vessel state lives in arrays indexed by id.

Ids are given in order of first appearance and never change; ``mmsi[vid]`` maps back. Lookups are vectorised
(a sorted copy of the known MMSIs and ``searchsorted``); giving ids walks the batch once through an open-addressing
hash table kept with the index: no Python object per message, no sort of the batch.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel

_EMPTY = np.iinfo(np.int64).min  # a free slot of the hash table (no MMSI is this)
_MAX_LOAD = 0.5  # the table is grown (doubled) before it is half full


@kernel
def _slot(keys, m):
    mask = keys.shape[0] - 1
    h = np.uint64(m) * np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: MMSIs are clustered by country
    i = np.int64((h >> np.uint64(29)) & np.uint64(mask))
    while keys[i] != m and keys[i] != _EMPTY:
        i = (i + 1) & mask
    return i


@kernel
def _insert_all(keys, vals, mmsi):
    for v in range(mmsi.shape[0]):
        i = _slot(keys, mmsi[v])
        keys[i] = mmsi[v]
        vals[i] = v


@kernel
def _ids(keys, vals, size, limit, mmsi, start, out, new):
    """Ids of ``mmsi[start:]`` into ``out``, new MMSIs appended to ``new`` (ids from ``size`` on). Stops when the
    table holds ``limit`` MMSIs: returns (where it stopped, the table's new size)."""
    for k in range(start, mmsi.shape[0]):
        if size >= limit:
            return k, size
        m = mmsi[k]
        i = _slot(keys, m)
        if keys[i] == _EMPTY:
            keys[i] = m
            vals[i] = size
            new[size] = m
            size += 1
        out[k] = vals[i]
    return mmsi.shape[0], size


class VesselIndex:
    """Dense ids for MMSIs: 8 bytes for the MMSI and 16 for the sorted lookup, per vessel."""

    def __init__(self, mmsi: np.ndarray | None = None) -> None:
        self._mmsi = np.zeros(0, np.int64) if mmsi is None else np.asarray(mmsi, np.int64).copy()
        self._reindex()
        self._keys = np.zeros(0, np.int64)  # the hash table (MMSI -> id), built on the first call of ids
        self._vals = np.zeros(0, np.int64)

    def _rehash(self, size: int) -> None:
        """A table with room for ``size`` MMSIs, holding the known ones."""
        cap = 1024
        while cap * _MAX_LOAD < size:
            cap *= 2
        self._keys, self._vals = np.full(cap, _EMPTY, np.int64), np.zeros(cap, np.int64)
        _insert_all(self._keys, self._vals, self._mmsi)

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
        mmsi = np.ascontiguousarray(mmsi, np.int64).reshape(-1)
        n = mmsi.shape[0]
        if n == 0:
            return np.zeros(0, np.int64)
        if bool((mmsi == _EMPTY).any()):
            raise ValueError(f"MMSI {_EMPTY} cannot be indexed (it marks a free slot)")
        if self._keys.shape[0] == 0:
            self._rehash(self.size + 1)
        out = np.empty(n, np.int64)
        new = np.empty(self.size + n, np.int64)
        new[: self.size] = self._mmsi
        start, size = 0, self.size
        known = self.size
        while True:
            start, size = _ids(self._keys, self._vals, size, int(self._keys.shape[0] * _MAX_LOAD), mmsi, start, out,
                               new)  # fmt: skip
            if start == n:
                break
            self._mmsi = new[:size]
            self._rehash(2 * size)
        if size > known:
            self._mmsi = new[:size].copy()
            self._reindex()
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"mmsi": self._mmsi.copy()}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> VesselIndex:
        return cls(arrays["mmsi"])
