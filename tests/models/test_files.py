"""Model files: a round trip keeps the predictions and the metadata; a file of format 1, of another format or
kind, with members not its kind's, with arrays that would walk out of a tree, or for other features is refused
with the file's name and the fix; loading never runs code."""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from models.evidence import EvidenceModel
from models.files import FORMAT, HEADER, ModelFileError, load_model, save_model
from models.packed import PackedEvidence, PackedUnusual
from models.unusual import UnusualBehaviour

FEATURES = ("a", "b")
FIX = "seawatch train --out"


@cache
def _unusual() -> PackedUnusual:
    X = np.random.default_rng(0).normal(size=(50, 2))  # noqa: N806
    return UnusualBehaviour(n_estimators=10, group_column=1, random_state=0).fit(X).predictor_


@cache
def _evidence() -> PackedEvidence:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))  # noqa: N806
    X[::5, 0] = np.nan
    return EvidenceModel(max_iter=10, random_state=0).fit(X, (rng.uniform(size=200) < 0.3).astype(int)).predictor_


def _rewrite(src: Path, dst: Path, members: dict[str, bytes | None]) -> Path:
    """``src`` with ``members`` replaced (or dropped: None, or added)."""
    with zipfile.ZipFile(src) as z:
        content = {n: z.read(n) for n in z.namelist()}
    content.update(members)
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in content.items():
            if data is not None:
                z.writestr(name, data)
    return dst


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_round_trip_keeps_the_predictions_and_the_metadata(tmp_path: Path) -> None:
    x = np.array([[0.1, 0.2], [3.0, -3.0], [np.nan, 1.0]])
    for predictor, name in ((_unusual(), "unusual.npz"), (_evidence(), "evidence.npz")):
        path = save_model(tmp_path / name, predictor, {"features": list(FEATURES), "seeds": [1, 2]})
        got = load_model(path, FEATURES)
        assert type(got.predictor) is type(predictor)
        if isinstance(predictor, PackedUnusual):
            assert np.array_equal(got.predictor.score_samples(x), predictor.score_samples(x))
            assert got.predictor.offset == predictor.offset
        else:
            assert np.array_equal(got.predictor.predict_proba(x), predictor.predict_proba(x))
        assert got.metadata["seeds"] == [1, 2] and got.metadata["features"] == list(FEATURES)
        assert {"created", "seawatch", "sklearn"} <= set(got.metadata)


def test_a_file_describes_itself_in_plain_json_and_plain_arrays(tmp_path: Path) -> None:
    path = save_model(tmp_path / "evidence.npz", _evidence(), {"features": list(FEATURES)})
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read(HEADER))
        names = set(z.namelist())
    assert header["format"] == FORMAT and header["kind"] == "evidence"
    assert header["metadata"]["features"] == list(FEATURES)
    assert names == {HEADER} | {f"{n}.npy" for n in PackedEvidence.ARRAYS}
    with np.load(path, allow_pickle=False) as z:  # numpy alone reads every array
        assert all(z[n].dtype != object for n in PackedEvidence.ARRAYS)


def test_metadata_must_be_plain_data(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_model(tmp_path / "m.npz", _unusual(), {"features": list(FEATURES), "when": object()})
    assert not (tmp_path / "m.npz").exists()


def test_a_format_1_skops_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    old = tmp_path / "unusual.skops"
    with zipfile.ZipFile(old, "w") as z:  # what a skops archive holds
        z.writestr("schema.json", json.dumps({"__class__": "dict", "protocol": 2}))
    with pytest.raises(ModelFileError, match=rf"unusual\.skops.*seawatch-model/1.*{FIX} {tmp_path}"):
        load_model(old)
    # a folder of old files, asked for the new name: the error names the old file
    with pytest.raises(ModelFileError, match=r"unusual\.skops.*seawatch-model/1"):
        load_model(tmp_path / "unusual.npz")
    renamed = old.rename(tmp_path / "renamed.npz")
    with pytest.raises(ModelFileError, match=r"renamed\.npz.*seawatch-model/1"):
        load_model(renamed)


def test_members_not_of_its_kind_are_refused(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.npz", _unusual(), {"features": list(FEATURES)})
    extra = _rewrite(path, tmp_path / "extra.npz", {"run_me.npy": _npy(np.zeros(1))})
    with pytest.raises(ModelFileError, match=r"unknown: \['run_me'\]"):
        load_model(extra)
    missing = _rewrite(path, tmp_path / "missing.npz", {"medians.npy": None})
    with pytest.raises(ModelFileError, match=r"missing: \['medians'\]"):
        load_model(missing)


class Trap:
    """Would leave a file behind if unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))  # unpickling calls open(path, "w"): creates the file


def test_a_member_holding_objects_is_refused_without_running_them(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.npz", _unusual(), {"features": list(FEATURES)})
    witness = tmp_path / "witness"
    trap = np.array([Trap(str(witness))], dtype=object)
    tampered = _rewrite(path, tmp_path / "tampered.npz", {"medians.npy": _npy(trap, allow_pickle=True)})
    with pytest.raises(ModelFileError, match=rf"tampered\.npz.*Object arrays.*{FIX}"):
        load_model(tampered)
    assert not witness.exists()


def test_arrays_that_would_walk_out_of_a_tree_are_refused(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.npz", _evidence(), {"features": list(FEATURES)})
    left = _evidence().boosting.left.copy()
    left[left != -1] = 10**9
    tampered = _rewrite(path, tmp_path / "tampered.npz", {"trees_left.npy": _npy(left)})
    with pytest.raises(ModelFileError, match=r"tampered\.npz: not a usable.*boosting"):
        load_model(tampered)


def test_another_format_kind_or_features_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.npz", _unusual(), {"features": ["x", "y"]})
    with pytest.raises(ModelFileError, match=rf"made for features \['x', 'y'\].*{FIX}"):
        load_model(path, FEATURES)
    header = json.loads(zipfile.ZipFile(path).read(HEADER))
    for key, value, said in [("format", "seawatch-model/3", "model format 'seawatch-model/3'"),
                             ("kind", "neural-net", "unknown kind of model 'neural-net'")]:  # fmt: skip
        other = _rewrite(path, tmp_path / f"{key}.npz", {HEADER: json.dumps({**header, key: value}).encode()})
        with pytest.raises(ModelFileError, match=said):
            load_model(other)
    broken = _rewrite(path, tmp_path / "broken.npz", {HEADER: b"{not json"})
    with pytest.raises(ModelFileError, match="not a model file's header"):
        load_model(broken)


def test_not_a_model_file_and_no_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a Seawatch model file"):
        load_model(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(2))
    with pytest.raises(ModelFileError, match="no seawatch.json"):
        load_model(plain)
    with pytest.raises(ModelFileError, match=f"no such model file; train one with `{FIX}"):
        load_model(tmp_path / "missing.npz")
