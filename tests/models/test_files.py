"""Model files: round trip with metadata; refused when untrusted, of another format, version or feature set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sklearn
import skops.io as sio
from sklearn.utils import Bunch

from models.files import FORMAT, ModelFileError, load_model, save_model
from models.unusual import UnusualBehaviour

FEATURES = ("a", "b")


class NotOurs:
    """A type no model file should ask to rebuild."""


def _fitted() -> UnusualBehaviour:
    return UnusualBehaviour(n_estimators=10, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 2)))


def test_round_trip_keeps_the_estimator_and_its_metadata(tmp_path: Path) -> None:
    model = _fitted()
    path = save_model(tmp_path / "m.skops", model, {"features": list(FEATURES), "seeds": [1, 2]})
    got = load_model(path, FEATURES)
    x = np.array([[0.1, 0.2], [3.0, -3.0]])
    assert np.array_equal(got.estimator.score_samples(x), model.score_samples(x))
    assert got.metadata["seeds"] == [1, 2] and got.metadata["format"] == FORMAT
    assert got.metadata["sklearn"] == sklearn.__version__


def test_a_file_asking_for_foreign_types_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"format": FORMAT, "metadata": {}, "estimator": NotOurs()}, path)
    with pytest.raises(ModelFileError, match="NotOurs"):
        load_model(path)


def test_a_file_with_other_scikit_learn_types_is_listed_and_loaded(tmp_path: Path) -> None:
    """A type outside the ones `seawatch train` makes (here a Bunch) takes the slower path and still loads."""
    path = tmp_path / "bunch.skops"
    sio.dump({"format": FORMAT, "metadata": {"sklearn": sklearn.__version__}, "estimator": Bunch(a=1)}, path)
    assert "sklearn.utils._bunch.Bunch" in sio.get_untrusted_types(file=path)
    assert load_model(path).estimator == Bunch(a=1)


def test_other_features_another_format_or_scikit_learn_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.skops", _fitted(), {"features": ["x", "y"]})
    with pytest.raises(ModelFileError, match="seawatch train"):
        load_model(path, FEATURES)
    old = save_model(tmp_path / "old.skops", _fitted(), {"features": list(FEATURES), "sklearn": "0.24.2"})
    with pytest.raises(ModelFileError, match="scikit-learn 0.24.2"):
        load_model(old, FEATURES)
    other = tmp_path / "other.skops"
    sio.dump({"format": "someone-else/3", "metadata": {}, "estimator": [1]}, other)
    with pytest.raises(ModelFileError, match="someone-else/3"):
        load_model(other)


def test_not_a_model_file_and_no_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a Seawatch model file"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.skops")
