"""Decoder benchmark: Seawatch (Numba) vs pyais vs gpsd's C decoder, on a corpus made of the real feeds.

    .venv/bin/python benchmarks/bench_decode.py [--sentences 1000000] [--pyais-sample 50000]
    .venv/bin/python benchmarks/bench_decode.py --whole [--sentences 4000000] [--runs 3]

The corpus repeats every file of ../shared/data/nmea (all their lines: tag blocks, prefixes, wrappers, other
NMEA, comments) until it holds at least --sentences AIS sentences. Seawatch is timed over the whole buffer
to columns (framing, multi-part assembly, decoding to polars tables), after a warm-up that pays compilation.
pyais is timed on a sample of the corpus's single-sentence lines stripped to the bare sentence (its fastest
path); gpsdecode (Debian's gpsd-clients) on the whole corpus through a pipe, when installed.

``--whole`` times the commands as users run them instead, each a whole process under /usr/bin/time (start-up,
imports, Numba's cache, reading, writing the output and exiting included), in rounds that alternate them, and
prints medians: ``seawatch decode CORPUS --out DIR`` (every core, and ``--threads 1``, and ``--no-details``);
pyais's FileReaderStream + decode() on the first --pyais-lines lines (it would take minutes on all of them);
aiscat (``pip install aiscat``: AIS-catcher's C++ decoder) reading the file into Python dicts and into its binary
packets; ``seawatch --help``; and ``seawatch decode`` of the corpus's first 1,000 lines. Rates are each tool's own
message count over its wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyais

from engine.decode import decode
from feeds.files import CHUNK_BYTES
from feeds.framing import Framer
from seawatch.decode_job import decode_file

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nmea"


def corpus(min_sentences: int) -> bytes:
    files = sorted(p for p in DATA.iterdir() if p.is_file())
    if not files:
        sys.exit(f"no NMEA files in {DATA}: the benchmark needs ../shared/data/nmea")
    one = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in files)
    per = one.count(b"VDM,") + one.count(b"VDO,")
    return one * (min_sentences // per + 1)


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def seawatch_run(data: bytes, details: bool = False) -> int:
    """Messages decoded; ``details`` also decodes the rarer types into their typed tables and ``fields``."""
    framer = Framer()
    batch = framer.feed(data, final=True)
    d = decode(batch, details=details)
    return d.positions.height + d.statics.height + d.events.height - int((d.statics["msg_type"] == 19).sum())


def seawatch_file_run(path: Path, threads: int) -> int:
    """Messages of ``path`` as the decode command reads it (16 MB chunks, framed in order, decoded by ``threads``
    workers), to tables in memory."""
    n = 0
    for d, _ in decode_file(path, Framer(), CHUNK_BYTES, details=False, threads=threads):
        n += d.positions.height + d.statics.height + d.events.height - int((d.statics["msg_type"] == 19).sum())
    return n


def bare_sentences(data: bytes, n: int) -> list[bytes]:
    out = []
    for line in data.split(b"\n"):
        i = line.find(b"!")
        if i < 0 or b",1,1," not in line:
            continue
        j = line.find(b"*", i)
        s = line[i : j + 3]
        if len(s) > 20:
            out.append(s)
        if len(out) >= n:
            break
    return out


def pyais_rate(sentences: list[bytes]) -> float:
    t0 = time.perf_counter()
    ok = 0
    for s in sentences:
        try:
            pyais.decode(s)
            ok += 1
        except Exception:  # noqa: BLE001 - pyais raises many kinds on bad input; we only count
            pass
    return ok / (time.perf_counter() - t0)


def pyais_stream_rate(data: bytes, limit_bytes: int) -> float:
    """pyais as a user reads a log: its file reader (tag blocks, multi-part assembly) and decode()."""
    cut = data[:limit_bytes]
    cut = cut[: cut.rfind(b"\n") + 1]
    with tempfile.NamedTemporaryFile(suffix=".nmea") as f:
        f.write(cut)
        f.flush()
        t0 = time.perf_counter()
        ok = 0
        for msg in pyais.FileReaderStream(f.name):
            try:
                msg.decode()
                ok += 1
            except Exception:  # noqa: BLE001, S112 - pyais raises many kinds on bad input; we only count
                continue
        return ok / (time.perf_counter() - t0)


def gpsd_rate(data: bytes, messages: int) -> float | None:
    exe = shutil.which("gpsdecode")
    if exe is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".nmea") as f:
        f.write(data)
        f.flush()
        t0 = time.perf_counter()
        with open(f.name, "rb") as inp:
            subprocess.run([exe], stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return messages / (time.perf_counter() - t0)


SEAWATCH = [sys.executable, "-m", "seawatch.cli"]
PYAIS_SCRIPT = """import sys, pyais
n = 0
for msg in pyais.FileReaderStream(sys.argv[1]):
    try:
        msg.decode()
        n += 1
    except Exception:
        pass
print(n)
"""
AISCAT_SCRIPT = """import sys, aiscat
n = 0
for msg in aiscat.from_file(sys.argv[1], format=sys.argv[2]):
    n += 1
print(n)
"""
DECODED = re.compile(r"decoded ([0-9,]+) messages")


def timed(cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall s, user + sys s, peak RSS kB, stdout) of ``cmd`` as a whole process under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        run = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %U %S %M", *cmd], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
        wall, user, sys_s, rss = t.read().split()[-4:]
    return float(wall), float(user) + float(sys_s), int(rss), run.stdout


def messages_of(stdout: str) -> int:
    found = DECODED.search(stdout)
    return int(found.group(1).replace(",", "")) if found else int(stdout.split()[-1])


def whole(args: argparse.Namespace) -> None:
    data = corpus(args.sentences)
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        path, small, head = Path(tmp) / "corpus.nmea", Path(tmp) / "k1.nmea", Path(tmp) / "head.nmea"
        path.write_bytes(data)
        small.write_bytes(b"".join(data.splitlines(keepends=True)[:1000]))
        head.write_bytes(b"".join(data.splitlines(keepends=True)[: args.pyais_lines]))
        out = str(Path(tmp) / "out")
        cases: dict[str, list[str]] = {
            "seawatch decode": [*SEAWATCH, "decode", str(path), "--out", out, "--progress", "off"],
            "seawatch decode --threads 1": [
                *SEAWATCH,
                "decode",
                str(path),
                "--out",
                out,
                "--progress",
                "off",
                "--threads",
                "1",
            ],  # fmt: skip
            "seawatch decode --no-details": [
                *SEAWATCH,
                "decode",
                str(path),
                "--out",
                out,
                "--progress",
                "off",
                "--no-details",
            ],  # fmt: skip
            f"pyais (first {args.pyais_lines:,} lines)": [sys.executable, "-c", PYAIS_SCRIPT, str(head)],
            "seawatch --help": [*SEAWATCH, "--help"],
            "seawatch decode 1,000 lines": [
                *SEAWATCH,
                "decode",
                str(small),
                "--out",
                out + "-k1",
                "--progress",
                "off",
            ],  # fmt: skip
        }
        try:
            import aiscat  # noqa: F401 - only whether it is there
        except ImportError:
            print("aiscat: not installed (pip install aiscat)")
        else:
            for fmt in ("dictionary", "binary"):
                cases[f"aiscat {fmt}"] = [sys.executable, "-c", AISCAT_SCRIPT, str(path), fmt]
        timed(cases["seawatch decode"])  # warm-up: Numba's cache and the page cache
        results: dict[str, list[tuple[float, float, int, str]]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, cmd in cases.items():
                results[name].append(timed(cmd))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}; corpus {len(data) / 1e6:,.1f} MB; medians of {args.runs} alternated "
          "rounds, whole processes")  # fmt: skip
    rates = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        line = f"{name:<32} {wall:7.2f} s wall {cpu:7.2f} s cpu {rss / 1024:7.0f} MB"
        if "--help" not in name and "1,000" not in name:
            n = messages_of(runs[0][3])
            rates[name] = n / wall
            line += f"  {n:>10,} msgs {n / wall:>12,.0f} msg/s"
        print(line)
    ours = rates["seawatch decode"]
    for name, rate in rates.items():
        if not name.startswith("seawatch"):
            print(f"seawatch decode / {name}: {ours / rate:,.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=1_000_000)
    ap.add_argument("--pyais-sample", type=int, default=50_000)
    ap.add_argument("--pyais-lines", type=int, default=100_000, help="with --whole: lines pyais decodes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--whole", action="store_true", help="time the whole commands (see the module's docstring)")
    args = ap.parse_args()
    if args.whole:
        whole(args)
        return
    data = corpus(args.sentences)
    seawatch_run(data[: 1 << 20])  # warm-up: compilation (or loading the cache) is paid here
    messages = seawatch_run(data)
    t = best_of(args.runs, lambda: seawatch_run(data))
    ours = messages / t
    t_details = best_of(args.runs, lambda: seawatch_run(data, details=True))
    with tempfile.NamedTemporaryFile(suffix=".nmea") as f:
        f.write(data)
        f.flush()
        cores = os.cpu_count() or 1
        t_file = {k: best_of(args.runs, lambda k=k: seawatch_file_run(Path(f.name), k)) for k in sorted({1, cores})}
    file_lines = []
    for k, tk in t_file.items():
        file_lines.append(
            f"seawatch : {messages / tk:>12,.0f} msg/s  {len(data) / 1e6 / tk:8,.1f} MB/s  (the file in 16 MB chunks "
            f"on {k} thread(s), to tables in memory, best of {args.runs}: {tk:.3f} s)"
        )
    py = pyais_rate(bare_sentences(data, args.pyais_sample))
    py_stream = pyais_stream_rate(data, args.pyais_sample * 80)
    gp = gpsd_rate(data, messages)
    mb = len(data) / 1e6
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"corpus: {mb:,.1f} MB, {messages:,} messages decoded")
    print(f"seawatch : {ours:>12,.0f} msg/s  {mb / t:8,.1f} MB/s  (best of {args.runs}: {t:.3f} s)")
    print(
        f"seawatch : {messages / t_details:>12,.0f} msg/s  {mb / t_details:8,.1f} MB/s  (with details: every "
        f"type's fields, best of {args.runs}: {t_details:.3f} s)"
    )
    print("\n".join(file_lines))
    print(f"pyais    : {py:>12,.0f} msg/s  ratio seawatch/pyais = {ours / py:,.1f}x  (decode() on bare sentences)")
    print(
        f"pyais    : {py_stream:>12,.0f} msg/s  ratio seawatch/pyais = {ours / py_stream:,.1f}x  "
        "(FileReaderStream + decode() on the corpus, as a user reads a log)"
    )
    if gp is not None:
        print(f"gpsdecode: {gp:>12,.0f} msg/s  ratio seawatch/gpsd  = {ours / gp:,.1f}x")
    else:
        print("gpsdecode: not installed (apt-get install gpsd-clients)")


if __name__ == "__main__":
    main()
