"""The one place that sets Numba's compilation flags for every kernel of the project.

Kernels are compiled lazily on first call and cached on disk (``cache=True``), so importing a module costs
nothing and a second process reuses the machine code of the first.

Numba keys a cached kernel on its own source file only: a kernel that calls a kernel of another module keeps its
old machine code when only the other module changes. So, unless ``NUMBA_CACHE_DIR`` is set, the cache lives in a
folder named after a hash of every source file that defines kernels (``$SEAWATCH_CACHE_DIR`` or
``~/.cache/seawatch``, then ``numba/<hash>``): any change to them, an upgrade included, starts a fresh cache.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
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


KERNEL_PACKAGES = ("feeds", "engine")  # where kernels are defined (relative to the project root)


def source_hash(root: Path) -> str:
    """A hash of every Python file of the packages that define kernels."""
    h = hashlib.blake2b(digest_size=8)
    for package in KERNEL_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _use_versioned_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return  # the user chose where the cache goes
    base = Path(os.environ.get("SEAWATCH_CACHE_DIR") or Path.home() / ".cache" / "seawatch")
    cache = base / "numba" / source_hash(Path(__file__).resolve().parent.parent)
    numba.config.CACHE_DIR = str(cache)  # type: ignore[attr-defined]  # set from the environment at runtime


if NUMBA_FLAGS["cache"]:
    _use_versioned_cache()


def kernel(func: F) -> F:
    """Compile ``func`` with the project's Numba flags (lazily, on first call)."""
    return numba.njit(**NUMBA_FLAGS)(func)  # type: ignore[no-any-return,unused-ignore]
