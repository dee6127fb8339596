"""The scalar parsers of feeds/nmea_fields.py against Python's own calendar and number parsing."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import nmea_fields as nf


def _buf(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), np.uint8)


@settings(deadline=None)  # the first example pays Numba's compilation
@given(
    st.integers(1960, 2210), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24), st.integers(0, 60),
    st.integers(0, 59),
)  # fmt: skip
def test_epoch_seconds_matches_datetime(y: int, mo: int, d: int, h: int, mi: int, s: int) -> None:
    got = nf.epoch_seconds(y, mo, d, h, mi, s)
    try:
        want = datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()
    except ValueError:
        want = math.nan  # Feb 30, month 13, hour 24 ...
    if not 1970 <= y <= 2200:
        want = math.nan
    assert (math.isnan(got) and math.isnan(want)) or got == want


def test_pghp_time_with_milliseconds() -> None:
    line = "$PGHP,1,2013,3,18,9,19,9,499,219,,2190048,1,28*23"
    got = nf.parse_pghp_time(_buf(line), 0, line.index("*"))
    assert got == datetime(2013, 3, 18, 9, 19, 9, 499000, tzinfo=UTC).timestamp()


def test_pghp_time_refuses_other_kinds_and_impossible_dates() -> None:
    for line in ("$PGHP,2,2013,3,18,9,19,9,499*00", "$PGHP,1,2013,2,30,9,19,9,499*00", "$PGHP,1,2013,3*00"):
        assert math.isnan(nf.parse_pghp_time(_buf(line), 0, line.index("*"))), line


@settings(deadline=None)
@given(st.integers(1_000_000_000, 7_000_000_000), st.integers(0, 999))
def test_unix_prefix_with_fraction(sec: int, ms: int) -> None:
    text = f"{sec}.{ms:03d} !AIVDM"
    t, k = nf.parse_prefix_time(_buf(text), 0, len(text))
    assert k == text.index("!")
    assert math.isclose(t, sec + ms / 1000, rel_tol=0, abs_tol=1e-6)


def test_iso_prefix() -> None:
    text = "2024-02-29T23:59:58.25Z !AIVDM"
    t, k = nf.parse_prefix_time(_buf(text), 0, len(text))
    assert (t, k) == (datetime(2024, 2, 29, 23, 59, 58, 250000, tzinfo=UTC).timestamp(), text.index("!"))
    bad = "2023-02-29T23:59:58Z !AIVDM"  # not a leap year
    assert nf.parse_prefix_time(_buf(bad), 0, len(bad))[1] == -1
