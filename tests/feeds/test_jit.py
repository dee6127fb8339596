"""Compiled kernels are cached on disk: a second process loads machine code instead of compiling again; and Numba's
BLAS check is met without importing the whole of scipy.linalg."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from engine.decode import decode_bytes
d = decode_bytes(b"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23\\n")
assert d.positions.height == 1
"""


def _run(cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def test_second_process_loads_kernels_from_the_disk_cache(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert "data saved to" in first  # the first process compiled and wrote the cache
    assert list(tmp_path.rglob("*nmea_kernel*.nbi")) and list(tmp_path.rglob("*decode_kernel*.nbi"))
    second = _run(tmp_path)
    assert "data loaded from" in second
    assert "data saved to" not in second  # nothing was compiled again


def test_a_kernel_with_np_dot_runs_without_scipy_linalg(tmp_path: Path) -> None:
    pytest.importorskip("scipy", reason="without scipy, Numba's BLAS check fails fast and there is nothing to load")
    script = tmp_path / "dot.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        import numpy as np
        from feeds.jit import kernel

        @kernel
        def dot(a, b):
            return np.dot(a, b)

        a = np.arange(5.0)
        assert dot(a, a) == float(a @ a), dot(a, a)
        print("scipy.linalg" in sys.modules, "scipy.linalg.cython_blas" in sys.modules)
    """)
    )
    env = {"PYTHONPATH": str(ROOT), "SEAWATCH_NUMBA_CACHE": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_read_only_is_a_view_numba_types_as_one_signature() -> None:
    import numpy as np

    from feeds.jit import kernel, read_only

    @kernel
    def total(a):  # not cached by name: a closure, compiled in this test
        s = 0.0
        for x in a:
            s += x
        return s

    writable = np.arange(5.0)
    view = read_only(writable)
    assert not view.flags.writeable and writable.flags.writeable  # the caller's array is left as it was
    assert np.shares_memory(view, writable)  # no copy
    assert read_only(view) is view
    frozen = writable.copy()
    frozen.flags.writeable = False
    assert total(view) == total(frozen) == 10.0
    assert len(total.signatures) == 1  # a writable array passed through read_only and a read-only one: one compile
