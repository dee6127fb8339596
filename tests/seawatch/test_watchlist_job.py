"""``seawatch watchlist import|list|export``: CSV with a header and FollowTheMoney JSON (OpenSanctions' Vessel
entities) into the store, read from files written here; missing columns and bad rows said by name and line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from api.store import AuditFilter, Store
from seawatch.cli import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'seawatch.db'}"


def entries_of(db: str, name: str) -> list[dict[str, object]]:
    store = Store(db)
    try:
        found = store.watchlist_named(name)
        assert found is not None
        return store.watchlist_entries(found["id"])
    finally:
        store.close()


def test_csv_import_with_common_header_spellings(tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "caught.csv"
    path.write_text("MMSI,IMO number,Call sign,Vessel name,Notes\n"
                    "574001234,IMO 9123456,XVAB1,HẢI PHÒNG 05,caught with 40 t diesel\n"
                    ",,,ĐẠI DƯƠNG 18,\n"
                    ",,,,nothing to go by\n"
                    ",12ab,,,bad IMO\n", encoding="utf-8")  # fmt: skip
    code = main(["watchlist", "import", str(path), "--name", "caught 2025", "--reason", "caught in 2025",
                 "--source", "BDBP Hai Phong", "--database", db])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"2 entries added to 'caught 2025' from {path}" in out
    assert "2 rows skipped:" in err and "line 4 names no vessel" in err and "line 5: IMO '12ab' is not a number" in err
    fields = ("mmsi", "imo", "callsign", "name", "reason", "source")
    got = [{k: e[k] for k in fields} for e in entries_of(db, "caught 2025")]
    assert got == [
        {"mmsi": 574001234, "imo": 9123456, "callsign": "XVAB1", "name": "HẢI PHÒNG 05",
         "reason": "caught with 40 t diesel", "source": "BDBP Hai Phong"},
        {"mmsi": None, "imo": None, "callsign": None, "name": "ĐẠI DƯƠNG 18", "reason": "caught in 2025",
         "source": "BDBP Hai Phong"},
    ]  # fmt: skip
    store = Store(db)
    (audited,) = store.audit(AuditFilter(kinds=["watchlist.import"]))[0]
    store.close()
    assert audited["details"] == {"file": str(path), "entries": 2} and audited["actor"].startswith("command line")


def test_a_csv_without_an_identifier_column_says_which_are_missing(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "list.csv"
    path.write_text("flag,reason\nKP,sanctioned\n", encoding="utf-8")
    assert main(["watchlist", "import", str(path), "--name", "x", "--database", db]) == 2
    err = capsys.readouterr().err
    assert f"{path}: no column names a vessel: the header (flag, reason) lacks mmsi, imo, callsign and name" in err


def test_followthemoney_vessels_import_and_other_entities_are_left_out(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "entities.ftm.json"
    entities = [
        {"id": "ofac-vessel-1", "schema": "Vessel", "caption": "SEA STAR",
         "properties": {"name": ["SEA STAR", "OCEAN STAR"], "imoNumber": ["IMO9234567"], "mmsi": ["412345678"],
                        "callSign": ["BXYZ"], "flag": ["kp"], "topics": ["sanction"]}},
        {"id": "ofac-person-1", "schema": "Person", "properties": {"name": ["Someone"]}},
        {"id": "un-vessel-2", "schema": "Vessel", "properties": {"imoNumber": ["8912345"]}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(e) + "\n" for e in entities), encoding="utf-8")
    code = main(["watchlist", "import", str(path), "--name", "sanctioned", "--database", db])
    out = capsys.readouterr().out
    assert code == 0 and "3 entries added to 'sanctioned'" in out and "1 entities not vessels ignored" in out
    fields = ("mmsi", "imo", "callsign", "name", "reason", "source")
    got = [tuple(e[k] for k in fields) for e in entries_of(db, "sanctioned")]
    assert got == [
        (412345678, 9234567, "BXYZ", "SEA STAR", "sanction", "entities.ftm.json ofac-vessel-1"),
        (None, None, None, "OCEAN STAR", "sanction", "entities.ftm.json ofac-vessel-1"),
        (None, 8912345, None, None, "listed in entities.ftm.json", "entities.ftm.json un-vessel-2"),
    ]


def test_a_broken_json_line_is_named(tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "entities.json"
    path.write_text('{"id": "a", "schema": "Vessel", "properties": {"mmsi": ["412345678"]}}\n{"id": \n',
                    encoding="utf-8")  # fmt: skip
    assert main(["watchlist", "import", str(path), "--name", "x", "--database", db]) == 2
    assert f"{path}: line 2 is not JSON" in capsys.readouterr().err


def test_list_and_export_round_trip(tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "caught.csv"
    path.write_text("mmsi,name,reason\n574001234,HẢI PHÒNG 05,diesel\n574005678,HAI AU 7,petrol\n", encoding="utf-8")
    assert main(["watchlist", "import", str(path), "--name", "caught 2025", "--database", db]) == 0
    assert main(["watchlist", "import", str(path), "--name", "caught 2025", "--database", db]) == 0  # adds again
    capsys.readouterr()
    assert main(["watchlist", "list", "--database", db]) == 0
    assert "\tcaught 2025\t4 entries\t" in capsys.readouterr().out
    out = tmp_path / "export.csv"
    assert main(["watchlist", "export", "--name", "caught 2025", "--out", str(out), "--database", db]) == 0
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["mmsi"], r["name"], r["reason"], r["source"]) for r in rows[:2]] == [
        ("574001234", "HẢI PHÒNG 05", "diesel", "caught.csv"), ("574005678", "HAI AU 7", "petrol", "caught.csv")]
    as_json = tmp_path / "export.json"
    assert main(["watchlist", "export", "--name", "caught 2025", "--out", str(as_json), "--database", db]) == 0
    assert [e["name"] for e in json.loads(as_json.read_text(encoding="utf-8"))] == ["HẢI PHÒNG 05", "HAI AU 7"] * 2
    assert main(["watchlist", "export", "--name", "nope", "--out", str(out), "--database", db]) == 2
    assert "no watchlist named 'nope' (lists: 'caught 2025')" in capsys.readouterr().err


def test_a_followthemoney_json_array_imports_too(tmp_path: Path, db: str) -> None:
    path = tmp_path / "vessels.json"
    path.write_text(json.dumps([{"id": "x-1", "schema": "Vessel", "properties": {"name": ["Đại Dương 18"]}},
                                {"id": "x-2", "schema": "Company", "properties": {"name": ["Some Shipping"]}}]),
                    encoding="utf-8")  # fmt: skip
    assert main(["watchlist", "import", str(path), "--name", "tip-offs", "--reason", "seen bunkering", "--database",
                 db]) == 0  # fmt: skip
    assert [(e["name"], e["reason"]) for e in entries_of(db, "tip-offs")] == [("Đại Dương 18", "seen bunkering")]
