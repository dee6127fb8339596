"""Watchlists in the store: named lists of vessels of interest, their entries, and the sightings of listed vessels.

Analysts keep the lists (the API, ``seawatch watchlist import``); every change is audited in its own transaction.
The live scorer reads every entry each cycle (:meth:`WatchlistsMixin.watchlist_entries_frame`: lists are human
work, thousands of rows at most), matches them against the vessels heard (models/watchlist.py), writes the names of
the lists each vessel matches into its row (the ``watchlisted`` filter, the map's mark) and records the first
sighting of each listed vessel (:meth:`WatchlistsMixin.record_sightings`), which the live stream sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api.store.alerts import AlertsMixin
from api.store.audit import record
from api.store.base import rows_of, utcnow
from api.store.tables import alerts, vessels, watchlist_entries, watchlist_sightings, watchlists, withdrawn_alerts
from models.watchlist import ENTRY_FIELDS, ENTRY_SCHEMA, MATCH_SCHEMA, WatchlistError, check_entry, match


class WatchlistsMixin(AlertsMixin):
    def create_watchlist(self, name: str, *, by: str, key_id: str | None = None, description: str = "",
                         now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """A new, empty list (:class:`WatchlistError` for a blank name or one in use); returns it."""
        name, now = name.strip(), now or utcnow()
        if not name:
            raise WatchlistError("a watchlist needs a name")
        try:
            with self._write() as conn:
                self._mark(conn, "watchlists")
                list_id = conn.execute(sa.insert(watchlists).values(
                    name=name, description=description, created_by=by, created_at=now).returning(watchlists.c.id)
                ).scalar_one()  # fmt: skip
                record(conn, "watchlist.create", list_id, actor=by, key_id=key_id, at=now,
                       details={"name": name, "description": description})  # fmt: skip
        except IntegrityError:
            raise WatchlistError(f"a watchlist named {name!r} exists: add to it, or choose another name") from None
        found = self.watchlist(int(list_id))
        if found is None:
            raise RuntimeError(f"watchlist {list_id} vanished as it was written")
        return found

    def _lists(self, *where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        w, e = watchlists.c, watchlist_entries.c
        counts = sa.select(e.watchlist_id, sa.func.count().label("n")).group_by(e.watchlist_id).subquery()
        stmt = (
            sa.select(watchlists, sa.func.coalesce(counts.c.n, 0).label("entries"))
            .outerjoin(counts, counts.c.watchlist_id == w.id)
            .where(*where)
            .order_by(w.name)
        )
        with self._read() as conn:
            return rows_of(conn, stmt)

    def watchlists_list(self) -> list[dict[str, Any]]:
        """Every list with its number of entries, by name."""
        return self._lists()

    def watchlist(self, list_id: int) -> dict[str, Any] | None:
        found = self._lists(watchlists.c.id == list_id)
        return found[0] if found else None

    def watchlist_named(self, name: str) -> dict[str, Any] | None:
        found = self._lists(watchlists.c.name == name.strip())
        return found[0] if found else None

    def delete_watchlist(self, list_id: int, *, by: str, key_id: str | None = None,
                         now: datetime | None = None) -> dict[str, Any] | None:  # fmt: skip
        """Delete a list and its entries (the audit log keeps their number and the list's name); returns it as it
        was, or None when there is no such list."""
        found, now = self.watchlist(list_id), now or utcnow()
        if found is None:
            return None
        with self._write() as conn:
            self._mark(conn, "watchlists")
            conn.execute(sa.delete(watchlist_entries).where(watchlist_entries.c.watchlist_id == list_id))
            conn.execute(sa.delete(watchlists).where(watchlists.c.id == list_id))
            record(conn, "watchlist.delete", list_id, actor=by, key_id=key_id, at=now,
                   details={"name": found["name"], "entries": found["entries"]})  # fmt: skip
        return found

    def add_entries(self, list_id: int, entries: Sequence[dict[str, Any]], *, by: str, key_id: str | None = None,
                    now: datetime | None = None, imported_from: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Add checked entries (:func:`check_entry`) to a list in one transaction: one audit record each, or one
        ``watchlist.import`` naming the file for an import. Returns them with their ids (WatchlistError: no such
        list, or a bad entry; nothing is added then)."""
        now = now or utcnow()
        checked = [check_entry(e, f"entry {i + 1}") for i, e in enumerate(entries)]
        if self.watchlist(list_id) is None:
            raise WatchlistError(f"no watchlist {list_id}")
        added = []
        with self._write() as conn:
            self._mark(conn, "watchlists")
            for values in checked:
                entry_id = conn.execute(sa.insert(watchlist_entries).values(
                    watchlist_id=list_id, **values, added_by=by, added_at=now).returning(watchlist_entries.c.id)
                ).scalar_one()  # fmt: skip
                added.append(values | {"id": int(entry_id), "watchlist_id": list_id, "added_by": by, "added_at": now})
                if imported_from is None:
                    record(conn, "watchlist.entry.add", entry_id, actor=by, key_id=key_id, at=now,
                           details={"watchlist_id": list_id, **values})  # fmt: skip
            if imported_from is not None:
                record(conn, "watchlist.import", list_id, actor=by, key_id=key_id, at=now,
                       details={"file": imported_from, "entries": len(added)})  # fmt: skip
        return added

    def watchlist_entries(self, list_id: int) -> list[dict[str, Any]]:
        """A list's entries, oldest first."""
        e = watchlist_entries.c
        with self._read() as conn:
            return rows_of(conn, sa.select(watchlist_entries).where(e.watchlist_id == list_id).order_by(e.id))

    def delete_entry(self, list_id: int, entry_id: int, *, by: str, key_id: str | None = None,
                     now: datetime | None = None) -> dict[str, Any] | None:  # fmt: skip
        """Delete one entry (audited with what it was); returns it, or None when the list has no such entry."""
        e, now = watchlist_entries.c, now or utcnow()
        with self._write() as conn:
            self._mark(conn, "watchlists")
            found = rows_of(conn, sa.select(watchlist_entries).where(e.id == entry_id, e.watchlist_id == list_id))
            if not found:
                return None
            conn.execute(sa.delete(watchlist_entries).where(e.id == entry_id))
            details = {k: found[0][k] for k in ("watchlist_id", *ENTRY_FIELDS)}
            record(conn, "watchlist.entry.delete", entry_id, actor=by, key_id=key_id, at=now, details=details)
        return found[0]

    def watchlist_entries_frame(self) -> pl.DataFrame:
        """Every entry of every list with its list's name, as the matcher takes them (models.watchlist.ENTRY_SCHEMA)."""
        w, e = watchlists.c, watchlist_entries.c
        stmt = sa.select(e.watchlist_id, w.name.label("watchlist"), e.id.label("entry_id"), e.mmsi, e.imo,
                         e.callsign, e.name, e.reason, e.source)  # fmt: skip
        stmt = stmt.join_from(watchlist_entries, watchlists, w.id == e.watchlist_id)
        with self._read() as conn:
            rows = rows_of(conn, stmt.order_by(e.id))
        return pl.DataFrame(rows, schema=ENTRY_SCHEMA, orient="row") if rows else pl.DataFrame(schema=ENTRY_SCHEMA)

    def watchlists_mark(self) -> tuple[int, int]:
        """How many entries there are and the newest's id: changes whenever an entry is added or deleted (the live
        scorer re-scores then, so a list edit reaches the scores within a cycle)."""
        e = watchlist_entries.c
        with self._read() as conn:
            n, top = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(e.id), 0))).one()
        return int(n), int(top)

    def record_sightings(self, matches: pl.DataFrame, now: datetime | None = None) -> int:
        """Record each (entry, vessel) of ``matches`` (models.watchlist.MATCH_SCHEMA) not seen before, under one new
        revision, and wake the live streams; returns how many were new."""
        if matches.height == 0:
            return 0
        now = now or utcnow()
        rows = {f"watch-{r['entry_id']}-{r['mmsi']}": r for r in matches.iter_rows(named=True)}
        s = watchlist_sightings.c
        with self._write() as conn:
            known = set()
            keys = list(rows)
            for i in range(0, len(keys), 5_000):
                known |= set(conn.execute(sa.select(s.key).where(s.key.in_(keys[i : i + 5_000]))).scalars())
            fresh = [k for k in keys if k not in known]
            if fresh:
                rev = self._next_rev(conn)
                conn.execute(sa.insert(watchlist_sightings), [
                    {"key": k, "rev": rev, "at": now, **{c: rows[k][c] for c in MATCH_SCHEMA}} for k in fresh
                ])  # fmt: skip
        return len(fresh)

    def prune_sightings(self, cutoff: datetime) -> int:
        """Delete the sightings recorded before ``cutoff`` (the store's clock) of vessels no scoring since then has
        found on a list: a list or entry deleted, an identity that no longer matches, a vessel not heard. A vessel
        still listed keeps its sightings, so the live stream does not announce it again and the dossier's first
        match stays true; one listed again after that is announced anew. Returns how many went."""
        s, v = watchlist_sightings.c, vessels.c
        listed = sa.select(v.mmsi).where(v.mmsi == s.mmsi, v.watchlists.is_not(None), v.updated_at >= cutoff)
        stale = [s.at < cutoff, ~sa.exists(listed)]
        with self._write() as conn:
            if self.dialect == "sqlite":
                # SQLite's next revision is the highest stored plus one (AlertsMixin._next_rev): the sightings holding
                # it stay until a newer one, so no revision is given twice (a live stream client past it would miss it)
                tops = [sa.select(sa.func.coalesce(sa.func.max(t.c.rev), 0)).scalar_subquery()
                        for t in (alerts, withdrawn_alerts, watchlist_sightings)]  # fmt: skip
                stale.append(s.rev < sa.func.max(*tops))
            return int(conn.execute(sa.delete(watchlist_sightings).where(*stale)).rowcount)

    def vessel_watchlist_entries(self, mmsi: int) -> list[dict[str, Any]]:
        """The entries naming a vessel by its stored identity, each with its list, what matched and the match in
        words, and when the vessel was first matched to it (null: not yet at a live scoring): the dossier's
        watchlist section."""
        v = vessels.c
        with self._read() as conn:
            rows = rows_of(conn, sa.select(v.mmsi, v.name, v.callsign, v.imo).where(v.mmsi == mmsi))
        entries = self.watchlist_entries_frame()
        if not rows or entries.height == 0:
            return []
        ident = pl.DataFrame(rows, schema={"mmsi": pl.Int64, "name": pl.String, "callsign": pl.String,
                                           "imo": pl.Int64}, orient="row")  # fmt: skip
        found = match(ident, entries)
        if found.height == 0:
            return []
        s, e = watchlist_sightings.c, watchlist_entries.c
        with self._read() as conn:
            seen = {int(r[0]): r[1] for r in conn.execute(sa.select(s.entry_id, s.at).where(s.mmsi == mmsi))}
            full = rows_of(conn, sa.select(watchlist_entries).where(e.id.in_(found["entry_id"].to_list())))
        by_id = {r["id"]: r for r in full}
        return [by_id[m["entry_id"]] | {"watchlist": m["watchlist"], "matched_on": m["matched_on"],
                                        "detail": m["detail"], "first_matched": seen.get(m["entry_id"])}
                for m in found.iter_rows(named=True) if m["entry_id"] in by_id]  # fmt: skip

    def watchlisted_vessels(self) -> list[int]:
        """MMSIs whose latest scoring found them on a list."""
        with self._read() as conn:
            return sorted(conn.execute(sa.select(vessels.c.mmsi).where(vessels.c.watchlists.is_not(None))).scalars())
