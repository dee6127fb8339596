"""Fast start (issue 13): the command line, the batch and live jobs and scoring import no training or drawing
library. scikit-learn is for ``seawatch train`` (the report draws its figures as SVG itself); scipy only as far as
Numba's own version check imports it when Numba is imported, and the one BLAS module its first compilation checks
for (loaded alone by ``feeds.jit``)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sklearn", "skops", "matplotlib", "scipy")
JOBS = "seawatch.cli, seawatch.backtest_job, seawatch.serve_job, models.scoring"


def _loaded_after(imports: str) -> set[str]:
    """The modules of :data:`HEAVY` loaded by ``import <imports>`` in a fresh interpreter."""
    code = (f"import json, sys; import {imports}; "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_jobs_and_scoring_import_no_training_or_drawing_library() -> None:
    loaded = _loaded_after(JOBS)
    by_numba = _loaded_after("numba")  # numba imports scipy's top package to check its version
    by_numba.add("scipy.linalg.cython_blas")  # what Numba's BLAS check imports, without scipy.linalg (feeds/jit.py)
    assert not {m for m in loaded if not m.startswith("scipy")}, "sklearn, skops or matplotlib imported"
    assert loaded - by_numba == set(), f"imported beyond what numba itself loads: {sorted(loaded - by_numba)}"


def test_the_check_sees_a_training_library_when_one_is_imported() -> None:
    assert "sklearn" in _loaded_after(f"{JOBS}, models.evidence")
