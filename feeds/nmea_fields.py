"""Scalar parsers for NMEA text, called from the framing kernel: numbers, checksums, hashes and times.

Every function takes a byte buffer and bounds and never reads outside them; none allocates.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
MS_THRESHOLD = 1e11  # unix times above this are milliseconds (1e11 s is the year 5138)
T_MAX = 7289654400.0  # 2201-01-01: like epoch_seconds, no time after the year 2200 is believed

BACKSLASH = 92  # backslash
STAR = 42
COMMA = 44


@kernel
def fnv(buf, s, e):
    h = FNV_OFFSET
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * FNV_PRIME
    if h == 0:
        h = np.uint64(1)  # 0 means "no source"
    return h


@kernel
def next_comma(buf, i, e):
    """Index of the first comma in buf[i:e], or e."""
    while i < e and buf[i] != COMMA:
        i += 1
    return i


@kernel
def hexval(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@kernel
def parse_uint(buf, s, e):
    """Digits in buf[s:e] as an integer; -1 when empty or not all digits (or absurdly long)."""
    if e <= s or e - s > 18:
        return -1
    v = 0
    for i in range(s, e):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (int(c) - 48)  # int(): uint8 arithmetic would wrap without the JIT (NUMBA_DISABLE_JIT=1)
    return v


@kernel
def days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def days_in_month(y, mo):
    if mo == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if mo in (4, 6, 9, 11) else 31


@kernel
def epoch_seconds(y, mo, d, h, mi, s):
    """Unix seconds of a UTC calendar time; NaN for an impossible date (Feb 30) or a year outside 1970-2200."""
    if y < 1970 or y > 2200 or mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo):
        return np.nan
    if h < 0 or h > 23 or mi < 0 or mi > 59 or s < 0 or s > 60:
        return np.nan
    return float(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s)


@kernel
def unix_seconds(v):
    """Unix seconds, or milliseconds above MS_THRESHOLD, as seconds; NaN outside 1970..2200 (a garbled time)."""
    if v > MS_THRESHOLD:
        v = v / 1000.0
    if v < 0.0 or v >= T_MAX:
        return np.nan
    return float(v)


@kernel
def is_separator(c):
    return c == 32 or c == 9 or c == COMMA or c == 59  # space, tab, comma, semicolon


@kernel
def _fraction(buf, i, e):
    """A decimal fraction ".ddd" at buf[i:]: (value, index after it); (0.0, i) when there is none."""
    v = 0.0
    if i < e and buf[i] == 46:
        i += 1
        scale = 0.1
        while i < e and 48 <= buf[i] <= 57:
            v += (buf[i] - 48) * scale
            scale *= 0.1
            i += 1
    return v, i


@kernel
def parse_prefix_time(buf, s, e):
    """A unix-time or ISO-8601 prefix at buf[s:]: (time, index after the separator) or (nan, -1)."""
    if s + 10 <= e and buf[s + 4] == 45 and buf[s + 7] == 45:  # YYYY-MM-DD
        y = parse_uint(buf, s, s + 4)
        mo = parse_uint(buf, s + 5, s + 7)
        d = parse_uint(buf, s + 8, s + 10)
        i = s + 10
        h = 0
        mi = 0
        sec = 0
        frac = 0.0
        if i + 9 <= e and (buf[i] == 84 or buf[i] == 32) and buf[i + 3] == 58 and buf[i + 6] == 58:
            h = parse_uint(buf, i + 1, i + 3)
            mi = parse_uint(buf, i + 4, i + 6)
            sec = parse_uint(buf, i + 7, i + 9)
            i += 9
            frac, i = _fraction(buf, i, e)
        if y < 0 or mo < 0 or d < 0 or h < 0 or mi < 0 or sec < 0:
            return np.nan, -1
        if i < e and buf[i] == 90:  # Z
            i += 1
        elif i + 6 <= e and buf[i] == 43 and buf[i + 1] == 48 and buf[i + 2] == 48:  # +00:00
            i += 6
        t = epoch_seconds(y, mo, d, h, mi, sec)
        if np.isnan(t) or i >= e or not is_separator(buf[i]):
            return np.nan, -1
        while i < e and is_separator(buf[i]):
            i += 1
        return t + frac, i
    # unix seconds (or milliseconds), optionally with a fraction
    i = s
    v = 0.0
    while i < e and 48 <= buf[i] <= 57:
        v = v * 10.0 + (buf[i] - 48)
        i += 1
    if i - s < 9:
        return np.nan, -1
    frac, i = _fraction(buf, i, e)
    v += frac
    if i >= e or not is_separator(buf[i]):
        return np.nan, -1
    while i < e and is_separator(buf[i]):
        i += 1
    return unix_seconds(v), i


@kernel
def _next_field(buf, e, star):
    """The unsigned integer in the field after the comma at ``e``: (value or -1, end of the field)."""
    f = e + 1
    e = next_comma(buf, f, star)
    return parse_uint(buf, f, e), e


@kernel
def parse_pghp_time(buf, s, star):
    """Time of a $PGHP,1,yyyy,mm,dd,hh,mi,ss,ms,... sentence; nan when not of that form."""
    kind, e = _next_field(buf, s + 5, star)  # s + 5 is the comma after "$PGHP"
    y, e = _next_field(buf, e, star)
    mo, e = _next_field(buf, e, star)
    d, e = _next_field(buf, e, star)
    h, e = _next_field(buf, e, star)
    mi, e = _next_field(buf, e, star)
    sec, e = _next_field(buf, e, star)
    ms, e = _next_field(buf, e, star)
    if kind != 1 or min(y, mo, d, h, mi, sec, ms) < 0 or ms > 999:
        return np.nan
    return epoch_seconds(y, mo, d, h, mi, sec) + ms / 1000.0


@kernel
def escaped_eol(buf, s, e):
    """Length of a line ending spelled out as text at buf[s] ("\\r", "\\n", "\\x0d", "\\x0a"), else 0."""
    if s + 1 < e and (buf[s + 1] == 114 or buf[s + 1] == 110):
        return 2
    if s + 3 < e and buf[s + 1] == 120 and buf[s + 2] == 48 and (buf[s + 3] == 100 or buf[s + 3] == 97):
        return 4
    return 0
