"""Model files: versioned, self-describing, carrying their training metadata, read with numpy alone.

A model file (format ``seawatch-model/2``, ``.npz``) is a zip of one JSON member, ``seawatch.json``
(``{"format", "kind", "metadata"}``; the metadata is plain data: features, training command and data, held-out
scores, when, which Seawatch and scikit-learn), and of the predictor's arrays, one ``.npy`` member each (a
:mod:`models.packed` predictor: ``kind`` names which). It is read with ``np.load(allow_pickle=False)``: plain
numbers only, so reading a file can never run code, and every index in it is checked before a kernel walks it.

A file is refused, with what to do instead, when it is not a zip of this format (a ``seawatch-model/1`` skops
file among them), when its members are not exactly its kind's, or when it was made for other features. Files of
format 1 were also refused across scikit-learn minor versions: its objects were scikit-learn's own; these arrays
are plain trees and numbers that mean the same whatever scikit-learn is installed, or none.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.packed import PackedArraysError, PackedEvidence, PackedUnusual

FORMAT = "seawatch-model/2"
OLD_FORMAT = "seawatch-model/1"  # skops archives (.skops), until the models became arrays
HEADER = "seawatch.json"
DEFAULT_DIR = Path(__file__).resolve().parent / "default"  # the models shipped with the package
UNUSUAL_FILE = "unusual.npz"
EVIDENCE_FILE = "evidence.npz"

Predictor = PackedUnusual | PackedEvidence
KINDS: dict[str, type[PackedUnusual] | type[PackedEvidence]] = {
    PackedUnusual.KIND: PackedUnusual,
    PackedEvidence.KIND: PackedEvidence,
}


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ModelFile:
    predictor: Any  # a models.packed predictor (PackedUnusual, PackedEvidence) or anything scoring the same way
    metadata: dict[str, Any]
    path: Path


def save_model(path: Path, predictor: Predictor, metadata: dict[str, Any]) -> Path:
    """Write ``predictor``'s arrays with its ``metadata`` (feature names, training command, data, scores...)."""
    meta = {"seawatch": _version("seawatch"), "sklearn": _version("scikit-learn"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"), **metadata}  # fmt: skip
    header = json.dumps({"format": FORMAT, "kind": predictor.KIND, "metadata": meta}, indent=1, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")  # a reader never sees half a file
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(HEADER, header)
        for name, array in predictor.arrays().items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            z.writestr(f"{name}.npy", buffer.getvalue())
    os.replace(partial, path)
    return path


def load_model(path: Path, features: tuple[str, ...] | None = None) -> ModelFile:
    """Read a model file, refusing one of another format or kind, with other members, or for other features."""
    retrain = f"retrain it with `seawatch train --out {path.parent}`"
    old = path.with_suffix(".skops")
    if path.suffix == ".skops" or (not path.exists() and old.is_file()):
        raise ModelFileError(f"{old}: a {OLD_FORMAT!r} (skops) model file, which this Seawatch no longer reads (it "
                             f"reads {FORMAT!r}, {path.with_suffix('.npz').name}); {retrain}")  # fmt: skip
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; train one with `seawatch train --out {path.parent}`")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Seawatch model file (not a zip archive); {retrain}")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if HEADER not in names:
                found = f"an {OLD_FORMAT!r} (skops) file" if "schema.json" in names else "no seawatch.json in it"
                raise ModelFileError(f"{path}: not a {FORMAT!r} model file ({found}); {retrain}")
            header = _header(path, z[HEADER])
            if header.get("format") != FORMAT:
                raise ModelFileError(f"{path}: model format {header.get('format')!r}, this Seawatch reads "
                                     f"{FORMAT!r}; {retrain}")  # fmt: skip
            kind = KINDS.get(str(header.get("kind")))
            if kind is None:
                raise ModelFileError(f"{path}: unknown kind of model {header.get('kind')!r} (known: "
                                     f"{', '.join(KINDS)}); {retrain}")  # fmt: skip
            members = sorted(n for n in names if n != HEADER)
            if members != sorted(kind.ARRAYS):
                extra, missing = set(members) - set(kind.ARRAYS), set(kind.ARRAYS) - set(members)
                raise ModelFileError(f"{path}: members of a {kind.KIND} model should be its arrays only; unknown: "
                                     f"{sorted(extra) or 'none'}, missing: {sorted(missing) or 'none'} (a damaged "
                                     f"or altered file); {retrain}")  # fmt: skip
            predictor = kind.from_arrays({name: z[name] for name in members})
    except ModelFileError:
        raise
    except (PackedArraysError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # PackedArraysError: inconsistent arrays; ValueError: a member of objects (allow_pickle=False) or no .npy
        raise ModelFileError(f"{path}: not a usable Seawatch model file ({type(exc).__name__}: {exc}); "
                             f"{retrain}") from None  # fmt: skip
    meta = header["metadata"]
    if features is not None and tuple(meta.get("features", ())) != features:
        raise ModelFileError(f"{path}: made for features {meta.get('features')}, this Seawatch computes "
                             f"{list(features)}; {retrain}")  # fmt: skip
    return ModelFile(predictor=predictor, metadata=meta, path=path)


def _header(path: Path, raw: Any) -> dict[str, Any]:
    """The JSON member, which must be a JSON object with a metadata object."""
    try:
        header = json.loads(raw) if isinstance(raw, bytes) else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("metadata"), dict):
        raise ModelFileError(f"{path}: {HEADER} is not a model file's header (a JSON object with a metadata "
                             f"object); retrain it with `seawatch train --out {path.parent}`")  # fmt: skip
    return header


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"
