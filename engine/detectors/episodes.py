"""Helpers the per-vessel episode detectors share: what a vessel said it was at each fix, and the latest version
of each episode reported in a step (one alert row per episode, however many fixes extended it)."""

from __future__ import annotations

import numpy as np

from engine.fixes import NO_TIME, Fixes, Identities
from feeds.jit import kernel

FISHING = 30  # ITU-R M.1371 ship type 30: fishing
SMALL_CRAFT = (30, 36, 37)  # fishing, sailing, pleasure craft (ITU-R M.1371)
WORKING_TYPES = (30, 59)  # fishing, towing, dredging, diving, military, sailing, pleasure, HSC, pilot, SAR, tugs...
HEAVY_TYPES = (70, 89)  # cargo 70-79 and tankers 80-89: 30 kn is already impossible (DESIGN.md, industry practice)


@kernel
def _ship_type_at(f_vid, f_t, f_arr, i_vid, i_t, i_arr, i_type, known, out):
    """Merge-walk fixes and identity reports, both sorted by (vid, t, arrival): each fix gets the last ship type
    its vessel reported up to it (``known`` carries it between steps; -1 when never reported)."""
    j = 0
    m = i_vid.shape[0]
    for i in range(f_vid.shape[0]):
        while j < m and (
            i_vid[j] < f_vid[i]
            or (i_vid[j] == f_vid[i] and (i_t[j] < f_t[i] or (i_t[j] == f_t[i] and i_arr[j] < f_arr[i])))
        ):
            if i_type[j] >= 0:
                known[i_vid[j]] = i_type[j]
            j += 1
        out[i] = known[f_vid[i]]
    while j < m:
        if i_type[j] >= 0:
            known[i_vid[j]] = i_type[j]
        j += 1


def ship_type_at(fixes: Fixes, identities: Identities, known: np.ndarray) -> np.ndarray:
    """Ship type (int64, -1 unknown) known at each fix; updates ``known`` (indexed by vid) in place. The array is
    read-only: it is shared.

    Four detectors ask at each step, each with its own ``known`` (kept in its snapshot), and those are equal: the
    walk is done once a step. The answer is kept on ``fixes`` with ``known`` before and after it; a caller with the
    same ``identities`` whose ``known`` equals the one before gets the answer and the ``known`` after (one that
    differs, a detector restored or made apart from the others, walks for itself).
    """
    kept = fixes.shared.get("ship_type_at")
    if kept is not None and kept[0] is identities and np.array_equal(kept[1], known):
        known[:] = kept[2]
        out: np.ndarray = kept[3]
        return out
    before = known.copy()
    out = np.empty(len(fixes), np.int64)
    _ship_type_at(fixes.vid, fixes.t_us, fixes.arrival, identities.vid, identities.t_us, identities.arrival,
                  identities.ship_type.astype(np.int64), known, out)  # fmt: skip
    out.flags.writeable = False
    fixes.shared["ship_type_at"] = (identities, before, known.copy(), out)
    return out


def latest_per_episode(vid: np.ndarray, start_us: np.ndarray) -> np.ndarray:
    """Indices of the last row of each (vid, start) among rows with a start (``!= NO_TIME``), in row order.

    Rows are sorted by (vid, time), so the last row of an episode carries its latest end and evidence.
    """
    rows = np.flatnonzero(start_us != NO_TIME)
    if rows.size == 0:
        return rows
    key_v, key_s = vid[rows], start_us[rows]
    last = np.ones(rows.size, np.bool_)
    last[:-1] = (key_v[1:] != key_v[:-1]) | (key_s[1:] != key_s[:-1])
    return rows[last]


def fmt_h(hours: float) -> str:
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
