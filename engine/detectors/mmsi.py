"""Is an MMSI a ship's? Formats of ITU-R M.585-9 and the ITU MID table, vectorised over arrays of MMSIs."""

from __future__ import annotations

import numpy as np

from engine.detectors.mid import MID_FLAG, VALID_MID

OK = 0
NOT_NINE_DIGITS = 1  # M.585: every MMSI has 9 digits; below 100000000 it is a group/coast id or malformed
DEFAULT_PATTERN = 2  # factory defaults and placeholders seen in practice: 000000000, 111111111, 123456789, MID000000
UNKNOWN_MID = 3  # MID not allocated by the ITU
BAD_FORMAT = 4  # a leading digit no M.585 format uses (1xxxxxxxx but 111, 9xxxxxxxx but 97x/98/99)

PROBLEMS = {
    NOT_NINE_DIGITS: "does not have 9 digits",
    DEFAULT_PATTERN: "is a default or placeholder number",
    UNKNOWN_MID: "has a MID that the ITU has not allocated",
    BAD_FORMAT: "matches no ITU-R M.585 format",
}
BEACON_PREFIXES = (970, 972, 974)  # the first three digits of AIS-SART, MOB and EPIRB-AIS MMSIs (M.585 Annex 2)
_DEFAULTS = np.array([123456789, 987654321, 12345678, 1234567], np.int64)


def _same_digits(mmsi: np.ndarray) -> np.ndarray:
    return np.isin(mmsi, np.array([int(str(d) * 9) for d in range(1, 10)] + [0], np.int64))


def mmsi_mid(mmsi: np.ndarray) -> np.ndarray:
    """The MID inside each MMSI by its format (ship, handheld 8, craft 98, AtoN 99, SAR aircraft 111); -1 if none."""
    m = np.asarray(mmsi, np.int64)
    lead1, lead2, lead3 = m // 100_000_000, m // 10_000_000, m // 1_000_000
    mid = np.full(m.shape, -1, np.int64)
    ship = (lead1 >= 2) & (lead1 <= 7)
    mid[ship] = lead3[ship]
    hand = lead1 == 8  # handheld VHF with DSC and GNSS: 8MIDXXXXX
    mid[hand] = (m[hand] // 100_000) % 1000
    craft = (lead2 == 98) | (lead2 == 99)  # craft associated with a parent ship, aids to navigation
    mid[craft] = (m[craft] // 10_000) % 1000
    sar = lead3 == 111  # SAR aircraft: 111MIDXXX
    mid[sar] = (m[sar] // 1000) % 1000
    return mid


def is_distress_beacon(mmsi: np.ndarray) -> np.ndarray:
    """AIS-SART (970), MOB (972), EPIRB-AIS (974): ITU-R M.585 Annex 2; they carry no MID."""
    return np.isin(np.asarray(mmsi, np.int64) // 1_000_000, BEACON_PREFIXES)


def mmsi_problem(mmsi: np.ndarray) -> np.ndarray:
    """One code per MMSI: OK or the first problem found (see :data:`PROBLEMS`)."""
    m = np.asarray(mmsi, np.int64)
    out = np.full(m.shape, OK, np.int8)
    mid = mmsi_mid(m)
    nine = (m >= 100_000_000) & (m <= 999_999_999)
    beacon = is_distress_beacon(m)
    out[nine & ~beacon & (mid < 0)] = BAD_FORMAT
    known = VALID_MID[np.clip(mid, 0, 999)] & (mid >= 0)
    out[nine & (mid >= 0) & ~known] = UNKNOWN_MID
    ship = (m // 100_000_000 >= 2) & (m // 100_000_000 <= 7)
    default = _same_digits(m) | np.isin(m, _DEFAULTS) | (ship & (m % 1_000_000 == 0))
    out[default] = DEFAULT_PATTERN
    out[~nine & ~default] = NOT_NINE_DIGITS
    return out


def describe(mmsi: int, code: int) -> str:
    """The problem in words, naming the MID and its flag where there is one."""
    mid = int(mmsi_mid(np.array([mmsi]))[0])
    flag = MID_FLAG.get(mid)
    tail = f" (MID {mid}, {flag})" if flag else (f" (MID {mid})" if mid >= 0 else "")
    return f"MMSI {mmsi} {PROBLEMS[code]}{tail}: not a valid ship's identity (ITU-R M.585)"
