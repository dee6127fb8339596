"""Watchlist matching (models/watchlist.py): identity followed across MMSI, IMO, call sign and name; names compared
without spacing, case, punctuation or diacritics; a plain reference matcher checked against the polars one; and
the score reason it makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts import ALERT_SCHEMA, UTC_US
from models.features import DAY_FEATURES
from models.scoring import Scorer
from models.watchlist import ENTRY_SCHEMA, MATCH_ORDER, match, normalise_name, watchlist_evidence

VESSEL_COLUMNS = {"mmsi": pl.Int64, "name": pl.String, "callsign": pl.String, "imo": pl.Int64}


def entries(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {"watchlist_id": 1, "watchlist": "caught 2025", "mmsi": None, "imo": None, "callsign": None, "name": None,
            "reason": "", "source": ""}  # fmt: skip
    return pl.DataFrame([base | {"entry_id": i + 1} | r for i, r in enumerate(rows)], schema=ENTRY_SCHEMA,
                        orient="row")  # fmt: skip


def vessels(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([{"name": None, "callsign": None, "imo": None} | r for r in rows], schema=VESSEL_COLUMNS,
                        orient="row")  # fmt: skip


def test_names_match_despite_accents_spacing_case_and_punctuation() -> None:
    assert normalise_name("HẢI PHÒNG 05") == normalise_name("HAI PHONG 05") == normalise_name("hai-phong  05")
    # đ/Đ are letters of their own that NFKD does not decompose: handled, so ĐẠI DƯƠNG is DAI DUONG
    assert normalise_name("ĐẠI DƯƠNG 18") == normalise_name("Dai Duong 18") == "DAIDUONG18"
    assert normalise_name("Hải Đăng") != normalise_name("Hai Dang 2")
    assert normalise_name(None) == normalise_name("  ") == normalise_name("--") == ""


def test_a_listed_imo_under_a_new_mmsi_matches_and_says_so() -> None:
    listed = entries({"mmsi": 574001234, "imo": 9123456, "name": "HẢI PHÒNG 05", "reason": "caught with 40 t diesel"})
    heard = vessels({"mmsi": 574009999, "name": "SEA STAR", "imo": 9123456}, {"mmsi": 574000001, "imo": 9999999})
    got = match(heard, listed)
    assert got.select("mmsi", "entry_id", "matched_on").rows() == [(574009999, 1, "IMO")]
    assert got["detail"][0] == ("IMO 9123456 listed for caught with 40 t diesel as 'HẢI PHÒNG 05' under MMSI "
                                "574001234; now MMSI 574009999 named 'SEA STAR'")  # fmt: skip


def test_a_listed_call_sign_under_a_new_mmsi_and_name_matches() -> None:
    listed = entries({"mmsi": 574001234, "callsign": "XV-AB 1", "name": "HAI AU 7"})
    got = match(vessels({"mmsi": 574005555, "callsign": "xvab1", "name": "BINH MINH"}), listed)
    assert got.select("mmsi", "matched_on").rows() == [(574005555, "call sign")]
    assert "now MMSI 574005555 named 'BINH MINH'" in got["detail"][0]


def test_a_diacritic_free_name_matches_its_accented_entry() -> None:
    listed = entries({"name": "HẢI PHÒNG 05", "reason": "fuel smuggling"}, {"name": "ĐẠI DƯƠNG 18"})
    got = match(vessels({"mmsi": 574000002, "name": "HAI PHONG 05"}, {"mmsi": 574000003, "name": "DAI DUONG 18"},
                        {"mmsi": 574000004, "name": "HAI PHONG 06"}), listed)  # fmt: skip
    assert got.select("mmsi", "entry_id", "matched_on").rows() == [(574000002, 1, "name"), (574000003, 2, "name")]
    assert got["detail"][0] == "name 'HẢI PHÒNG 05' listed for fuel smuggling; now heard as 'HAI PHONG 05'"


def test_blank_and_zero_identifiers_never_match() -> None:
    listed = entries({"imo": 0, "callsign": "", "name": "  ", "mmsi": 0})
    assert match(vessels({"mmsi": 574000001, "imo": 0, "callsign": "", "name": ""}), listed).height == 0


def test_the_most_trusted_identifier_is_reported_once_per_list() -> None:
    listed = entries({"name": "HAI AU 1"}, {"mmsi": 574000001, "reason": "seen transferring fuel"},
                     {"watchlist_id": 2, "watchlist": "tip-offs", "name": "Hải Âu 1"})  # fmt: skip
    got = match(vessels({"mmsi": 574000001, "name": "HAI AU 1"}), listed)
    assert got.select("watchlist", "entry_id", "matched_on").rows() == [("caught 2025", 2, "MMSI"),
                                                                        ("tip-offs", 3, "name")]  # fmt: skip
    (row,) = watchlist_evidence(got).rows(named=True)
    assert row["points"] == 20.0 and row["family"] == "watchlist"
    assert row["reason"] == ("on watchlist 'caught 2025': MMSI 574000001 listed for seen transferring fuel; also on "
                             "'tip-offs'")  # fmt: skip


def reference_match(heard: list[dict[str, Any]], listed: list[dict[str, Any]]) -> set[tuple[int, int, int, str]]:
    """The plain rule: for each vessel and list, the entry matching on the most trusted identifier (lowest id among
    equals); zero and blank values never match."""

    def key(row: dict[str, Any], how: str) -> Any:
        value = {"MMSI": row["mmsi"], "IMO": row["imo"], "call sign": normalise_name(row["callsign"]),
                 "name": normalise_name(row["name"])}[how]  # fmt: skip
        return value or None

    out = set()
    for v in heard:
        best: dict[int, tuple[int, int, str]] = {}
        for e in listed:
            for rank, how in enumerate(MATCH_ORDER):
                if key(e, how) is not None and key(e, how) == key(v, how):
                    candidate = (rank, e["entry_id"], how)
                    if e["watchlist_id"] not in best or candidate < best[e["watchlist_id"]]:
                        best[e["watchlist_id"]] = candidate
                    break
        out |= {(v["mmsi"], lid, entry_id, how) for lid, (_, entry_id, how) in best.items()}
    return out


NAMES = st.sampled_from(["HAI AU", "Hải Âu", "hai-au", "ĐẠI DƯƠNG", "DAI DUONG", "SEA STAR", "", None])
CALLSIGNS = st.sampled_from(["XVAB", "xv ab", "3WCD", "", None])
IMOS = st.sampled_from([9123456, 9234567, 0, None])
MMSIS = st.sampled_from([574000001, 574000002, 574000003])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"mmsi": MMSIS, "imo": IMOS, "callsign": CALLSIGNS, "name": NAMES}), max_size=4,
             unique_by=lambda v: v["mmsi"]),  # fmt: skip
    st.lists(st.fixed_dictionaries({"watchlist_id": st.sampled_from([1, 2]), "mmsi": st.one_of(st.none(), MMSIS),
                                    "imo": IMOS, "callsign": CALLSIGNS, "name": NAMES}), max_size=6),  # fmt: skip
)
def test_match_equals_the_reference(heard: list[dict[str, Any]], listed: list[dict[str, Any]]) -> None:
    listed = [e | {"entry_id": i + 1, "watchlist": f"list {e['watchlist_id']}"} for i, e in enumerate(listed)]
    got = match(vessels(*heard), entries(*listed)) if listed else pl.DataFrame(schema={"mmsi": pl.Int64})
    rows = set(got.select("mmsi", "watchlist_id", "entry_id", "matched_on").rows()) if got.height else set()
    assert rows == reference_match(heard, listed)


def test_a_listed_vessel_gets_twenty_points_and_the_reason_on_its_smuggling_score() -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    heard = pl.DataFrame({"mmsi": [574009999, 574000001], "name": ["SEA STAR", "BINH MINH"],
                          "callsign": [None, None], "imo": [9123456, None], "ship_type": [80, 30],
                          "lat": [20.5, 20.6], "lon": [107.5, 107.6], "positions": [500, 500],
                          "first_seen": [t0, t0], "last_seen": [t0 + timedelta(hours=5)] * 2},
                         schema_overrides={"first_seen": UTC_US, "last_seen": UTC_US})  # fmt: skip
    alerts = pl.DataFrame(schema=ALERT_SCHEMA)
    days = pl.DataFrame({"mmsi": heard["mmsi"], "day": [t0] * 2, "fixes": [500, 500], "lat": [20.5, 20.6],
                         "lon": [107.5, 107.6], **{f: [0.1, 0.2] for f in DAY_FEATURES}},
                        schema_overrides={"day": UTC_US})  # fmt: skip
    listed = entries({"mmsi": 574001234, "imo": 9123456, "reason": "caught with 40 t diesel"})
    plain = Scorer().score(alerts, heard, days)
    scored = Scorer().score(alerts, heard, days, watchlist=match(heard, listed))
    by = {r["mmsi"]: r for r in scored.iter_rows(named=True)}
    before = {r["mmsi"]: r for r in plain.iter_rows(named=True)}
    assert by[574009999]["smuggling_score"] == before[574009999]["smuggling_score"] + 20
    assert by[574009999]["smuggling_reasons"] == [
        "+20 on watchlist 'caught 2025': IMO 9123456 listed for caught with 40 t diesel under MMSI 574001234; now "
        "MMSI 574009999"
    ]
    assert by[574000001]["smuggling_score"] == before[574000001]["smuggling_score"]
