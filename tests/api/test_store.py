"""The store on its own: upserts that keep triage, the revision feed, labels, identity history, tracks, zones, keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.store import AlertFilter, BBox, CursorError, Store, VesselFilter
from api.store.alerts import TriageError
from api.store.engine import alembic_config, latest_version
from api.store.tables import metadata
from api.store.types import UTCDateTime
from models.indicators import DECISION_SCHEMA
from models.schema import empty_vessels
from tests.api.helpers import T0, alerts_frame, vessels_frame


def test_migrations_create_exactly_the_tables(store: Store) -> None:
    assert store.schema_version() == latest_version() == "0007"
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []
    store.migrate()  # again: a no-op
    assert store.is_current()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    s = Store(f"sqlite:///{tmp_path}/wal.db")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()


def test_alert_upsert_keeps_triage_and_updates_evidence(store: Store) -> None:
    df = alerts_frame(3)
    assert store.upsert_alerts(df) == 3
    first = df["alert_id"][0]
    store.triage(first, "confirmed", "two hulls alongside on radar", "analyst on duty")
    later = df.with_columns(
        pl.col("end") + timedelta(hours=3), pl.col("score") + 10, pl.col("reasons").list.concat(pl.lit(["more"]))
    )
    store.upsert_alerts(later)
    row = store.alert(first)
    assert row is not None
    assert row["status"] == "confirmed"
    assert row["end"] == T0 + timedelta(hours=5)
    assert row["score"] == 70.0
    assert row["reasons"] == ["close and slow 2 h with 574000101", "more"]
    assert row["start"].tzinfo is not None
    assert [h["status"] for h in store.triage_history(first)] == ["confirmed"]
    assert store.triage("nope", "confirmed", "", "x") is None


def test_withdrawn_alerts_are_gone_but_their_triage_history_stays(store: Store) -> None:
    df = alerts_frame(3)
    store.upsert_alerts(df)
    first, second = df["alert_id"][0], df["alert_id"][1]
    store.triage(first, "escalated", "tanker alongside", "analyst on duty", key_id="k1")
    store.triage(first, "dismissed", "SART self-test", "le", reason="legitimate_activity", key_id="k2")
    assert store.withdraw_alerts([first, "never-stored"]) == 1
    assert store.alert(first) is None
    history = store.triage_history(first)
    assert [(h["status"], h["reason"], h["note"], h["key_id"], h["by"]) for h in history] == [
        ("escalated", None, "tanker alongside", "k1", "analyst on duty"),
        ("dismissed", "legitimate_activity", "SART self-test", "k2", "le"),
    ]
    assert {(h["alert_id"], h["kind"], h["mmsi"], h["other_mmsi"]) for h in history} == {
        (first, "encounter", 574000001, 574000101)
    }
    assert history[0]["at"] <= history[1]["at"] and history[0]["at"].tzinfo is not None
    assert store.alert(second) is not None
    rows, _ = store.alerts_page(AlertFilter())
    assert sorted(r["alert_id"] for r in rows) == sorted(df["alert_id"][1:].to_list())
    assert store.withdraw_alerts([]) == 0
    assert store.labels().height == 0  # the engine proved it wrong: no training label, but the record stays
    assert store.decisions()["alert_id"].to_list() == [first]


def test_a_dismissal_needs_a_reason_code(store: Store) -> None:
    df = alerts_frame(1)
    store.upsert_alerts(df)
    first = df["alert_id"][0]
    for status, reason, said in [
        ("dismissed", None, "a dismissal needs a reason code: one of legitimate_activity, reception_problem"),
        ("dismissed", "bored", "reason 'bored': use one of legitimate_activity"),
        ("confirmed", "duplicate", "a reason code goes with a dismissal only"),
        ("maybe", None, "status 'maybe'"),
    ]:
        with pytest.raises(TriageError, match=said):
            store.triage(first, status, "", "le", reason=reason)
    assert store.triage_history(first) == [] and store.alert(first)["status"] == "new"  # type: ignore[index]


def test_decisions_are_each_alerts_latest(store: Store) -> None:
    df = alerts_frame(3)
    store.upsert_alerts(df)
    a, b, _ = df["alert_id"].to_list()
    assert store.decisions().height == 0 and store.decisions_mark() == 0
    store.triage(a, "dismissed", "", "le", reason="reception_problem")
    store.triage(b, "escalated", "", "le")
    mark = store.decisions_mark()
    store.triage(b, "confirmed", "seen by patrol boat", "nguyen")
    assert store.decisions_mark() > mark
    got = store.decisions()
    assert got.schema == pl.Schema(DECISION_SCHEMA)
    assert got.select("alert_id", "status", "reason", "by").rows() == [
        (a, "dismissed", "reception_problem", "le"),
        (b, "confirmed", None, "nguyen"),
    ]


def test_migration_0003_keeps_the_triage_history_it_finds(db_url: str) -> None:
    """A database at 0002 with triage rows: after 0003 they are decisions with their alert's kind and vessels,
    in their order, without reason code or key id (never recorded), and no longer tied to the alert row."""
    engine = sa.create_engine(db_url)
    now = datetime(2025, 3, 1, 10, 5, tzinfo=UTC)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        alert = sa.text(
            'INSERT INTO alerts (alert_id, kind, mmsi, other_mmsi, start, "end", score, reasons, status, created_at, '
            "updated_at, rev) VALUES ('a1', 'spoofing', 574000001, NULL, :t, :t, 50, '[]', 'dismissed', :t, :t, 1)"
        )
        conn.execute(alert.bindparams(sa.bindparam("t", type_=UTCDateTime)), {"t": now})
        triage = sa.text(
            "INSERT INTO alert_triage (alert_id, status, note, \"by\", \"at\") VALUES ('a1', :s, :n, 'le', :t)"
        ).bindparams(sa.bindparam("t", type_=UTCDateTime))
        for i, (status, note) in enumerate([("escalated", "look"), ("dismissed", "antenna")]):
            conn.execute(triage, {"s": status, "n": note, "t": now + timedelta(minutes=i)})
    engine.dispose()
    store = Store(db_url)
    assert store.is_current()
    history = store.triage_history("a1")
    assert [(h["status"], h["note"], h["by"], h["kind"], h["mmsi"], h["reason"], h["key_id"]) for h in history] == [
        ("escalated", "look", "le", "spoofing", 574000001, None, None),
        ("dismissed", "antenna", "le", "spoofing", 574000001, None, None),
    ]
    assert history[0]["at"] == now
    store.withdraw_alerts(["a1"])
    assert len(store.triage_history("a1")) == 2
    store.close()


def test_a_withdrawal_is_in_the_revision_feed_and_no_revision_is_given_twice(store: Store) -> None:
    """The stream's clients hear of a withdrawn alert after the alerts before it; an alert stored after the
    withdrawal of the latest one gets a revision above the withdrawal (not the freed one: a client whose cursor
    passed it would never see that alert)."""
    df = alerts_frame(2)
    store.upsert_alerts(df[:1])
    _, after_first = store.alerts_since(None)
    store.upsert_alerts(df[1:])
    last = df["alert_id"][1]
    assert store.withdraw_alerts([last]) == 1
    rows, head = store.alerts_since(after_first)
    assert [(r["alert_id"], bool(r.get("withdrawn"))) for r in rows] == [(last, True)]
    assert store.alerts_head() == head
    store.upsert_alerts(alerts_frame(1, mmsi0=111000001))
    rows, _ = store.alerts_since(head)
    assert len(rows) == 1 and not rows[0].get("withdrawn") and rows[0]["rev"] > int(head.split(".")[0])


def test_alerts_since_follows_new_and_changed_alerts_only(store: Store) -> None:
    df = alerts_frame(3)
    rows, cursor = store.alerts_since(None)
    assert rows == []
    store.upsert_alerts(df)
    rows, cursor = store.alerts_since(cursor)
    assert sorted(r["alert_id"] for r in rows) == sorted(df["alert_id"].to_list())
    store.upsert_alerts(df)  # the same evidence again changes nothing
    assert store.alerts_since(cursor)[0] == []
    store.upsert_alerts(df.head(1).with_columns(pl.col("score") + 1))
    rows, cursor = store.alerts_since(cursor)
    assert [r["alert_id"] for r in rows] == [df["alert_id"][0]]
    store.triage(df["alert_id"][1], "dismissed", "fishing pair", "me", reason="legitimate_activity")
    rows, _ = store.alerts_since(cursor)
    assert [(r["alert_id"], r["status"]) for r in rows] == [(df["alert_id"][1], "dismissed")]
    assert store.alerts_head() == store.alerts_since(cursor)[1]
    with pytest.raises(CursorError):
        store.alerts_since("x.y")


def test_duplicate_versions_in_one_batch_keep_the_latest(store: Store) -> None:
    df = alerts_frame(1)
    both = pl.concat([df.with_columns(pl.col("end") + timedelta(hours=1)), df])
    store.upsert_alerts(both)
    row = store.alert(df["alert_id"][0])
    assert row is not None and row["end"] == T0 + timedelta(hours=3)


def test_alerts_page_filters_and_cursor(store: Store) -> None:
    store.upsert_alerts(pl.concat([alerts_frame(5), alerts_frame(3, kind="loitering", score=10, mmsi0=412000001)]))
    rows, cursor = store.alerts_page(AlertFilter(kinds=["encounter"]), limit=2)
    assert [r["start"] for r in rows] == [T0 + timedelta(hours=4), T0 + timedelta(hours=3)]
    seen = [r["alert_id"] for r in rows]
    while cursor:
        rows, cursor = store.alerts_page(AlertFilter(kinds=["encounter"]), cursor=cursor, limit=2)
        seen += [r["alert_id"] for r in rows]
    assert len(seen) == len(set(seen)) == 5
    assert len(store.alerts_page(AlertFilter(min_score=62))[0]) == 3
    assert len(store.alerts_page(AlertFilter(bbox=BBox(106.95, 19.95, 107.15, 20.15)))[0]) == 4  # 2 kinds x 2
    assert len(store.alerts_page(AlertFilter(mmsi=574000103))[0]) == 1  # the other vessel of a pair
    assert len(store.alerts_page(AlertFilter(until=T0 + timedelta(minutes=30)))[0]) == 2
    assert len(store.alerts_page(AlertFilter(since=T0 + timedelta(hours=5, minutes=30)))[0]) == 1


def test_labels_are_triage_decisions(store: Store) -> None:
    df = alerts_frame(3)
    store.upsert_alerts(df)
    assert store.labels().height == 0
    store.triage(df["alert_id"][0], "confirmed", "", "a", key_id="k1")
    store.triage(df["alert_id"][2], "escalated", "", "a", key_id="k1")
    store.triage(df["alert_id"][2], "dismissed", "", "b", reason="duplicate", key_id="k2")
    labels = store.labels()
    assert labels.columns == ["alert_id", "kind", "mmsi", "start", "end", "status", "reason", "key_id", "by", "at"]
    assert labels.select("status", "reason", "key_id", "by").rows() == [
        ("confirmed", None, "k1", "a"),
        ("dismissed", "duplicate", "k2", "b"),
    ]
    assert labels.schema["start"] == pl.Datetime("us", "UTC") and labels.schema["at"] == pl.Datetime("us", "UTC")


def test_vessels_upsert_filters_and_identity_history(store: Store) -> None:
    store.upsert_vessels(vessels_frame(5))
    rows, total = store.vessels_page(VesselFilter(min_score=40))
    assert total == 3 and [r["mmsi"] for r in rows] == [574000005, 574000004, 574000003]
    assert store.vessels_page(VesselFilter(bands=["medium"]))[1] == 2
    assert store.vessels_page(VesselFilter(ship_types=[80]))[1] == 2
    assert store.vessels_page(VesselFilter(flags=["vn"]))[1] == 5
    assert store.vessels_page(VesselFilter(bbox=BBox(106.9, 19.9, 107.15, 20.15)))[1] == 2
    rows, total = store.vessels_page(VesselFilter(), sort="name", page=2, page_size=2)
    assert total == 5 and [r["name"] for r in rows] == ["HAI AU 2", "HAI AU 3"]
    store.upsert_vessels(vessels_frame(2, name="HAI AU"))  # unchanged identity: no history row
    store.upsert_vessels(vessels_frame(1, name="THANH DAT"))
    history = store.identity_history(574000001)
    assert [h["name"] for h in history] == ["HAI AU 0", "THANH DAT 0"]
    assert len(store.identity_history(574000002)) == 1
    vessel = store.vessel(574000001)
    assert vessel is not None and vessel["reasons"] == ["smuggling +0 evidence"] and vessel["alerts_encounter"] == 0
    with pytest.raises(ValueError, match="cannot sort"):
        store.vessels_page(VesselFilter(), sort="reasons")


def test_vessels_with_missing_columns_and_nan(store: Store) -> None:
    df = pl.DataFrame({"mmsi": [1, 2], "lat": [float("nan"), 1.0], "fire_score": [5.0, None]})
    store.upsert_vessels(df)
    row = store.vessel(1)
    assert row is not None and row["lat"] is None and row["score"] == 5.0 and row["name"] is None


def test_hundred_thousand_vessels_upsert_in_seconds(store: Store) -> None:
    n = 100_000
    rng = np.random.default_rng(7)
    df = pl.concat(
        [
            empty_vessels(),
            pl.DataFrame(
                {
                    "mmsi": np.arange(n, dtype=np.int64) + 200_000_000,
                    "name": [f"V{i}" for i in range(n)],
                    "smuggling_score": rng.uniform(0, 100, n),
                    "fire_score": rng.uniform(0, 100, n),
                    "lat": rng.uniform(-60, 60, n),
                    "lon": rng.uniform(-180, 180, n),
                    "reasons": [["smuggling +20 transfer at sea", "fire +10 tanker"]] * n,
                    "last_seen": [T0] * n,
                }
            ),
        ],
        how="diagonal_relaxed",
    )
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        store.upsert_vessels(df)
        store.upsert_vessels(df.with_columns(pl.col("fire_score") / 2))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert store.vessels_page(VesselFilter())[1] == n
    vessel = store.vessel(200_000_007)
    assert vessel is not None and vessel["fire_score"] == pytest.approx(df["fire_score"][7] / 2)
    # in batches, not a statement a vessel (~3 s each on 2 shared cores; a statement a row takes minutes): the bound
    # is on the work, not the clock, so a busy machine cannot fail it
    assert len(statements) < n / 100, f"two upserts of {n} vessels ran {len(statements)} statements"


def test_track_is_thinned_and_pruned(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(minutes=30) + timedelta(seconds=10 * i) for i in range(60)]  # 10 min at 10 s
    df = pl.DataFrame({"mmsi": [9] * 60, "t": times, "lat": [20.0] * 60, "lon": [107.0 + i / 100 for i in range(60)]})
    store.add_track(df)
    store.add_track(df)  # again: nothing new
    points = store.track(9)
    assert 10 <= len(points) <= 11  # one a minute
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
    assert len(store.track(9, since=now - timedelta(minutes=25))) < len(points)
    assert len(store.track(9, limit=3)) == 3
    assert store.prune_tracks(now + store.track_retention + timedelta(hours=1)) == len(points)
    assert store.track(9) == []


def test_speeds_since_reads_many_vessels_reported_speeds_at_once(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(minutes=5 * k) for k in range(6)]  # one a minute is kept: all six
    frames = [pl.DataFrame({"mmsi": [m] * 6, "t": times, "lat": [20.0] * 6, "lon": [107.0] * 6,
                            "sog": [None if (m == 2 and k == 0) else float(10 * m + k) for k in range(6)]},
                           schema_overrides={"sog": pl.Float64}) for m in (1, 2, 3)]  # fmt: skip
    store.add_track(pl.concat(frames))
    got = store.speeds_since([2, 1, 2, 99], now - timedelta(minutes=12))  # 2 twice, 99 has no track
    assert got.columns == ["mmsi", "t", "sog"] and got["t"].dtype == pl.Datetime("us", "UTC")
    want_2 = [(2, times[k], float(20 + k)) for k in (2, 1)]  # its newest point, without a speed, left out
    assert got.rows() == [(1, times[k], float(10 + k)) for k in (2, 1, 0)] + want_2
    assert store.speeds_since([3], now + timedelta(minutes=1)).height == 0


def test_zones_and_keys_crud(store: Store) -> None:
    geometry = {"type": "Polygon", "coordinates": [[[107, 20], [108, 20], [108, 21], [107, 20]]]}
    zone = store.create_zone("Bach Long Vi", "restricted", geometry, {}, "admin")
    assert store.zone(zone["id"]) is not None and len(store.zones()) == 1
    updated = store.update_zone(zone["id"], "Bach Long Vi 2", "watch", geometry, {"source": "x"}, "other")
    assert updated is not None and updated["updated_by"] == "other" and updated["created_by"] == "admin"
    assert store.delete_zone(zone["id"]) and not store.delete_zone(zone["id"])
    store.add_key("k1", "me", "admin", b"salt", b"hash")
    assert [k["id"] for k in store.list_keys()] == ["k1"]
    assert store.revoke_key("k1") and not store.revoke_key("k1")
    assert store.list_keys() == [] and len(store.list_keys(include_revoked=True)) == 1


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"):
        store.alerts_page(AlertFilter(since=datetime(2025, 1, 1)))  # noqa: DTZ001
