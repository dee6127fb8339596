"""The one place that sets Numba's compilation flags for every kernel of the project.

Kernels are compiled lazily on first call and cached on disk (``cache=True``), so importing a module costs
nothing and a second process reuses the machine code of the first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

# fastmath stays off: the decoders must reproduce exact integer-derived floats, and NaN is meaningful data.
NUMBA_FLAGS: dict[str, Any] = {
    "cache": os.environ.get("SEAWATCH_NUMBA_CACHE", "1") != "0",
    "nogil": True,
    "fastmath": False,
    "boundscheck": False,
}


def kernel(func: F) -> F:
    """Compile ``func`` with the project's Numba flags (lazily, on first call)."""
    return numba.njit(**NUMBA_FLAGS)(func)  # type: ignore[no-any-return,unused-ignore]
