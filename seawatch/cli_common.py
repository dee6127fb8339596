"""What the command line's modules share: the thread setting, its argument type and the batch commands' collector."""

from __future__ import annotations

import argparse
import gc
import os

# A batch command creates ~140,000 long-lived objects at start-up (the imports, Numba's cached kernels) and then
# few: with CPython's default threshold (700 allocations) the collector ran ~330 times in a 7-day backtest, walking
# them all twice (0.10-0.15 s of CPU by gc.callbacks); at 50,000, 17 times (~0.05 s). Garbage in cycles waits for
# at most that many new objects (a few MB). benchmarks/RESULTS.md, issue 13.
BATCH_GC_THRESHOLD = 50_000


def use_threads(threads: int | None) -> None:
    """``--threads N`` (else ``SEAWATCH_THREADS``): the decoding workers, and polars' and Numba's own pools when
    they are not set apart, so that 1 keeps the whole run on one core. Set before polars and Numba are imported."""
    if threads is not None:
        os.environ["SEAWATCH_THREADS"] = str(threads)
    setting = os.environ.get("SEAWATCH_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        for pool in ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(pool, setting)


def batch_gc() -> None:
    """Collect cyclic garbage less often in a batch command (see BATCH_GC_THRESHOLD); older generations as before."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(BATCH_GC_THRESHOLD, older, oldest)


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of threads, at least 1 (1: one core)")
    return n


THREADS_HELP = "threads that decode at once (default: SEAWATCH_THREADS, else every core; 1: one core)"
