"""Compiled kernels are cached on disk: a second process loads machine code instead of compiling again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
