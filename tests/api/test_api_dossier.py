"""A vessel's evidence dossier through the real app and store (HTML, JSON, Markdown) and the command line: every
section there, the disclaimer in all three, nothing fetched from outside, text from the data escaped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.dossier import DISCLAIMER, NO_WATCHLISTS
from api.schemas import Dossier
from api.store import Store
from engine.alerts import ALERT_SCHEMA, alert_id
from seawatch.cli import main
from tests.api.helpers import alerts_frame, auth, vessels_frame

V1 = "/api/v1"
MMSI = 574000004  # vessels_frame's high vessel ("HAI AU 3", smuggling 65)
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # the track must be inside the retention


def _alert(kind: str, start: datetime, reasons: list[str], *, lat: float = 20.3, lon: float = 107.6,
           other: int | None = None) -> pl.DataFrame:  # fmt: skip
    us = int(start.timestamp() * 1_000_000)
    return pl.DataFrame([{"alert_id": alert_id(kind, MMSI, other, us), "kind": kind, "mmsi": MMSI, "other_mmsi": other,
                          "start": start, "end": start + timedelta(hours=1), "lat": lat, "lon": lon, "score": 80.0,
                          "reasons": reasons}], schema=ALERT_SCHEMA)  # fmt: skip


def fill(store: Store, name: str = "HAI AU") -> dict[str, str]:
    """Five vessels (MMSI the critical one, renamed once), its track over 6 h with a 3 h silence, three alerts of
    its own (one decided twice, one withdrawn after a decision) and a mute; the alert ids by role."""
    store.upsert_vessels(vessels_frame(5, name=name))
    store.upsert_vessels(vessels_frame(5, name=name).with_columns(
        pl.when(pl.col("mmsi") == MMSI).then(pl.lit("HAI AU 9")).otherwise(pl.col("name")).alias("name"),
        pl.col("smuggling_reasons").list.concat(pl.lit(["+40 went dark 7.2 h | near the border"]))))  # fmt: skip
    times = [NOW - timedelta(hours=6) + timedelta(minutes=10 * k) for k in range(37)]
    times = [t for t in times if not NOW - timedelta(hours=5) < t < NOW - timedelta(hours=2)]  # a 3 h silence
    store.add_track(pl.DataFrame({"mmsi": [MMSI] * len(times), "t": times,
                                  "lat": [20.3] * len(times), "lon": [107.5 + 0.01 * k for k in range(len(times))],
                                  "sog": [10.0] * len(times), "cog": [90.0] * len(times)}))  # fmt: skip
    gap = _alert("ais_gap", NOW - timedelta(hours=5), ["dark 3.0 h in good coverage; <b>reappeared</b> 40 km away"])
    old = _alert("loitering", NOW - timedelta(days=3), ["slow 4 h at sea"])
    gone = _alert("distress", NOW - timedelta(hours=4), ["SART active"])
    for frame in (gap, old, gone):
        store.upsert_alerts(frame)
    ids = {"gap": gap["alert_id"][0], "old": old["alert_id"][0], "gone": gone["alert_id"][0]}
    store.triage(ids["gap"], "escalated", "seen near the border", "le", key_id=None)
    store.triage(ids["gap"], "confirmed", "patrol saw it transship", "tran", key_id=None)
    store.triage(ids["gone"], "dismissed", "test beacon", "le", reason="data_error", key_id=None)
    store.withdraw_alerts([ids["gone"]])
    expires = datetime.now(UTC) + timedelta(days=3)
    store.add_mute("vessel", kind="loitering", mmsi=MMSI, reason="fishes here", by="le", expires_at=expires)
    store.upsert_alerts(alerts_frame(5))  # an encounter of every vessel: MMSI's with 574000104
    return ids


@pytest.fixture
def filled(client: TestClient) -> dict[str, str]:
    return fill(client.app.state.store)  # type: ignore[attr-defined]


def test_json_dossier_has_every_section(client: TestClient, keys: dict[str, str], filled: dict[str, str]) -> None:
    r = client.get(f"{V1}/vessels/{MMSI}/dossier", params={"format": "json"}, headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    d = Dossier.model_validate(r.json())
    assert d.disclaimer == DISCLAIMER and d.mmsi == MMSI and d.vessel.name == "HAI AU 9"
    assert [h.name for h in d.identity_history] == ["HAI AU 3", "HAI AU 9"]
    smuggling = d.scores["smuggling"]
    assert smuggling.score == 65.0 and "+40 went dark 7.2 h | near the border" in smuggling.reasons
    by_id = {a.alert_id: a for a in d.alerts}
    assert set(by_id) == {filled["gap"], filled["old"], alerts_frame(5)["alert_id"][3]}  # the withdrawn one is gone
    assert [(t.status, t.by) for t in by_id[filled["gap"]].triage] == [("escalated", "le"), ("confirmed", "tran")]
    assert by_id[filled["old"]].muted and not by_id[filled["gap"]].muted
    assert [(o.alert_id, o.reason) for o in d.other_decisions] == [(filled["gone"], "data_error")]
    assert [m.reason for m in d.mutes] == ["fishes here"]
    assert d.watchlists.entries == [] and d.watchlists.note == NO_WATCHLISTS
    c = d.coverage
    assert c.positions == 103 and c.track_points == len(d.track) == 20 and c.track_end == d.track[-1].t
    assert [round(g.hours, 2) for g in c.gaps] == [3.0]
    assert c.gap_min_hours == 1.0 and c.track_retention_hours == 168.0


def test_since_leaves_out_what_came_before(client: TestClient, keys: dict[str, str], filled: dict[str, str]) -> None:
    since = (NOW - timedelta(hours=3)).isoformat()
    r = client.get(f"{V1}/vessels/{MMSI}/dossier", params={"format": "json", "since": since},
                   headers=auth(keys["viewer"]))  # fmt: skip
    d = Dossier.model_validate(r.json())
    assert filled["old"] not in {a.alert_id for a in d.alerts} and filled["gap"] not in {a.alert_id for a in d.alerts}
    assert all(p.t >= NOW - timedelta(hours=3) for p in d.track) and d.coverage.gaps == []
    assert d.since == NOW - timedelta(hours=3)
    # decided within the period (now) on alerts before it or withdrawn: listed apart
    assert sorted(o.alert_id for o in d.other_decisions) == sorted([filled["gap"], filled["gap"], filled["gone"]])


def test_html_dossier_is_one_offline_printable_file(client: TestClient, keys: dict[str, str],
                                                    filled: dict[str, str]) -> None:  # fmt: skip
    r = client.get(f"{V1}/vessels/{MMSI}/dossier", headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script at all
    assert r.headers["content-disposition"] == f'inline; filename="dossier-{MMSI}.html"'
    page = r.text
    assert page.count(DISCLAIMER) == 2  # at the top and at the end of every print
    for words in ("HAI AU 9", "Identity history", "Risk score and its reasons", "went dark 7.2 h | near the border",
                  "patrol saw it transship", "seen near the border", "test beacon", "fishes here", NO_WATCHLISTS,
                  "Gaps in the stored track", "3.0 h", "@media print", "tanker"):  # fmt: skip
        assert words in page, words
    assert filled["gap"] in page and filled["gone"] in page
    assert "&lt;b&gt;reappeared&lt;/b&gt;" in page and "<b>reappeared" not in page  # the data's text is escaped
    # nothing outside the file: no URL, no src, no import, no script; the map is inline SVG, the land a data: image
    assert not re.search(r"https?:|//[a-z]|\bsrc=|@import|<script|<link|<iframe", page, re.I)
    assert re.findall(r"url\((.)", page) == ["#"] * len(re.findall(r"url\(", page))
    assert page.count("<svg") == 1 and 'data-figure="dossier-574000004"' in page
    assert "data:image/png;base64," in page  # the coast under the track
    assert re.search(r'data-kind="ais_gap" data-n="1"', page) and re.search(r'data-kind="encounter"', page)


def test_markdown_dossier(client: TestClient, keys: dict[str, str], filled: dict[str, str]) -> None:
    r = client.get(f"{V1}/vessels/{MMSI}/dossier", params={"format": "md"}, headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert md.startswith("# Dossier: HAI AU 9") and md.count(DISCLAIMER) == 2
    assert "went dark 7.2 h \\| near the border" in md  # a table's bar escaped
    assert "&lt;b>reappeared&lt;/b>" in md and "<b>" not in md  # no markup through the data
    assert re.search(r"- triage: \d{4}-\d\d-\d\d \d\d:\d\d UTC le escalated: seen near the border", md)
    assert "confirmed: patrol saw it transship" in md and "dismissed (data_error): test beacon" in md
    assert NO_WATCHLISTS in md and "## Gaps in the stored track" in md


def test_unknown_vessel_and_format(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get(f"{V1}/vessels/999/dossier", headers=auth(keys["viewer"])).status_code == 404
    client.app.state.store.upsert_vessels(vessels_frame(1))  # type: ignore[attr-defined]
    r = client.get(f"{V1}/vessels/574000001/dossier", params={"format": "pdf"}, headers=auth(keys["viewer"]))
    assert r.status_code == 422
    r = client.get(f"{V1}/vessels/574000001/dossier", params={"format": "md"}, headers=auth(keys["viewer"]))
    assert r.status_code == 200 and "No alerts in the period." in r.text  # a vessel with nothing stored on it


def test_a_name_with_markup_is_text(client: TestClient, keys: dict[str, str]) -> None:
    fill(client.app.state.store, name="<script>alert(1)</script>")  # type: ignore[attr-defined]
    r = client.get(f"{V1}/vessels/574000001/dossier", headers=auth(keys["viewer"]))
    assert "<script" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


# ---------------------------------------------------------------- the command line


def test_command_line_writes_each_format_from_the_suffix(db_url: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    store = Store(db_url)
    ids = fill(store)
    store.close()
    for suffix in ("html", "json", "md"):
        out = tmp_path / f"case.{suffix}"
        assert main(["dossier", str(MMSI), "--database", db_url, "--out", str(out)]) == 0
        assert DISCLAIMER in out.read_text(encoding="utf-8")
    assert ids["gap"] in {a["alert_id"] for a in json.loads((tmp_path / "case.json").read_text())["alerts"]}
    since = (NOW - timedelta(hours=3)).isoformat()
    assert main(["dossier", str(MMSI), "--database", db_url, "--since", since, "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["alerts"] == []
    assert "case.html" in capsys.readouterr().out
    assert main(["dossier", str(MMSI), "--database", db_url, "--out", str(tmp_path / "case.pdf")]) == 2
    assert "html, json or md" in capsys.readouterr().err
    assert main(["dossier", "999", "--database", db_url, "--out", str(tmp_path / "x.md")]) == 2
    assert "no vessel 999" in capsys.readouterr().err
    assert main(["dossier", str(MMSI), "--database", db_url, "--since", "yesterday", "--out",
                 str(tmp_path / "y.md")]) == 2  # fmt: skip
    assert "--since" in capsys.readouterr().err


def test_command_line_on_an_older_store_says_how_to_migrate_it(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dossier command reads without migrating: on a store a release behind it says so, not a database error."""
    import sqlalchemy as sa
    from alembic import command

    from api.store.engine import alembic_config

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    engine.dispose()
    assert main(["dossier", str(MMSI), "--database", db_url, "--out", str(tmp_path / "case.md")]) == 2
    err = capsys.readouterr().err
    assert "schema is not this seawatch's" in err and "seawatch serve" in err and "Error" not in err
    assert not (tmp_path / "case.md").exists()
