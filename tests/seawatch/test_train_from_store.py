"""``seawatch train --from-store`` and ``seawatch models`` from the command line, on a triaged SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.store import AuditFilter, Store
from models.files import DEFAULT_DIR, EVIDENCE_FILE, UNUSUAL_FILE
from models.registry import HELD_OUT_FILE
from seawatch.cli import main
from tests.models.triaged import fill

pytestmark = pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models")


def test_train_from_the_store_add_promote_and_roll_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'seawatch.db'}"
    store = Store(url)
    fill(store, 80, seed=1)
    monkeypatch.setenv("SEAWATCH_DATABASE_URL", url)
    monkeypatch.setenv("SEAWATCH_MODELS_DIR", str(tmp_path / "registry"))
    assert main(["train", "--from-store", "--out", str(tmp_path / "m")]) == 0
    said = capsys.readouterr().out
    assert "trained on 60 analysts' decisions" in said and "held out the latest 25%: 20 decisions" in said
    assert "the current one (base)" in said
    assert all((tmp_path / "m" / f).is_file() for f in (EVIDENCE_FILE, UNUSUAL_FILE, HELD_OUT_FILE))
    assert main(["models", "add", str(tmp_path / "m")]) == 0
    assert main(["models", "promote", "0001"]) == 0
    assert "version 0001 is current: average precision" in capsys.readouterr().out
    # trained again, against version 0001 now current: the same decisions, no better: refused
    assert main(["train", "--from-store", url, "--out", str(tmp_path / "again")]) == 0
    assert "the current one (version 0001)" in capsys.readouterr().out
    assert main(["models", "add", str(tmp_path / "again")]) == 0
    assert main(["models", "promote", "0002"]) == 2
    assert "version 0002 is not promoted" in capsys.readouterr().err
    assert main(["models", "rollback"]) == 0
    listed = capsys.readouterr().out
    assert main(["models", "list"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert "rolled back from version 0001 to the base models" in listed and state["current"] is None
    rows, _ = store.audit(AuditFilter(kinds=("model.promote", "model.rollback")))
    assert [(r["kind"], r["subject"]) for r in rows] == [("model.rollback", "0001"), ("model.promote", "0001")]
    assert rows[0]["actor"].startswith("command line (")
    store.close()


def test_too_few_decisions_are_refused_naming_how_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'seawatch.db'}"
    store = Store(url)
    fill(store, 12)
    store.close()
    code = main(["train", "--from-store", url, "--out", str(tmp_path / "m"), "--registry", str(tmp_path / "r")])
    assert code == 2
    assert "the store holds 12 usable decision(s)" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
