"""Running a row-wise kernel over large inputs on every core.

Kernels are compiled with ``nogil`` (feeds/jit.py), so plain threads run them in parallel; each thread gets
its own slice of the rows and writes only its own slice of the outputs. As many threads as Numba is set to use
(``NUMBA_NUM_THREADS``, every core by default), so one setting keeps a run on one core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

MIN_ROWS_PER_THREAD = 1 << 18  # below ~250k rows, handing out work costs more than it saves


def run_rows(
    fn: Callable[..., Any],
    fixed: Sequence[Any],
    rows: Sequence[np.ndarray],
    outs: Sequence[np.ndarray],
    threads: int | None = None,
) -> None:
    """``fn(*fixed, *rows, *outs)``, split by rows (first axis) across ``threads`` (default: Numba's number)."""
    n = rows[0].shape[0]
    configured = int(getattr(numba.config, "NUMBA_NUM_THREADS"))  # noqa: B009 (numba.config has no type stubs)
    workers = min(threads or configured, max(n // MIN_ROWS_PER_THREAD, 1))
    if workers <= 1:
        fn(*fixed, *rows, *outs)
        return
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)

    def one(k: int) -> None:
        part = slice(int(bounds[k]), int(bounds[k + 1]))
        fn(*fixed, *(r[part] for r in rows), *(o[part] for o in outs))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(workers)))
