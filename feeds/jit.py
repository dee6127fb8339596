"""The one place that sets Numba's compilation flags for every kernel of the project.

Kernels are compiled lazily on first call and cached on disk (``cache=True``), so importing a module costs
nothing and a second process reuses the machine code of the first.

At its first compilation or cache load, Numba checks that a BLAS is there for ``np.dot`` by importing
``scipy.linalg.cython_blas``, which imports the whole of ``scipy.linalg`` first: 0.2-0.45 s of every command's
start on this machine, for a check. :func:`_load_blas_alone` loads that one extension module by itself (2 ms)
from scipy's own folder, so the check finds it; Numba takes BLAS's functions from it as before (``np.dot`` in a
kernel still works, tested). Without scipy, or if the module is not where it should be, nothing is done and
Numba imports what it imports.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, FileFinder
from pathlib import Path
from typing import Any, TypeVar

import numba
import numpy as np

BLAS_MODULE = "scipy.linalg.cython_blas"


def _load_blas_alone() -> None:
    """Put scipy's BLAS extension module in ``sys.modules`` without running ``scipy/linalg/__init__.py``."""
    scipy = sys.modules.get("scipy")  # Numba imported it, when installed, to check its version
    if BLAS_MODULE in sys.modules or scipy is None or scipy.__file__ is None:
        return
    finder = FileFinder(str(Path(scipy.__file__).parent / "linalg"), (ExtensionFileLoader, EXTENSION_SUFFIXES))
    spec = finder.find_spec(BLAS_MODULE)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (ImportError, OSError):
        return
    sys.modules[BLAS_MODULE] = module


_load_blas_alone()

F = TypeVar("F", bound=Callable[..., Any])

# fastmath stays off: the decoders must reproduce exact integer-derived floats, and NaN is meaningful data.
NUMBA_FLAGS: dict[str, Any] = {
    "cache": os.environ.get("SEAWATCH_NUMBA_CACHE", "1") != "0",
    "nogil": True,
    "fastmath": False,
    "boundscheck": False,
}


def read_only(a: np.ndarray) -> np.ndarray:
    """``a`` as a read-only view (no copy). Numba compiles a kernel once per type of argument, and a read-only array
    (what polars' ``to_numpy()`` gives) is a type of its own: a kernel's input passed through this gets one signature
    whoever calls, so a process loads it from the cache once (~7 ms a load; a 7-day backtest loaded 11 such twins)."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


def kernel(func: F) -> F:
    """Compile ``func`` with the project's Numba flags (lazily, on first call)."""
    return numba.njit(**NUMBA_FLAGS)(func)  # type: ignore[no-any-return,unused-ignore]
