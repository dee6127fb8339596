"""Model files: versioned, carrying their training metadata, loaded without running arbitrary code.

A model file is a skops archive (``.skops``) of ``{"format": ..., "metadata": {...}, "estimator": ...}``. skops
rebuilds only the types it is told to trust; :func:`load_model` trusts scikit-learn's and numpy's types and
ours, and refuses a file that asks for anything else (a pickle could run any code on load). A file of another
format version, or trained for other features or another scikit-learn, is refused with what to do instead.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import sklearn
import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

FORMAT = "seawatch-model/1"
DEFAULT_DIR = Path(__file__).resolve().parent / "default"  # the models shipped with the package
UNUSUAL_FILE = "unusual.skops"
EVIDENCE_FILE = "evidence.skops"
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "models.", "builtins.", "collections.", "scipy.")
# the types skops does not trust by itself that `seawatch train`'s models hold: a file with only these loads in
# one read; any other file is first listed (a second read) and checked against the prefixes above
_KNOWN_TYPES = [
    "models.evidence.EvidenceModel",
    "models.unusual.PackedForest",
    "models.unusual.UnusualBehaviour",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ModelFile:
    estimator: Any
    metadata: dict[str, Any]
    path: Path


def save_model(path: Path, estimator: Any, metadata: dict[str, Any]) -> Path:
    """Write ``estimator`` with its ``metadata`` (feature names, training command, data, scores...)."""
    meta = {
        "format": FORMAT,
        "sklearn": sklearn.__version__,
        "seawatch": _version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **metadata,
    }
    json.dumps(meta)  # metadata must be plain data: it is read before the estimator is trusted
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump({"format": FORMAT, "metadata": meta, "estimator": estimator}, path)
    return path


def load_model(path: Path, features: tuple[str, ...] | None = None) -> ModelFile:
    """Read a model file, refusing one that is untrusted, of another format, or made for other features."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; train one with `seawatch train --out {path.parent}`")
    try:
        content = _read(path)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:  # not a skops archive
        raise ModelFileError(f"{path}: not a Seawatch model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        found = content.get("format") if isinstance(content, dict) else type(content).__name__
        raise ModelFileError(f"{path}: model format {found!r}, this Seawatch reads {FORMAT!r}; retrain it with "
                             f"`seawatch train --out {path.parent}`")  # fmt: skip
    meta = content["metadata"]
    trained, running = _minor(meta.get("sklearn", "")), _minor(sklearn.__version__)
    if trained != running:
        raise ModelFileError(f"{path}: trained with scikit-learn {meta.get('sklearn')}, this is {sklearn.__version__} "
                             f"(models do not carry across versions); retrain it with "
                             f"`seawatch train --out {path.parent}`")  # fmt: skip
    if features is not None and tuple(meta.get("features", ())) != features:
        raise ModelFileError(f"{path}: made for features {meta.get('features')}, this Seawatch computes "
                             f"{list(features)}; retrain it with `seawatch train --out {path.parent}`")  # fmt: skip
    return ModelFile(estimator=content["estimator"], metadata=meta, path=path)


def _read(path: Path) -> Any:
    """The archive's content, built only from trusted types (skops checks every type before building any)."""
    try:
        return sio.load(path, trusted=_KNOWN_TYPES)
    except UntrustedTypesFoundException:
        pass
    untrusted = sio.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if foreign:
        raise ModelFileError(f"{path}: refuses to load types that are not scikit-learn's or Seawatch's: "
                             f"{', '.join(sorted(foreign))}; use a model file made by `seawatch train`")  # fmt: skip
    return sio.load(path, trusted=untrusted)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _version() -> str:
    try:
        return importlib_metadata.version("seawatch")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"
