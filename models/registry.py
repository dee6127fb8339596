"""The model registry: numbered versions of the scoring models, the one in use, and how it came to be.

A registry is a folder (``SEAWATCH_MODELS_DIR``; ``<state dir>/models`` by default)::

    registry.json          {"current": "0002" | null, "history": [{"action", "version", "previous", "at", "by",
                                                                    "forced", "comparison"}, ...]}
    versions/0001/         evidence.npz, unusual.npz (models/files.py), heldout.npz, version.json
    versions/0002/ ...

``current`` null means the base models (the shipped ones, or ``seawatch serve --models DIR``). A version is added
from a folder written by ``seawatch train --from-store`` (its held-out decisions in ``heldout.npz``: the evidence
features ``X`` and the decisions ``y``, plain arrays read with ``allow_pickle=False``) and promoted only when its
evidence model beats the current one on those held-out decisions: a higher average precision on the very same rows
(``force`` overrides, and the history says so). A rollback returns to the model that was current before the
current one was promoted. Changes hold a lock file, and ``registry.json`` is replaced whole (a reader never sees
half of it), so ``seawatch serve`` (:class:`ModelWatcher`) can follow it while ``seawatch models`` or the admin API
changes it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.files import DEFAULT_DIR, EVIDENCE_FILE, UNUSUAL_FILE, ModelFileError, load_model
from models.scoring import EVIDENCE_FEATURES, UNUSUAL_FEATURES, Scorer, learned_from

log = logging.getLogger("seawatch.models")
STATE_FILE = "registry.json"
VERSIONS = "versions"
VERSION_FILE = "version.json"
HELD_OUT_FILE = "heldout.npz"
DEFAULT_ROOT = Path(".seawatch") / "models"  # beside `seawatch serve`'s default state (--state .seawatch)


class RegistryError(ValueError):
    """A registry change that cannot be made; the message says why and what to do."""


class NotBetter(RegistryError):
    """A candidate that does not beat the current model on its held-out decisions."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        super().__init__(f"version {comparison.version} is not promoted: {comparison.said()}; a model is promoted "
                         "only when it beats the current one on held-out decisions (force overrides)")  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """A candidate's and the current model's figures on the candidate's held-out decisions (the same rows)."""

    version: str
    current: str  # a version, or "base" (the shipped models or serve --models)
    rows: int
    positives: int
    model_ap: float
    current_ap: float
    model_auc: float
    current_auc: float

    @property
    def better(self) -> bool:
        return self.model_ap > self.current_ap

    def said(self) -> str:
        return (f"average precision {self.model_ap:.3f} vs {self.current_ap:.3f} for the current model "
                f"({self.current}) on {self.rows} held-out rows ({self.positives} confirmed or escalated); ROC AUC "
                f"{self.model_auc:.3f} vs {self.current_auc:.3f}")  # fmt: skip


def held_out_figures(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Average precision and ROC AUC of the probabilities ``p`` for the decisions ``y`` (ties averaged, as
    scikit-learn's; numpy only, so the live service and the admin API need no scikit-learn)."""
    y = np.asarray(y, np.int64)
    p = np.asarray(p, np.float64)
    pos = int(y.sum())
    if pos == 0 or pos == y.shape[0]:
        return math.nan, math.nan
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), ys.shape[0] - 1]  # the last row of each run of equal scores
    tp = np.cumsum(ys)[last].astype(np.float64)
    fp = (last + 1) - tp
    recall = tp / pos
    precision = tp / (tp + fp)
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    tpr, fpr = np.r_[0.0, recall], np.r_[0.0, fp / (y.shape[0] - pos)]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return ap, auc


def save_held_out(folder: Path, X: np.ndarray, y: np.ndarray) -> Path:  # noqa: N803 (scikit-learn's name)
    path = folder / HELD_OUT_FILE
    partial = folder / (HELD_OUT_FILE + ".partial.npz")
    np.savez_compressed(partial, X=np.asarray(X, np.float64), y=np.asarray(y, np.int64))
    os.replace(partial, path)
    return path


def load_held_out(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    path = folder / HELD_OUT_FILE
    try:
        with np.load(path, allow_pickle=False) as z:
            X, y = z["X"], z["y"]  # noqa: N806
    except (OSError, KeyError, ValueError) as exc:
        raise RegistryError(f"{path}: no usable held-out decisions ({exc}); train the model with `seawatch train "
                            "--from-store ... --out DIR`, which writes them") from None  # fmt: skip
    if X.ndim != 2 or X.shape[1] != len(EVIDENCE_FEATURES) or y.shape != (X.shape[0],):
        raise RegistryError(f"{path}: held-out arrays of shape {X.shape} and {y.shape}, not rows of the "
                            f"{len(EVIDENCE_FEATURES)} evidence features and their decisions")  # fmt: skip
    return X, y


class Registry:
    """The versions in ``root``; ``base`` is the model folder in use when no version is (None: the shipped one)."""

    def __init__(self, root: Path, base: Path | None = None) -> None:
        self.root = root
        self.base = base or DEFAULT_DIR

    # reading
    def state(self) -> dict[str, Any]:
        path = self.root / STATE_FILE
        if not path.is_file():
            return {"current": None, "history": []}
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{path}: unreadable ({exc}); restore it from a backup, or remove it to go back to "
                                "the base models") from None  # fmt: skip
        if not isinstance(state, dict) or not isinstance(state.get("history"), list):
            raise RegistryError(f"{path}: not a registry state (current and history)")
        return state

    def current(self) -> str | None:
        current = self.state().get("current")
        return None if current is None else str(current)

    def folder(self, version: str | None) -> Path:
        """The model folder of ``version`` (None: the base models)."""
        if version is None:
            return self.base
        path = self.root / VERSIONS / version
        if not (path / VERSION_FILE).is_file():
            known = ", ".join(v["version"] for v in self.versions()) or "none yet"
            raise RegistryError(f"no model version {version!r} in {self.root} (versions: {known}); add one with "
                                "`seawatch models add DIR`")  # fmt: skip
        return path

    def versions(self) -> list[dict[str, Any]]:
        """Every version, oldest first: its number, when and by whom it was added, what it learned from (labels,
        decisions, time span) and its held-out figures, and whether it is current."""
        folder = self.root / VERSIONS
        current = self.current() if folder.is_dir() else None
        out = []
        for path in sorted(folder.glob("*/" + VERSION_FILE)) if folder.is_dir() else []:
            info = json.loads(path.read_text())
            out.append({**info, "current": info["version"] == current})
        return out

    # changing
    def add(self, source: Path, *, by: str) -> str:
        """Copy a trained model folder (evidence.npz, unusual.npz, heldout.npz) in as the next version."""
        evidence = load_model(source / EVIDENCE_FILE, EVIDENCE_FEATURES)
        load_model(source / UNUSUAL_FILE, UNUSUAL_FEATURES)
        load_held_out(source)
        with self._lock():
            taken = [int(p.name) for p in (self.root / VERSIONS).glob("[0-9]*") if p.name.isdigit()]
            version = f"{max(taken, default=0) + 1:04d}"
            partial = self.root / VERSIONS / f".{version}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            for name in (EVIDENCE_FILE, UNUSUAL_FILE, HELD_OUT_FILE):
                shutil.copyfile(source / name, partial / name)
            meta = evidence.metadata
            info = {"version": version, "added": _now(), "by": by, "source": str(source),
                    "learned_from": learned_from(meta), "decisions": meta.get("decisions"),
                    "first_decision": meta.get("first_decision"), "last_decision": meta.get("last_decision"),
                    "held_out": meta.get("held_out")}  # fmt: skip
            (partial / VERSION_FILE).write_text(json.dumps(info, indent=1, allow_nan=False, default=str))
            os.replace(partial, self.root / VERSIONS / version)
        return version

    def compare(self, version: str, against: str | None = None) -> Comparison:
        """``version``'s evidence model and the current one's (or ``against``'s) on ``version``'s held-out rows."""
        X, y = load_held_out(self.folder(version))  # noqa: N806
        current = self.current() if against is None else against
        if current == version:
            raise RegistryError(f"version {version} is the current model already")
        model = load_model(self.folder(version) / EVIDENCE_FILE, EVIDENCE_FEATURES).predictor
        incumbent = load_model(self.folder(current) / EVIDENCE_FILE, EVIDENCE_FEATURES).predictor
        ap, auc = held_out_figures(y, model.predict_proba(X)[:, -1])
        cap, cauc = held_out_figures(y, incumbent.predict_proba(X)[:, -1])
        return Comparison(version=version, current=current or "base", rows=int(y.shape[0]), positives=int(y.sum()),
                          model_ap=ap, current_ap=cap, model_auc=auc, current_auc=cauc)  # fmt: skip

    def promote(self, version: str, *, by: str, force: bool = False) -> Comparison:
        """Make ``version`` current if it beats the current model on its held-out decisions (or ``force``)."""
        self.folder(version)  # an unknown version is refused before anything is locked or made
        with self._lock():
            state = self.state()
            comparison = self.compare(version)
            if not comparison.better and not force:
                raise NotBetter(comparison)
            self._write(state, "promote", version, previous=state.get("current"), by=by, forced=not comparison.better,
                        comparison=asdict(comparison))  # fmt: skip
        return comparison

    def rollback(self, *, by: str) -> tuple[str, str | None]:
        """Return to the model current before the current one was promoted; (from, to), None meaning the base."""
        nothing = RegistryError("nothing to roll back: the base models are in use (no version is current)")
        if self.current() is None:
            raise nothing
        with self._lock():
            state = self.state()
            current = state.get("current")
            if current is None:
                raise nothing
            promoted = [e for e in state["history"] if e["action"] == "promote" and e["version"] == current]
            previous = promoted[-1]["previous"] if promoted else None
            self._write(state, "rollback", previous, previous=current, by=by, forced=False, comparison=None)
        return current, previous

    def _write(self, state: dict[str, Any], action: str, version: str | None, *, previous: str | None, by: str,
               forced: bool, comparison: dict[str, Any] | None) -> None:  # fmt: skip
        event = {"action": action, "version": version, "previous": previous, "at": _now(), "by": by,
                 "forced": forced, "comparison": comparison}  # fmt: skip
        fresh = {"current": version, "history": [*state["history"], event]}
        path = self.root / STATE_FILE
        partial = path.with_name(STATE_FILE + ".partial")
        partial.write_text(json.dumps(fresh, indent=1, allow_nan=True))
        os.replace(partial, path)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class ModelWatcher:
    """Follows a registry's current version for a live scorer: :meth:`scorer` hands back the scorer with the
    promoted models once they changed, loaded with models/files.py; a version that cannot be loaded leaves the
    models in use as they are, and :meth:`troubles` says so (``/healthz``) until a loadable one is current. A
    version that failed is tried again only when the registry changes again."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.loaded: str | None = None  # the version the scorer uses (None: the base models it started with)
        self._failed: tuple[str | None, float] | None = None  # (version, registry.json's mtime) that did not load
        self._unreadable = ""
        self._unloadable = ""

    def changed(self) -> bool:
        """Whether :meth:`scorer` has a version to load (cheap: one small file read)."""
        wanted = self._wanted()
        return wanted != self.loaded and self._failed != (wanted, self._stamp())

    def scorer(self, scorer: Scorer) -> Scorer:
        wanted = self._wanted()
        if wanted == self.loaded or self._failed == (wanted, self._stamp()):
            return scorer
        try:
            folder = self.registry.folder(wanted)
            fresh = replace(scorer, unusual_model=load_model(folder / UNUSUAL_FILE, UNUSUAL_FEATURES),
                            evidence_model=load_model(folder / EVIDENCE_FILE, EVIDENCE_FEATURES))  # fmt: skip
        except (RegistryError, ModelFileError) as exc:
            self._failed = (wanted, self._stamp())
            self._unloadable = (f"model {_name(wanted)} is current in the registry but cannot be loaded ({exc}); "
                                f"scoring with {_name(self.loaded)}")  # fmt: skip
            log.error("%s", self._unloadable)
            return scorer
        log.warning("scoring with model %s (was %s)", _name(wanted), _name(self.loaded))
        self.loaded, self._failed, self._unloadable = wanted, None, ""
        return fresh

    def troubles(self) -> list[str]:
        return [t for t in (self._unreadable, self._unloadable) if t]

    def _wanted(self) -> str | None:
        """The registry's current version; the loaded one while the registry cannot be read (said in troubles)."""
        try:
            wanted = self.registry.current()
        except RegistryError as exc:
            self._unreadable = f"model registry: {exc}; scoring with {_name(self.loaded)}"
            return self.loaded
        self._unreadable = ""
        return wanted

    def _stamp(self) -> float:
        try:
            return (self.registry.root / STATE_FILE).stat().st_mtime
        except OSError:
            return 0.0


def _name(version: str | None) -> str:
    return "the base models" if version is None else f"version {version}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
