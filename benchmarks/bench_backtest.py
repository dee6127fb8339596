"""End-to-end backtest benchmark: read, decode, features, every detector, scoring and writing, against pyais
decoding alone on the same file, in the same run.

    NUMBA_NUM_THREADS=1 POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/bench_backtest.py [--hours 48] [--runs 3]

The input is a simulated Gulf of Tonkin scenario written as an NMEA log (tag blocks with times, several stations:
a realistic live-feed recording). ``seawatch backtest`` runs on it without the HTML report (drawing is not the hot
path; its time is printed separately); a warm-up run on a short scenario pays Numba compilation first, then the
backtest runs ``--runs`` times and the best and the median are printed (the first run of a process also pays for
memory the allocators have not mapped yet; a machine shared with other jobs moves single runs by 2x). pyais
decodes a sample of the same file's sentences (its fastest path: bare sentences, single-part ones), scaled to
messages/s. Then the whole command as a user runs it (``seawatch backtest LOG --no-report`` in a new process,
``--runs`` times: start-up, Numba's cache and writing included) beside the in-process figure. ``--stages``: the
process time of each stage (model files, framing, decoding, engine, features, scoring, writing), done as the
backtest does it. Also: scoring alone for 100k vessels (a simulated day's fleet
copied; issue target: under a second).
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pyais

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.decode import decode, decode_bytes  # noqa: E402
from engine.detectors import default_detectors  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import load_pack  # noqa: E402
from engine.runner import COLUMNS as ENGINE_COLUMNS  # noqa: E402
from engine.runner import Engine  # noqa: E402
from feeds.files import map_chunks  # noqa: E402
from feeds.framing import Framer  # noqa: E402
from models.features import COLUMNS as FEATURE_COLUMNS  # noqa: E402
from models.features import FeatureAccumulator  # noqa: E402
from models.scoring import Scorer  # noqa: E402
from seawatch.backtest_job import BACKTEST_CHUNK_BYTES, BacktestOptions, run_backtest  # noqa: E402
from seawatch.inputs import readers_columns  # noqa: E402
from seawatch.simulator.config import SimConfig  # noqa: E402
from seawatch.simulator.scenario import simulate  # noqa: E402

PYAIS_SAMPLE = 100_000


def pyais_rate(feed: bytes) -> float:
    sentences = []
    for line in feed.split(b"\n"):
        i = line.find(b"!")
        sentence = line[i:].split(b"\\")[0].strip()
        if i >= 0 and sentence[6:11] == b",1,1,":  # single-part: !AIVDM,1,1,...
            sentences.append(sentence)
        if len(sentences) >= PYAIS_SAMPLE:
            break
    t0 = time.perf_counter()
    for s in sentences:
        pyais.decode(s).asdict()
    return len(sentences) / (time.perf_counter() - t0)


def tiled_fleet(n: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A simulated day's vessels (features, alerts) copied until there are ``n`` vessels: realistic inputs for
    timing the scorer alone. Copies get MMSIs beyond nine digits (no flag), so they stay distinct."""
    feed = simulate(SimConfig(hours=24, seed=seed, vessels=300)).feed
    d = decode_bytes(feed, details=False)
    land = LandIndex.load()
    engine = Engine(default_detectors(load_pack("gulf-of-tonkin"), land))
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    acc = FeatureAccumulator(land)
    acc.add(d.positions, d.statics)
    vessels, days, alerts = acc.vessels(), acc.days(), engine.alerts()
    copies = -(-n // vessels.height)
    v = pl.concat([vessels.with_columns(mmsi=pl.col("mmsi") + 10**10 * c) for c in range(copies)]).head(n)
    dd = pl.concat([days.with_columns(mmsi=pl.col("mmsi") + 10**10 * c) for c in range(copies)])
    a = pl.concat([alerts.with_columns(mmsi=pl.col("mmsi") + 10**10 * c, other_mmsi=pl.col("other_mmsi") + 10**10 * c,
                                       alert_id=pl.col("alert_id") + f"-{c}") for c in range(copies)])  # fmt: skip
    keep = v["mmsi"].implode()
    return a.filter(pl.col("mmsi").is_in(keep)), v, dd.filter(pl.col("mmsi").is_in(keep))


def whole_command(log: Path, out: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (user + system of the process and its children) of ``seawatch backtest LOG --out OUT
    --progress off --no-report`` as a user runs it: a new process each time, start-up included."""
    seawatch = Path(sys.executable).with_name("seawatch")
    cmd = [str(seawatch), "backtest", str(log), "--out", str(out), "--progress", "off", "--no-report"]
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def stage_seconds(log: Path, chunk_bytes: int = BACKTEST_CHUNK_BYTES) -> dict[str, float]:
    """Process time of each stage of a backtest of ``log``, done as ``run_backtest`` does it (same inputs,
    columns and chunks): where the end-to-end figure goes."""
    spent: dict[str, float] = {}

    def timed(stage: str, work, *args):  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        result = work(*args)
        spent[stage] = spent.get(stage, 0.0) + time.process_time() - t0
        return result

    scorer = timed("model files", Scorer.with_default_models)
    land = LandIndex.load()
    engine = Engine(default_detectors(load_pack("gulf-of-tonkin"), land))
    features = FeatureAccumulator(land)
    framer = Framer()
    columns = readers_columns(ENGINE_COLUMNS, FEATURE_COLUMNS)
    for chunk in [*map_chunks(log, chunk_bytes), None]:
        batch = timed("framing", lambda c=chunk: framer.feed(c if c is not None else b"", final=c is None))
        decoded = timed("decoding", lambda b=batch: decode(b, details=False, columns=columns))
        timed("engine", engine.process, decoded.positions, decoded.statics, decoded.events)
        timed("features", features.add, decoded.positions, decoded.statics)
    alerts = timed("engine", lambda: (engine.finish(), engine.alerts())[1])
    vessels = timed("scoring", scorer.score, alerts, features.vessels(), features.days())
    with tempfile.TemporaryDirectory() as tmp:
        timed("writing", lambda: (alerts.write_parquet(Path(tmp) / "a.parquet"),
                                  vessels.write_parquet(Path(tmp) / "v.parquet")))  # fmt: skip
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=48.0)
    ap.add_argument("--vessels", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3, help="backtest runs on the same file (best and median printed)")
    ap.add_argument("--stages", action="store_true", help="also the process time of each stage (best of --runs)")
    args = ap.parse_args()
    out = sys.stdout.write
    out(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; python {platform.python_version()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = folder / "warm.nmea"
        warm.write_bytes(simulate(SimConfig(hours=2, seed=1, vessels=50)).feed)
        run_backtest([warm], folder / "warm-out", BacktestOptions(report=False, progress=False))
        feed = simulate(SimConfig(hours=args.hours, seed=args.seed, vessels=args.vessels)).feed
        log = folder / "feed.nmea"
        log.write_bytes(feed)
        size = len(feed) / 1e6
        out(f"input: {args.hours:g} h x {args.vessels} vessels simulated, {size:,.0f} MB\n")
        walls, cpus = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            summary = run_backtest([log], folder / "out", BacktestOptions(report=False, progress=False))
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        best = min(range(args.runs), key=walls.__getitem__)
        seconds = walls[best]
        rate = summary.messages / seconds
        median = summary.messages / statistics.median(walls)
        baseline = pyais_rate(feed)
        out(f"backtest end to end (no report), best of {args.runs}: {summary.messages:,} messages in {seconds:.2f} s "
            f"(process CPU {cpus[best]:.2f} s) = {rate:,.0f} msg/s; median {median:,.0f} msg/s; every run: "
            f"{', '.join(f'{w:.2f} s' for w in walls)}; {summary.alerts.height:,} alerts, "
            f"{summary.vessels.height:,} vessels\n")  # fmt: skip
        walls, cpus = whole_command(log, folder / "out-command", args.runs)
        out(f"whole command (`seawatch backtest LOG --no-report`, a new process each run), best of {args.runs}: "
            f"{min(walls):.2f} s = {summary.messages / min(walls):,.0f} msg/s; median {statistics.median(walls):.2f} s "
            f"= {summary.messages / statistics.median(walls):,.0f} msg/s; CPU (user + system) median "
            f"{statistics.median(cpus):.2f} s\n")  # fmt: skip
        out(f"pyais decoding alone (sample of {PYAIS_SAMPLE:,} bare single-part sentences): {baseline:,.0f} msg/s\n")
        out(f"ratio: backtest is {rate / baseline:.1f}x pyais decoding alone\n")
        if args.stages:
            runs = [stage_seconds(log) for _ in range(args.runs)]
            best_stages = {stage: min(r[stage] for r in runs) for stage in runs[0]}
            out(f"stages, process time, best of {args.runs}: "
                + ", ".join(f"{stage} {sec:.3f} s" for stage, sec in best_stages.items()) + "\n")  # fmt: skip
        t0 = time.perf_counter()
        run_backtest([log], folder / "out-report", BacktestOptions(report=True, progress=False))
        out(f"with the HTML report: {time.perf_counter() - t0:.2f} s\n")
    scorer = Scorer.with_default_models()
    alerts, vessels, days = tiled_fleet(100_000)
    scorer.score(alerts[:100], vessels[:1000], days[:1000])  # warm-up
    t0 = time.perf_counter()
    table = scorer.score(alerts, vessels, days)
    out(f"scoring {table.height:,} vessels with {alerts.height:,} alerts (both models): "
        f"{time.perf_counter() - t0:.2f} s\n")  # fmt: skip


if __name__ == "__main__":
    main()
