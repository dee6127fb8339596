"""Distress: AIS-SART / MOB / EPIRB-AIS beacons, nav status "not under command" / "aground" / "AIS-SART active",
and type 14 safety broadcasts. One alert per episode (evidence no more than ``episode_gap_s`` apart), updated
while it goes on, scored by the most severe evidence in it.

Sources: ITU-R M.585-9 Annex 2 (MMSI 970xxyyyy AIS-SART, 972xxyyyy MOB, 974xxyyyy EPIRB-AIS); ITU-R M.1371-5
Table 48 (navigational status 2 not under command, 6 aground, 14 AIS-SART/MOB/EPIRB active) and §3.13 (the
devices' type 14 text "SART ACTIVE", "MOB ACTIVE", "EPIRB ACTIVE"; "... TEST" while testing).

A beacon in test mode is not in distress: IEC 61097-14 / M.1371 §3.13 have a test transmission send nav status
15 and "SART TEST" instead of status 14 and "SART ACTIVE". Its reports are kept as ``TEST`` evidence, which
alone raises no alert (crews test their SARTs at sea, a few minutes at a time); an episode that turns active
alerts, and says it began in test mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import US_PER_S, grow
from engine.detectors.mmsi import BEACON_PREFIXES, is_distress_beacon
from engine.runner import Step
from feeds.jit import kernel

BEACON, STATUS_SART, AGROUND, NUC, ACTIVE_TEXT, SAFETY_TEXT, TEST = 1, 2, 4, 8, 16, 32, 64
TEST_STATUS = 15  # the nav status a beacon sends in test mode (IEC 61097-14; M.1371 Table 48 "undefined")
EVIDENCE = (
    (BEACON, "distress beacon MMSI (970 AIS-SART / 972 MOB / 974 EPIRB, ITU-R M.585)", 90.0),
    (STATUS_SART, "nav status 14: AIS-SART / MOB / EPIRB active", 90.0),
    (ACTIVE_TEXT, "safety broadcast", 90.0),
    (AGROUND, "nav status 6: aground", 70.0),
    (NUC, "nav status 2: not under command", 50.0),
    (SAFETY_TEXT, "safety broadcast", 20.0),
    (TEST, "beacon reports in test mode (nav status 15) before it turned active", 0.0),
)
STATUS_EVIDENCE = ((14, STATUS_SART), (6, AGROUND), (2, NUC))  # nav status -> evidence bit (M.1371 Table 48)
SAFETY_TEXT_TYPE = 14  # the AIS message type of safety broadcasts
_ACTIVE = r"\b(SART|MOB|EPIRB)\s+ACTIVE\b"


@dataclass(frozen=True)
class DistressSettings:
    episode_gap_s: float = 3600.0  # a beacon repeats every minute (M.1371 §3.13); an hour of silence ends it
    # nav status 2/6 alone in one or two reports is often a keying slip (NOAA 2022-01-03 sample): scored lower
    min_status_reports: int = 3
    slip_score: float = 25.0


@kernel
def _episodes(vid, t, bits, lat, lon, gap_us, st_start, st_last, st_bits, st_n, st_lat, st_lon, out_start):
    """Walk evidence rows (sorted by vessel, time), extending or opening each vessel's episode; the state arrays
    (per vessel) are updated in place, ``out_start[i]`` is the start of row i's episode."""
    for i in range(vid.shape[0]):
        v = vid[i]
        if st_n[v] == 0 or t[i] - st_last[v] > gap_us:
            st_start[v] = t[i]
            st_bits[v] = 0
            st_n[v] = 0
            st_lat[v] = np.nan
            st_lon[v] = np.nan
        st_last[v] = t[i]
        st_bits[v] |= bits[i]
        st_n[v] += 1
        if np.isnan(st_lat[v]) and not np.isnan(lat[i]):
            st_lat[v] = lat[i]
            st_lon[v] = lon[i]
        out_start[i] = st_start[v]


def may_be_evidence() -> dict[str, pl.Expr]:
    """Which rows of the positions and events tables may be distress evidence (:func:`evidence` decides): the
    distress fast path looks ahead at the waiting rows of the vessels that have one."""
    beacon = (pl.col("mmsi") // 1_000_000).is_in(BEACON_PREFIXES)
    return {
        "positions": beacon | pl.col("nav_status").is_in([status for status, _ in STATUS_EVIDENCE]),
        "events": pl.col("msg_type") == SAFETY_TEXT_TYPE,
    }


def evidence(step: Step) -> pl.DataFrame:
    """Rows of distress evidence (vid, t_us, arrival, bits, lat, lon, text) from fixes and type 14 events."""
    fx = step.fixes
    bits = np.zeros(len(fx), np.int64)
    beacon = is_distress_beacon(fx.mmsi)
    bits[beacon & (fx.nav_status != TEST_STATUS)] |= BEACON
    bits[beacon & (fx.nav_status == TEST_STATUS)] |= TEST
    for status, bit in STATUS_EVIDENCE:
        bits[fx.nav_status == status] |= bit
    keep = np.flatnonzero(bits)
    fixes = pl.DataFrame(
        {
            "vid": fx.vid[keep],
            "t_us": fx.t_us[keep],
            "arrival": fx.arrival[keep],
            "bits": bits[keep],
            "lat": fx.lat[keep],
            "lon": fx.lon[keep],
        }  # fmt: skip
    ).with_columns(pl.lit(None, pl.String).alias("text"))
    ev = step.events.filter(pl.col("msg_type") == SAFETY_TEXT_TYPE)
    text = pl.col("text").fill_null("").str.to_uppercase().str.strip_chars()
    ev = ev.filter(~text.str.contains(r"\bTEST\b"))
    is_active = text.str.contains(_ACTIVE)
    from_beacon = (pl.col("mmsi") // 1_000_000).is_in(BEACON_PREFIXES)
    texts = ev.select(
        "vid", "t_us", "arrival",
        (pl.when(is_active).then(ACTIVE_TEXT).otherwise(SAFETY_TEXT) | pl.when(from_beacon).then(BEACON).otherwise(0))
        .cast(pl.Int64).alias("bits"),
        pl.lit(np.nan).alias("lat"), pl.lit(np.nan).alias("lon"), text.alias("text"),
    )  # fmt: skip
    return pl.concat([fixes, texts], how="vertical_relaxed").sort(["vid", "t_us", "arrival"])


class DistressDetector:
    """distress: one alert per episode of distress evidence of a vessel."""

    name = "distress"

    def __init__(self, settings: DistressSettings | None = None) -> None:
        self.settings = settings or DistressSettings()
        self.ints = np.zeros((0, 4), np.int64)  # start, last, bits, n
        self.pos = np.zeros((0, 2), np.float64)
        self.text = np.zeros(0, object)  # the episode's first safety text

    def process(self, step: Step) -> list[pl.DataFrame]:
        frames, self.ints, self.pos, self.text = self._run(step)
        return frames

    def foresee(self, step: Step) -> list[pl.DataFrame]:
        """The alert rows :meth:`process` would give for ``step``, leaving the state as it is: the distress fast
        path (engine/fast_path.py) asks it about the rows still waiting for the watermark."""
        return self._run(step)[0]

    def _run(self, step: Step) -> tuple[list[pl.DataFrame], np.ndarray, np.ndarray, np.ndarray]:
        """The alert rows of ``step`` and the state after it, in new arrays (the detector's own are not touched)."""
        size = step.fleet.size
        ints, pos, first_text = grow(self.ints, size, 0), grow(self.pos, size, np.nan), self.text
        if first_text.shape[0] < ints.shape[0]:
            first_text = np.concatenate([first_text, np.full(ints.shape[0] - first_text.shape[0], None, object)])
        rows = evidence(step)
        if not rows.height:
            return [], ints, pos, first_text
        vid = rows["vid"].to_numpy().astype(np.int64)
        start = np.empty(vid.shape[0], np.int64)
        # the state before the step (an episode carried over keeps its earlier evidence); the kernel writes copies
        before = [ints[:, k] for k in range(4)] + [pos[:, 0], pos[:, 1]]
        st = [a.copy() for a in before[:4]]
        lat, lon = before[4].copy(), before[5].copy()
        gap = int(self.settings.episode_gap_s * US_PER_S)
        t, bits = rows["t_us"].to_numpy().astype(np.int64), rows["bits"].to_numpy().astype(np.int64)
        _episodes(
            vid,
            t,
            bits,
            rows["lat"].to_numpy(),
            rows["lon"].to_numpy(),
            gap,
            st[0],
            st[1],
            st[2],
            st[3],
            lat,
            lon,
            start,
        )
        ints, pos = np.stack(st, axis=1), np.stack([lat, lon], axis=1)
        frame = rows.with_columns(pl.Series("start", start))
        texts = frame.filter(pl.col("text").is_not_null()).group_by(["vid", "start"]).agg(pl.col("text").first())
        eps = (
            frame.group_by(["vid", "start"], maintain_order=True)
            .agg(
                pl.col("t_us").max().alias("end"),
                pl.col("bits").bitwise_or(),
                pl.len().alias("n"),
                pl.col("lat").drop_nans().first(),
                pl.col("lon").drop_nans().first(),
            )  # fmt: skip
            .join(texts, on=["vid", "start"], how="left")
        )
        ev, es = eps["vid"].to_numpy(), eps["start"].to_numpy()
        carried = before[3][ev] > 0
        carried &= before[0][ev] == es
        b = eps["bits"].to_numpy() | np.where(carried, before[2][ev], 0)
        n = eps["n"].to_numpy() + np.where(carried, before[3][ev], 0)
        plat = np.where(carried & ~np.isnan(before[4][ev]), before[4][ev], eps["lat"].fill_null(np.nan).to_numpy())
        plon = np.where(carried & ~np.isnan(before[5][ev]), before[5][ev], eps["lon"].fill_null(np.nan).to_numpy())
        text = [first_text[v] if c and first_text[v] else x for v, c, x in zip(ev, carried, eps["text"], strict=True)]
        first_text = first_text.copy()
        for v, x in zip(ev.tolist(), text, strict=True):
            first_text[v] = x
        reasons = [_reasons(int(bb), int(nn), e - s, x) for bb, nn, e, s, x in
                   zip(b.tolist(), n.tolist(), eps["end"].to_list(), es.tolist(), text, strict=True)]  # fmt: skip
        score = np.array([max(sc for bit, _, sc in EVIDENCE if bb & bit) for bb in b.tolist()])
        weak = (b & (BEACON | STATUS_SART | ACTIVE_TEXT) == 0) & (b & (AGROUND | NUC) != 0)
        weak &= n < self.settings.min_status_reports
        score = np.where(weak, np.minimum(score, self.settings.slip_score), score)
        for k in np.flatnonzero(weak).tolist():
            reasons[k].append("status seen in too few reports to rule out a keying slip")
        real = np.flatnonzero(b & ~TEST != 0)  # an episode of test transmissions only is no distress
        alerts = AlertRows("distress", step.fleet.mmsi[ev[real]], np.full(real.shape[0], NO_OTHER), es[real],
                           eps["end"].to_numpy()[real], plat[real], plon[real], score[real],
                           [reasons[k] for k in real.tolist()])  # fmt: skip
        return [alerts.frame()], ints, pos, first_text

    def evict(self, vids: np.ndarray, now_us: int) -> None:
        """Vessels silent for a long time (engine/runner.py, "Bounded memory"): the first text of an episode whose
        last evidence is more than ``episode_gap_s`` before ``now_us`` goes (a later row starts a new episode)."""
        vids = vids[vids < self.text.shape[0]]
        ended = vids[self.ints[vids, 1] < now_us - int(self.settings.episode_gap_s * US_PER_S)]
        self.text[ended] = None

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"ints": self.ints.copy(), "pos": self.pos.copy(), "text": self.text.astype(str)}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.ints, self.pos = arrays["ints"].copy(), arrays["pos"].copy()
        self.text = arrays["text"].astype(object)
        self.text[arrays["text"] == "None"] = None


def _reasons(bits: int, n: int, span_us: int, text: str | None) -> list[str]:
    out = []
    for bit, words, _ in EVIDENCE:
        if bits & bit and not (bit == SAFETY_TEXT and bits & ACTIVE_TEXT):
            out.append(f"{words} '{text}'" if bit in (ACTIVE_TEXT, SAFETY_TEXT) else words)
    out.append(f"{n} reports over {span_us / 3.6e9:.1f} h")
    return out
