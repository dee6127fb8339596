"""Atheris fuzz target: any bytes -> Framer (whole, and in chunks) -> decode, checking the invariants.

Run by ``make fuzz`` as ``python tests/fuzz/fuzz_framing.py -max_total_time=60``; libFuzzer flags pass through.
Checked for every input: nothing raises; feeding the bytes in chunks gives the same messages and counts as
feeding them at once; every record has one outcome; every decoded value is in its field's range or null.

Not a pytest test (pytest collects only ``test_*.py``). The Numba kernels are machine code and are not
instrumented; the Python layers around them (``feeds.framing``, ``engine.decode``) are. With
``NUMBA_DISABLE_JIT=1`` the kernels run as Python, are instrumented too (coverage-guided fuzzing of the framing
itself, about 10x slower) and an out-of-bounds index raises instead of reading past a buffer. Without a corpus
folder on the command line, one is seeded from the real recordings in ``../shared/data/nmea`` (kept between
runs in the system temporary folder), with a dictionary of NMEA tokens.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

if os.environ.get("NUMBA_DISABLE_JIT") != "1":  # compiled kernels: imported before instrumentation, not instrumented
    import engine.decode_kernel  # noqa: F401
    import feeds.nmea_kernel  # noqa: F401

with atheris.instrument_imports(include=["feeds", "engine"]):
    import feeds.nmea_kernel as nk
    from engine.decode import decode
    from feeds.framing import Framer, MessageBatch

NMEA_DIR = ROOT.parent / "shared" / "data" / "nmea"
T_MAX = 7_289_740_800.0  # 2201-01-02: the framer believes no time after the year 2200
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "positions": {
        "mmsi": (0, 2**30 - 1), "msg_type": (1, 27), "lat": (-90, 90), "lon": (-180, 180), "sog": (0, 102.2),
        "cog": (0, 359.9), "heading": (0, 359), "rot": (-709, 709), "rot_raw": (-128, 127), "nav_status": (0, 15),
        "second": (0, 63),
    },
    "statics": {
        "mmsi": (0, 2**30 - 1), "msg_type": (5, 24), "part": (0, 1), "imo": (0, 2**30 - 1), "ship_type": (0, 255),
        "to_bow": (0, 511), "to_stern": (0, 511), "to_port": (0, 63), "to_starboard": (0, 63), "draught": (0, 25.5),
        "eta_month": (0, 15), "eta_day": (0, 31), "eta_hour": (0, 31), "eta_minute": (0, 63), "epfd": (0, 15),
        "ais_version": (0, 3),
    },
    "events": {
        "mmsi": (0, 2**30 - 1), "msg_type": (1, 27), "lat": (-90, 90), "lon": (-180, 180), "sog": (0, 1022),
        "cog": (0, 359.9), "altitude": (0, 4095), "second": (0, 63), "aid_type": (0, 31), "fill": (0, 5),
    },
}  # fmt: skip
TOKENS = [
    "!AIVDM,1,1,,A,", "!AIVDM,2,1,3,B,", "!AIVDM,2,2,3,B,", "!BSVDO,", ",0*", ",2*", "*5C", "\\s:rEV02,",
    "c:1334337317", "c:1334337317250", "g:1-2-9999", "g:2-2-9999", "*53\\",
    "$PGHP,1,2013,3,18,9,19,9,499,219,,2190048,1,28*23", "1452468552.938 ", "2016-01-10T23:29:12Z ",
    ",1328133720087", ",r003669946", "\\r\\n", "\\x0a",
]  # fmt: skip


def _messages(batches: list[MessageBatch]) -> list[tuple]:
    out = []
    for b in batches:
        for i in range(len(b)):
            t = float(b.time[i])
            out.append((b.text(i), None if math.isnan(t) else t, b.sources[int(b.source[i])], int(b.channel[i]),
                        int(b.line[i]), int(b.parts[i]), int(b.fill[i])))  # fmt: skip
    return out


def _in(s: pl.Series, lo: float, hi: float) -> bool:
    """All values in [lo, hi], "not available" (null, or NaN for floats) aside."""
    v = s.drop_nulls()
    v = v.drop_nans() if v.dtype.is_float() else v
    return v.is_empty() or (lo <= v.min() and v.max() <= hi)  # type: ignore[operator]


def check(batch: MessageBatch, framer: Framer) -> None:
    assert sum(framer.counts[k] for k in nk.OUTCOMES) == framer.records
    t = batch.time[~np.isnan(batch.time)]
    assert t.size == 0 or (t.min() >= 0 and t.max() < T_MAX), t
    decoded = decode(batch)
    tables = {"positions": decoded.positions, "statics": decoded.statics, "events": decoded.events}
    n19 = int((decoded.statics["msg_type"] == 19).sum())
    assert sum(f.height for f in tables.values()) - n19 + sum(decoded.rejects.values()) == len(batch)
    for name, frame in tables.items():
        for column, (lo, hi) in RANGES[name].items():
            assert _in(frame[column], lo, hi), (name, column, frame[column].min(), frame[column].max())
        for column in ("t", "station_time"):
            if column in frame.columns:
                assert _in(frame[column].dt.epoch("us").cast(pl.Float64) / 1e6, 0, T_MAX), (name, column)
    for column, width in (("callsign", 7), ("name", 20), ("destination", 20), ("vendor_id", 3)):
        assert all(len(x) <= width and all(" " <= c <= "_" for c in x) for x in decoded.statics[column].drop_nulls())


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name atheris calls
    flags = data[-1] if data else 0
    keep_bad = bool(flags & 0x80)
    chunk = (flags & 0x3F) + 1
    whole_framer = Framer(keep_bad_checksums=keep_bad)
    whole = whole_framer.feed(data, final=True)
    check(whole, whole_framer)
    stream_framer = Framer(keep_bad_checksums=keep_bad)
    parts = [stream_framer.feed(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    parts.append(stream_framer.finish())
    assert _messages(parts) == _messages([whole])
    assert stream_framer.counts == whole_framer.counts and stream_framer.lines == whole_framer.lines


def _seed_corpus() -> list[str]:
    """A corpus folder and dictionary from the real recordings, unless the command line gives a corpus."""
    if any(not a.startswith("-") for a in sys.argv[1:]):
        return []
    home = Path(tempfile.gettempdir()) / "seawatch-fuzz-framing"
    corpus = home / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    if NMEA_DIR.is_dir():
        for path in sorted(NMEA_DIR.glob("*.*")):
            lines = path.read_bytes().split(b"\n")
            for k in range(0, min(len(lines), 400), 20):
                (corpus / f"{path.name}.{k}").write_bytes(b"\n".join(lines[k : k + 20]) + b"\n")
    dictionary = home / "nmea.dict"
    dictionary.write_text("".join('"' + t.replace("\\", "\\\\") + '"\n' for t in TOKENS))
    args = [str(corpus)]
    if not any(a.startswith("-dict=") for a in sys.argv[1:]):
        args.append(f"-dict={dictionary}")
    return args


def main() -> None:
    TestOneInput(b"!AIVDM,1,1,,A,16:=?;0P00`SstvFnFbeGH6L088h,0*44\n")  # compile the kernels before fuzzing
    atheris.Setup([*sys.argv, *_seed_corpus()], TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
