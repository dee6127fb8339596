"""Watchlist matching: which vessels heard now are on an analyst's list, by which identifier, and the score reason.

A watchlist entry names a vessel by any subset of MMSI, IMO, call sign and name. A vessel matches when its current
identity (the latest static reports, messages 5 and 24: ``models.features.FeatureAccumulator.vessels``) shares one
of them, so a listed IMO or call sign seen under a new MMSI or a new name still matches, and the reason says so
("IMO 9123456 listed for fuel smuggling as 'HAI PHONG 05' under MMSI 574001234; now MMSI 574009999
named 'SEA STAR'"). Names and call signs are compared after :func:`normalise_name`: spacing, case, punctuation
and diacritics do not matter (a Vietnamese name typed without its accents matches the accented entry).

A sighting is not an alert kind (DESIGN.md): :func:`watchlist_evidence` makes it a reason on the smuggling score.
An entry is checked by :func:`check_entry` wherever it comes from (the API, an import, a backtest's file).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import polars as pl

# issue 17: "+20 on watchlist 'caught 2025'": an analyst's list is strong prior knowledge, but alone it leaves a
# vessel in the low band (0-20): a listed boat doing nothing suspicious is not an alert, only a mark
WATCHLIST_POINTS = 20.0
WATCHLIST_FAMILY = "watchlist"
# the identifiers in the order a match on them is trusted: MMSI and IMO name one hull, a call sign one licence,
# a name is the weakest (many boats share one)
MATCH_ORDER = ("MMSI", "IMO", "call sign", "name")

IDENTIFIERS = ("mmsi", "imo", "callsign", "name")
ENTRY_FIELDS = (*IDENTIFIERS, "reason", "source")
IMO_RANGE = (1_000_000, 9_999_999)  # seven digits (IMO Res. A.1078(28)); the check digit is the registry's concern
MMSI_MAX = 999_999_999


class WatchlistError(ValueError):
    """A list or an entry that cannot be taken: a name in use or blank, an entry naming no vessel, a bad number."""


def check_entry(entry: dict[str, Any], where: str = "entry") -> dict[str, Any]:
    """``entry``'s fields, blanks as None, checked (:class:`WatchlistError` naming ``where`` and the fix)."""
    out: dict[str, Any] = {}
    for k in ENTRY_FIELDS:
        v = entry.get(k)
        out[k] = v.strip() if isinstance(v, str) else v
        if out[k] == "":
            out[k] = None
    if all(out[k] is None for k in IDENTIFIERS):
        raise WatchlistError(f"{where} names no vessel: give at least one of MMSI, IMO, call sign or name")
    for k, low, high in (("mmsi", 1, MMSI_MAX), ("imo", *IMO_RANGE)):
        if out[k] is None:
            continue
        try:
            out[k] = int(out[k])
        except (TypeError, ValueError):
            raise WatchlistError(f"{where}: {k.upper()} {out[k]!r} is not a number") from None
        if not low <= out[k] <= high:
            raise WatchlistError(f"{where}: {k.upper()} {out[k]} is out of range ({low}-{high})")
    for k, longest in (("callsign", 32), ("name", 200), ("source", 200)):
        if out[k] is not None and len(str(out[k])) > longest:
            raise WatchlistError(f"{where}: {k} longer than {longest} characters")
    out["reason"], out["source"] = out["reason"] or "", out["source"] or ""
    return out


ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "watchlist_id": pl.Int64(),
    "watchlist": pl.String(),
    "entry_id": pl.Int64(),
    "mmsi": pl.Int64(),
    "imo": pl.Int64(),
    "callsign": pl.String(),
    "name": pl.String(),
    "reason": pl.String(),
    "source": pl.String(),
}
MATCH_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.Int64(),
    "watchlist_id": pl.Int64(),
    "watchlist": pl.String(),
    "entry_id": pl.Int64(),
    "matched_on": pl.String(),  # one of MATCH_ORDER
    "detail": pl.String(),  # the match in words, without the list's name
}

# letters NFKD leaves whole: Vietnamese đ/Đ above all (HẢI ĐĂNG == HAI DANG), and a few of other Latin alphabets
_UNDECOMPOSED = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                               "ħ": "h", "Ħ": "H", "ı": "i", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                               "ß": "ss", "þ": "th", "Þ": "TH"})  # fmt: skip


@lru_cache(maxsize=262_144)
def normalise_name(text: str | None) -> str:
    """``text`` reduced to what identifies it: diacritics dropped (đ -> d too), letters and digits only, upper case.
    "Hải Phòng-05" and "HAI PHONG 05" both give "HAIPHONG05"; None and blank give ""."""
    if not text:
        return ""
    plain = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(ch for ch in plain if ch.isalnum()).upper()


def _normalised(values: pl.Series) -> pl.Series:
    return pl.Series(values.name, [normalise_name(v) for v in values.to_list()], dtype=pl.String)


def match(vessels: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    """Each (vessel, watchlist) that matches, by the most trusted identifier (:data:`MATCH_ORDER`), in
    :data:`MATCH_SCHEMA`. ``vessels``: mmsi, name, callsign, imo (the current identity); ``entries``:
    :data:`ENTRY_SCHEMA`. Zero and blank identifiers never match."""
    if vessels.height == 0 or entries.height == 0:
        return pl.DataFrame(schema=MATCH_SCHEMA)
    v = vessels.select(
        pl.col("mmsi").cast(pl.Int64),
        pl.col("imo").cast(pl.Int64).alias("v_imo"),
        pl.col("callsign").cast(pl.String).alias("v_callsign"),
        pl.col("name").cast(pl.String).alias("v_name"),
    )
    # the vessels' names and call signs normalised only when some entry has one: a list of MMSIs and IMOs costs no
    # string work per scoring
    none = pl.lit(None, pl.String)
    v = v.with_columns(
        (_normalised(v["v_callsign"]) if entries["callsign"].drop_nulls().len() else none).alias("k_callsign"),
        (_normalised(v["v_name"]) if entries["name"].drop_nulls().len() else none).alias("k_name"),
    )
    e = entries.select(list(ENTRY_SCHEMA)).rename({"mmsi": "e_mmsi", "imo": "e_imo", "callsign": "e_callsign",
                                                  "name": "e_name"})  # fmt: skip
    e = e.with_columns(_normalised(e["e_callsign"]).alias("k_callsign"), _normalised(e["e_name"]).alias("k_name"))
    found = []
    for how, left, right in (("MMSI", "mmsi", "e_mmsi"), ("IMO", "v_imo", "e_imo"),
                             ("call sign", "k_callsign", "k_callsign"), ("name", "k_name", "k_name")):  # fmt: skip
        keyed = e.filter(pl.col(right).is_not_null() & (pl.col(right).cast(pl.String) != "0") &
                         (pl.col(right).cast(pl.String) != ""))  # fmt: skip
        if keyed.height == 0:
            continue
        hits = v.join(keyed, left_on=left, right_on=right, how="inner", suffix="_e", coalesce=False)
        found.append(hits.with_columns(pl.lit(how).alias("matched_on")).select(
            "mmsi", "v_imo", "v_callsign", "v_name", "watchlist_id", "watchlist", "entry_id", "reason", "source",
            "e_mmsi", "e_imo", "e_callsign", "e_name", "matched_on"))  # fmt: skip
    if not found:
        return pl.DataFrame(schema=MATCH_SCHEMA)
    hits = pl.concat(found, how="vertical_relaxed").with_columns(
        pl.col("matched_on").replace_strict({h: i for i, h in enumerate(MATCH_ORDER)}, return_dtype=pl.Int64)
        .alias("_rank")
    )  # fmt: skip
    best = hits.sort("mmsi", "watchlist_id", "_rank", "entry_id").unique(["mmsi", "watchlist_id"], keep="first",
                                                                          maintain_order=True)  # fmt: skip
    rows = [{"mmsi": r["mmsi"], "watchlist_id": r["watchlist_id"], "watchlist": r["watchlist"],
             "entry_id": r["entry_id"], "matched_on": r["matched_on"], "detail": describe(r)}
            for r in best.iter_rows(named=True)]  # fmt: skip
    return pl.DataFrame(rows, schema=MATCH_SCHEMA, orient="row")


def describe(r: dict[str, Any]) -> str:
    """One match in words: what was listed, what is heard now where it differs, and why it was listed."""
    how = r["matched_on"]
    listed = {"MMSI": f"MMSI {r['e_mmsi']}", "IMO": f"IMO {r['e_imo']}", "call sign": f"call sign {r['e_callsign']}",
              "name": f"name '{r['e_name']}'"}[how]  # fmt: skip
    words = [f"{listed} listed"]
    if r["reason"]:
        words.append(f" for {r['reason']}")
    if r["e_name"] and how != "name":
        words.append(f" as '{r['e_name']}'")
    if r["e_mmsi"] and how != "MMSI":
        words.append(f" under MMSI {r['e_mmsi']}")
    now = []
    if r["e_mmsi"] and r["e_mmsi"] != r["mmsi"]:
        now.append(f"MMSI {r['mmsi']}")
    if r["v_name"] and r["e_name"] and normalise_name(r["v_name"]) != normalise_name(r["e_name"]):
        now.append(f"named '{r['v_name']}'")
    elif how == "name" and r["v_name"] != r["e_name"]:
        now.append(f"heard as '{r['v_name']}'")
    if now:
        words.append("; now " + " ".join(now))
    return "".join(words)


def watchlist_evidence(matches: pl.DataFrame, points: float = WATCHLIST_POINTS) -> pl.DataFrame:
    """Smuggling evidence rows (mmsi, points, family, reason), one per listed vessel, whatever the number of lists:
    "on watchlist 'caught 2025': MMSI 574001234 listed for ...; also on 'tip-offs'"."""
    if matches.height == 0:
        return pl.DataFrame(schema={"mmsi": pl.Int64(), "points": pl.Float64(), "family": pl.String(),
                                    "reason": pl.String()})  # fmt: skip
    first = pl.format("on watchlist '{}': {}", pl.col("watchlist").first(), pl.col("detail").first())
    others = pl.col("watchlist").slice(1)
    return (
        matches.sort("mmsi", "watchlist_id")
        .group_by("mmsi", maintain_order=True)
        .agg(first.alias("reason"), others.alias("others"))
        .select(
            "mmsi",
            points=pl.lit(points, pl.Float64),
            family=pl.lit(WATCHLIST_FAMILY),
            reason=pl.when(pl.col("others").list.len() > 0)
            .then(pl.concat_str("reason", pl.lit("; also on '"), pl.col("others").list.join("', '"), pl.lit("'")))
            .otherwise("reason"),
        )
    )


def listed_names(matches: pl.DataFrame) -> pl.DataFrame:
    """mmsi -> the names of the lists it is on (the vessels table's ``watchlists``, the map's mark)."""
    return matches.sort("watchlist_id").group_by("mmsi", maintain_order=True).agg(watchlists=pl.col("watchlist"))


def with_watchlists(table: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """The risk table with ``watchlists``: the names of the lists each vessel matches (null: none), as the live
    service stores them and the backtest writes them into vessels.parquet (in the table's order)."""
    return table.join(listed_names(matches), on="mmsi", how="left", maintain_order="left")
