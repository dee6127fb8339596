"""Same alerts before and after a change? Runs every detector on fixed inputs and compares with a saved run.

    .venv/bin/python benchmarks/compare_alerts.py save DIR       # before the change: simulate + detect into DIR
    .venv/bin/python benchmarks/compare_alerts.py check DIR      # after: detect again, compare with DIR

Inputs: simulated Gulf of Tonkin days (seeds 41 and 42, 24 h x 300 vessels; the feeds are kept in DIR so a
simulator change does not move them) and the NOAA sample of ../shared/data/csv when present. Alerts must agree
exactly in id, kind, vessels, times and reasons, and to 1e-9 in score and position. Speed work on the engine is
checked with this ("alerts identical" in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seawatch.detect_job import run_detect  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NOAA = DATA / "csv" / "noaa_marinecadastre_20220103_sample.csv"
SEEDS = (41, 42)
EXACT = ("alert_id", "kind", "mmsi", "other_mmsi", "start", "end", "reasons")
CLOSE = ("score", "lat", "lon")


def inputs(folder: Path) -> dict[str, Path]:
    found = {f"seed{s}": folder / f"seed{s}.nmea" for s in SEEDS}
    if NOAA.exists():
        found["noaa"] = NOAA
    return found


def detect(folder: Path, out: Path) -> None:
    for name, path in inputs(folder).items():
        run_detect([path], out / name, progress=False)


def differences(base: Path, new: Path) -> list[str]:
    problems = []
    for name in inputs(base):
        a = pl.read_parquet(base / name / "alerts.parquet").sort("alert_id")
        b = pl.read_parquet(new / name / "alerts.parquet").sort("alert_id")
        if a.height != b.height or not a["alert_id"].equals(b["alert_id"]):
            problems.append(f"{name}: {a.height} alerts before, {b.height} after, ids differ")
            continue
        problems += [f"{name}: {c} differs" for c in EXACT if not a[c].equals(b[c], check_names=False)]
        problems += [
            f"{name}: {c} differs by up to {np.nanmax(np.abs(a[c].to_numpy() - b[c].to_numpy())):g}"
            for c in CLOSE
            if not np.allclose(a[c].to_numpy(), b[c].to_numpy(), atol=1e-9, rtol=0, equal_nan=True)
        ]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("save", "check"))
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    if args.action == "save":
        from seawatch.simulator.config import SimConfig
        from seawatch.simulator.scenario import simulate

        args.folder.mkdir(parents=True, exist_ok=True)
        for seed in SEEDS:
            (args.folder / f"seed{seed}.nmea").write_bytes(simulate(SimConfig(hours=24, seed=seed)).feed)
        detect(args.folder, args.folder)
        sys.stdout.write(f"saved alerts of {', '.join(inputs(args.folder))} in {args.folder}\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        detect(args.folder, Path(tmp))
        problems = differences(args.folder, Path(tmp))
    sys.stdout.write("\n".join(problems) + "\n" if problems else "ALL IDENTICAL\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
