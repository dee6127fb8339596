"""What a meeting of two vessels at sea is: a ship-to-ship *transfer*, an *encounter*, or normal work.

A **transfer** is what patrols board for: two vessels *alongside* at low speed, at sea, for ``transfer_min`` or
more. Two hulls moored together do not report the same position: each GPS antenna sits somewhere on its hull (a
tanker's on the bridge, aft; a fishing boat's anywhere) and fixes jitter by tens of metres, so their AIS positions
are typically 30-150 m apart. A pair is therefore alongside when nearly all (``alongside_share``) of a trailing
window of ``transfer_min`` finds it within ``alongside_km``, the top of that range: a stray fix beyond it is
jitter, and a pair that only passes or gathers close (then drifts 200 m and more apart, as fishing boats do at
night) is within it for part of the window only. The window takes the slices it has (class B, fading
reception), as long as the meeting itself goes on. The alert gives the pair's typical (median) separation.

An **encounter** is Global Fishing Watch's: within ``max_km`` for ``min_h`` at a median speed under ``max_kn``. GFW
publishes encounters of carriers (and other vessels) with fishing vessels, not between two fishing vessels, which
drift and fish near each other all night: a pair of ``fleet_types`` is no encounter (it is still a transfer when it
comes alongside). Pair trawlers tow together at 2.5-5 kn: the speed rule leaves them out, and when they stop to
haul side by side, their meeting as a whole is still at trawling speed: two fishing vessels make a transfer only
in a meeting slow as a whole. Fishing boats that never said their type (class B often sends its static report
rarely) work in groups: a vessel of unknown type close to ``company_n`` fishing vessels at once is taken as one of
them (its type shows as inferred).

**Normal work**: pilot boats, tugs, port tenders, search and rescue, law enforcement and towing vessels
(``service_types``) meet other vessels as their job; near ports and anchorages every vessel does (the
``offshore_km`` rule of the detector). Neither is reported.

Ship types are those the vessels reported (types 5, 19, 24) up to each slice; unknown types exclude nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.detectors.episodes import fmt_h


@dataclass(frozen=True)
class EncounterSettings:
    max_km: float = 0.5  # GFW encounters: within 500 m
    min_h: float = 2.0  # GFW encounters: for at least 2 h
    max_kn: float = 2.0  # GFW encounters: median speed below 2 knots (transfers too: moored together, drifting)
    offshore_km: float = 10.0  # GFW encounters: at least 10 km from a port or anchorage
    slice_min: float = 10.0  # time slice on which positions are aligned
    stale_min: float = 30.0  # a fix stands for the vessel's position this long (class B at anchor: 3 min reports)
    max_missed: int = 2  # slices apart (or unheard) before a meeting ends
    interp_h: float = 2.0  # fixes up to this far apart are interpolated (sparse, satellite-only reception); alerts
    # wait this long for the next fix, so 0 gives the lowest latency (last fixes carried forward only)
    dark_window_h: float = 12.0  # how far back a vessel that reappears is looked for a partner it met while dark
    dark_reappear_h: float = 1.0  # a vessel that sailed to a meeting dark reappears within this of leaving it: small
    # craft that bunker or load at sea switch AIS back on once clear of the meeting (the partner's silence is not
    # tied to a meeting that ended many hours before it reappeared)
    dark_speed_margin: float = 1.25  # a dark vessel's speed is taken as up to this much above what it reported
    # before vanishing and after reappearing (a boat can push harder while dark; 25 % covers a fishing boat at 8 kn
    # making 10)
    alongside_km: float = 0.15  # two hulls moored together: AIS positions 30-150 m apart (antenna placement on each
    # hull, GPS jitter; typically ~100 m), judged over the window, not on each fix (module docstring)
    alongside_share: float = 0.8  # of the window's slices within alongside_km: one stray fix in five is jitter
    transfer_min: float = 45.0  # ship-to-ship transfers of fuel to small craft take 30-60 min once moored (coast guard
    # boarding reports); 45 min outlasts a close pass or a brief stop beside another vessel (minutes)
    service_types: tuple[int, ...] = (31, 32, 50, 51, 52, 53, 55)  # ITU-R M.1371: towing (31, 32), pilot (50), SAR
    # (51), tug (52), port tender (53), law enforcement (55): meeting other vessels is their work
    fleet_types: tuple[int, ...] = (30,)  # ITU-R M.1371 fishing: two of them close is fishing together, not a GFW
    # encounter (GFW's encounters leave out fishing-fishing pairs); alongside they are still a transfer
    company_n: int = 2  # fishing vessels close at once that make a vessel of unknown type one of their group (light
    # and purse-seine fleets fish in groups; a carrier or tanker meets one boat at a time)

    @property
    def window_slices(self) -> int:
        """Slices a transfer's window reaches back: ``n`` slices make ``n * slice_min >= transfer_min``."""
        return max(1, math.ceil(self.transfer_min / self.slice_min - 1e-9))


@dataclass
class Meeting:
    start_us: int
    end_us: int
    last_slice: int
    slices: int = 0
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    km_sum: float = 0.0
    speeds_a: list[float] = field(default_factory=list)
    speeds_b: list[float] = field(default_factory=list)
    qualified: bool = False
    dark: int = -1  # MMSI of a vessel that was dark throughout (its position is where it vanished)
    changed: bool = False
    seq: int = 0  # order of creation among the open meetings (the order they end in, within a slice)
    ks: list[int] = field(default_factory=list)  # the slice of each entry of speeds_a, speeds_b, kms
    kms: list[float] = field(default_factory=list)  # the pair's distance at each of its slices
    type_a: int = -1  # ship types (ITU-R M.1371) of the lower and the higher MMSI at the last slice; -1 unknown,
    # + INFERRED when inferred from the company the vessel keeps
    type_b: int = -1
    alongside: bool = False  # a transfer: some window of transfer_min was alongside
    along_s0: int = -1  # first and last slice within alongside_km of the windows that were alongside
    along_s1: int = -1
    route: tuple[float, float, float, float] | None = None  # a partner that sailed to the meeting dark: km from
    # where it vanished, hours from vanishing to the meeting, km to where it reappeared, hours from the meeting's end


INFERRED = 1000  # added to a ship type inferred rather than reported (ship types are 0-99)


def known_type(ship_type: float) -> int:
    """A ship type as carried in float columns: -1 when unknown (NaN or negative)."""
    return int(ship_type) if ship_type >= 0 else -1


def latest_known_type(types: list[float], r: int, e: int, before: int) -> int:
    """The last known ship type among ``types[r:e]``, else ``before``: a type once learned (reported, or inferred
    from the company a vessel keeps) stays while later slices know none."""
    for q in range(e - 1, r - 1, -1):
        if types[q] >= 0:
            return int(types[q])
    return before


def median_kn(speeds: list[float]) -> float:
    """Median speed, NaN when none is known: ``np.nanmedian``'s value (the middle one, or the two middle ones'
    sum halved), in plain Python: a meeting asks at each slice, mostly of a few speeds, where numpy's call cost
    twenty times the sort."""
    known = sorted(x for x in speeds if not math.isnan(x))
    n = len(known)
    if not n:
        return math.nan
    return known[n // 2] if n % 2 else (known[n // 2 - 1] + known[n // 2]) / 2.0


def is_slow(speeds_a: list[float], speeds_b: list[float], max_kn: float) -> bool:
    """Both median speeds known and under ``max_kn``."""
    return median_kn(speeds_a) < max_kn and median_kn(speeds_b) < max_kn


def is_service(m: Meeting, st: EncounterSettings) -> bool:
    """One of the pair does this as its work (pilot, tug, tender, SAR, law enforcement, towing)."""
    return m.type_a in st.service_types or m.type_b in st.service_types


def is_fleet_pair(m: Meeting, st: EncounterSettings) -> bool:
    """Both are of the ``fleet_types`` (two fishing vessels), reported or inferred."""
    return m.type_a % INFERRED in st.fleet_types and m.type_b % INFERRED in st.fleet_types


def infer_fleet(types: np.ndarray, i: np.ndarray, j: np.ndarray, st: EncounterSettings) -> np.ndarray:
    """Ship types (float, NaN or negative unknown) of points paired ``(i, j)`` in one slice, with each point of
    unknown type that is paired with ``company_n`` or more points of the ``fleet_types`` taken as one of them
    (``fleet_types[0] + INFERRED``)."""
    if not st.fleet_types or not i.shape[0]:
        return types
    unknown, fleet = ~(types >= 0), np.isin(types, st.fleet_types)
    n = types.shape[0]
    company = np.bincount(i[unknown[i] & fleet[j]], minlength=n) + np.bincount(j[unknown[j] & fleet[i]], minlength=n)
    out = types.copy()
    out[unknown & (company >= st.company_n)] = st.fleet_types[0] + INFERRED
    return out


def alongside_now(m: Meeting, st: EncounterSettings) -> tuple[int, int] | None:
    """Whether the window of ``transfer_min`` that ends at the meeting's last slice is alongside: the meeting spans
    it, at least ``alongside_share`` of its slices find the pair within ``alongside_km`` and both median speeds there
    are under ``max_kn``. If so, the first and last of its slices within ``alongside_km``; else None."""
    n = st.window_slices
    s = m.ks[-1]
    if m.ks[0] > s - n:
        return None
    k = len(m.ks)
    while k > 0 and m.ks[k - 1] >= s - n:
        k -= 1
    near = [q for q in range(k, len(m.kms)) if m.kms[q] <= st.alongside_km]  # a few slices: plain Python
    if len(near) < st.alongside_share * (len(m.kms) - k) or not is_slow(m.speeds_a[k:], m.speeds_b[k:], st.max_kn):
        return None
    return m.ks[near[0]], m.ks[near[-1]]


def typical_km(m: Meeting) -> float:
    """The pair's median distance: over the alongside spell for a transfer, else over the whole meeting."""
    if not m.alongside:
        return float(np.median(m.kms))
    lo, hi = np.searchsorted(m.ks, m.along_s0), np.searchsorted(m.ks, m.along_s1, side="right")
    return float(np.median(m.kms[lo:hi]))


TYPE_NAMES = {30: "fishing", 31: "towing", 32: "towing", 50: "pilot", 51: "SAR", 52: "tug", 53: "port tender",
              55: "law enforcement"}  # fmt: skip


def type_words(ship_type: int) -> str:
    """A ship type in words (ITU-R M.1371)."""
    if ship_type < 0:
        return "unknown"
    if ship_type >= INFERRED:
        return f"{type_words(ship_type - INFERRED)} by its company (not reported)"
    name = TYPE_NAMES.get(ship_type) or {7: "cargo", 8: "tanker", 6: "passenger"}.get(ship_type // 10)
    return f"{ship_type} ({name})" if name else str(ship_type)


def meeting_words(a: int, c: int, m: Meeting, st: EncounterSettings, slice_us: int, us_per_h: float) -> list[str]:
    """The first reasons of a meeting's alert: what it is, how close, how long, how fast, which ship types."""
    hours = (m.end_us - m.start_us) / us_per_h
    closest, typical = min(m.kms) * 1000, typical_km(m) * 1000
    if m.alongside:
        along = (m.along_s1 - m.along_s0) * slice_us / us_per_h
        what = (f"ship-to-ship transfer: {a} and {c} alongside for {fmt_h(along)} (typical {typical:.0f} m apart, "
                f"closest {closest:.0f} m), within {st.max_km:g} km for {hours:.1f} h")  # fmt: skip
    else:
        what = (f"encounter: {a} and {c} within {st.max_km:g} km for {hours:.1f} h (typical {typical:.0f} m apart, "
                f"closest {closest:.0f} m)")  # fmt: skip
    return [
        what,
        f"median speeds {median_kn(m.speeds_a):.1f} and {median_kn(m.speeds_b):.1f} kn",
        f"ship types {type_words(m.type_a)} and {type_words(m.type_b)}",
    ]


def meeting_score(m: Meeting, slice_us: int, us_per_h: float) -> float:
    """Alongside is stronger evidence than close: a transfer scores from 55 up with its time alongside; an encounter
    from 40 up with its hours."""
    if m.alongside:
        return min(100.0, 55.0 + 20.0 * (m.along_s1 - m.along_s0) * slice_us / us_per_h)
    return min(100.0, 40.0 + 15.0 * (m.end_us - m.start_us) / us_per_h)
