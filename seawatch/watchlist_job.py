"""``seawatch watchlist import|list|export``: analysts' watchlists from and to files, in the store the service uses.

``import FILE --name NAME`` reads a CSV file (a header names the columns: mmsi, imo, callsign, name, reason,
source, in any order, with common spellings such as ``IMO number`` or ``call_sign``) or a sanctions-style JSON file:
OpenSanctions' FollowTheMoney exports, JSON lines (or one JSON array) of entities, of which those with schema
``Vessel`` are taken (properties ``name``, ``imoNumber``, ``mmsi``, ``callSign``; further names become entries of
their own). Files are read from disk; nothing is downloaded. The list is created when it does not exist; the import
is one transaction and one audit record. Rows that name no vessel or carry a bad number are skipped and reported by
line.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

FIELDS = ("mmsi", "imo", "callsign", "name", "reason", "source")
IDENTIFIERS = ("mmsi", "imo", "callsign", "name")
# header spellings seen in coast guard spreadsheets and registry exports, reduced as :func:`_header_key` does
ALIASES = {
    "mmsi": "mmsi", "mmsinumber": "mmsi",
    "imo": "imo", "imonumber": "imo", "imono": "imo",
    "callsign": "callsign", "callsignal": "callsign", "cs": "callsign",
    "name": "name", "vesselname": "name", "shipname": "name", "vessel": "name",
    "reason": "reason", "why": "reason", "notes": "reason", "note": "reason",
    "source": "source",
}  # fmt: skip
SHOWN_PROBLEMS = 10  # skipped rows named one by one; the rest counted
LIST_SUFFIXES = (".csv", ".json", ".jsonl", ".ftm", ".txt")  # left out of a file's list name


class WatchlistFileError(ValueError):
    """A file that is not a watchlist: names the file and the fix."""


@dataclass
class Parsed:
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "line 4: names no vessel", ...
    ignored: int = 0  # FtM entities of other schemas (people, companies)


def _header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _imo(value: Any) -> Any:
    """'IMO 9123456' and 'IMO9123456' (as registries write it) -> '9123456'; other values unchanged."""
    if isinstance(value, str):
        return re.sub(r"^\s*IMO[\s:]*", "", value, flags=re.IGNORECASE)
    return value


def read_csv(path: Path, reason: str, source: str) -> Parsed:
    """Entries of a CSV file with a header; :class:`WatchlistFileError` when no column names a vessel."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise WatchlistFileError(f"{path}: empty file; give a CSV header with mmsi, imo, callsign or name")
        columns = {i: ALIASES.get(_header_key(h)) for i, h in enumerate(header)}
        known = {c for c in columns.values() if c}
        if not known & set(IDENTIFIERS):
            raise WatchlistFileError(
                f"{path}: no column names a vessel: the header ({', '.join(header)}) lacks mmsi, imo, callsign and "
                "name; give at least one of them (reason and source are optional)"
            )
        parsed = Parsed()
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            values = {c: row[i] for i, c in columns.items() if c and i < len(row)}
            values["imo"] = _imo(values.get("imo"))
            values["reason"] = (values.get("reason") or "").strip() or reason
            values["source"] = (values.get("source") or "").strip() or source
            parsed.entries.append(values | {"_where": f"line {line}"})
    return parsed


def _ftm_entities(path: Path) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WatchlistFileError(f"{path}: not JSON ({exc})") from None
        yield from ((f"item {i + 1}", item) for i, item in enumerate(items))
        return
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield f"line {line}", json.loads(raw)
        except json.JSONDecodeError as exc:
            raise WatchlistFileError(f"{path}: line {line} is not JSON ({exc.msg}); give FollowTheMoney JSON lines "
                                     "(one entity per line) or a CSV file") from None  # fmt: skip


def read_ftm(path: Path, reason: str, source: str) -> Parsed:
    """Entries of the ``Vessel`` entities of a FollowTheMoney export (OpenSanctions' ``entities.ftm.json``)."""
    parsed = Parsed()
    for where, entity in _ftm_entities(path):
        if not isinstance(entity, dict) or "schema" not in entity:
            raise WatchlistFileError(f"{path}: {where} is not a FollowTheMoney entity (no 'schema')")
        if entity["schema"] != "Vessel":
            parsed.ignored += 1
            continue
        props = entity.get("properties") or {}

        def first(name: str, p: dict[str, Any] = props) -> Any:
            values = p.get(name) or []
            return values[0] if values else None

        said = reason or ", ".join(props.get("topics") or []) or f"listed in {path.name}"
        origin = " ".join(x for x in (source, str(entity.get("id") or "")) if x)
        entry = {"mmsi": first("mmsi"), "imo": _imo(first("imoNumber")), "callsign": first("callSign"),
                 "name": first("name"), "reason": said, "source": origin, "_where": where}  # fmt: skip
        parsed.entries.append(entry)
        for alias in (props.get("name") or [])[1:]:  # other names the vessel went by: each matches by itself
            parsed.entries.append({"name": alias, "reason": said, "source": origin, "_where": f"{where} (alias)"})
    return parsed


def read_file(path: Path, reason: str = "", source: str = "") -> Parsed:
    """Entries of ``path``: FollowTheMoney JSON when it starts with '{' or '[', else CSV."""
    if not path.is_file():
        raise WatchlistFileError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    source = source or path.name
    return read_ftm(path, reason, source) if head[:1] in (b"{", b"[") else read_csv(path, reason, source)


def checked(path: Path, parsed: Parsed) -> list[dict[str, Any]]:
    """The entries of ``parsed`` (read from ``path``) that name a vessel with good numbers, checked as the store
    checks them; the others join ``parsed.skipped``, said by line. :class:`WatchlistFileError` when none is left."""
    from models.watchlist import WatchlistError, check_entry

    good = []
    for entry in parsed.entries:
        where = entry.pop("_where")
        try:
            good.append(check_entry(entry, where))
        except WatchlistError as exc:
            parsed.skipped.append(str(exc))
    if not good:
        shown = "".join(f"\n  {s}" for s in parsed.skipped[:SHOWN_PROBLEMS])
        raise WatchlistFileError(f"{path}: no entry to import ({len(parsed.skipped)} skipped, {parsed.ignored} "
                                 f"entities not vessels){shown}")  # fmt: skip
    return good


def list_name(path: Path) -> str:
    """A file's list name without a store: its name without the file type ("caught 2025" for caught 2025.csv,
    "entities" for entities.ftm.json)."""
    name = path.name
    while Path(name).suffix.lower() in LIST_SUFFIXES:
        name = Path(name).stem
    return name or path.name


def read_lists(paths: Sequence[Path]) -> tuple[pl.DataFrame, list[str]]:
    """Watchlist files (CSV or FollowTheMoney JSON, as ``import`` reads them) as the matcher takes them
    (:data:`models.watchlist.ENTRY_SCHEMA`), without a store: each file one list named by :func:`list_name`, its
    entries numbered in order. Returns them and what was left out, in words (``seawatch backtest --watchlist``).
    :class:`WatchlistFileError` names a file that is not a watchlist or holds no usable entry."""
    import polars as pl

    from models.watchlist import ENTRY_SCHEMA

    rows: list[dict[str, Any]] = []
    said: list[str] = []
    names: set[str] = set()
    for list_id, path in enumerate(paths, start=1):
        parsed = read_file(path)
        good = checked(path, parsed)
        name = list_name(path)
        name = name if name not in names else f"{name} ({list_id})"
        names.add(name)
        rows += [{"watchlist_id": list_id, "watchlist": name, "entry_id": len(rows) + i + 1, **e}
                 for i, e in enumerate(good)]  # fmt: skip
        left = [f"{len(parsed.skipped)} rows skipped"] if parsed.skipped else []
        left += [f"{parsed.ignored} entities not vessels ignored"] if parsed.ignored else []
        said.append(f"watchlist {name!r}: {len(good)} entries from {path}" + (f" ({', '.join(left)})" if left else ""))
        said += [f"  {s}" for s in parsed.skipped[:SHOWN_PROBLEMS]]
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA, orient="row") if rows else pl.DataFrame(schema=ENTRY_SCHEMA), said


def run_import(store: Any, path: Path, name: str, *, reason: str = "", source: str = "",
               by: str = "command line") -> tuple[int, Parsed]:  # fmt: skip
    """Import ``path`` into the list ``name`` (created when missing); returns how many entries were added and what
    was read (its ``skipped`` rows say why)."""
    parsed = read_file(path, reason, source)
    good = checked(path, parsed)
    found = store.watchlist_named(name) or store.create_watchlist(name, by=by, description=f"imported from {path.name}")
    added = store.add_entries(found["id"], good, by=by, imported_from=str(path))
    return len(added), parsed


def export_rows(store: Any, name: str) -> list[dict[str, Any]]:
    found = store.watchlist_named(name)
    if found is None:
        names = ", ".join(repr(w["name"]) for w in store.watchlists_list()) or "none yet"
        raise WatchlistFileError(f"no watchlist named {name!r} (lists: {names})")
    return [{k: e[k] for k in (*FIELDS, "added_by")} | {"added_at": e["added_at"].isoformat()}
            for e in store.watchlist_entries(found["id"])]  # fmt: skip


def _open_store(database: str | None) -> Any:
    from api.settings import Settings
    from api.store import Store

    settings = Settings(database_url=database) if database else Settings()
    return Store(settings.store_url())


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from api.store import WatchlistError

    who = f"command line ({getpass.getuser()})"
    try:
        store = _open_store(args.database)
        try:
            return _action(args, store, who)
        finally:
            store.close()
    except (WatchlistFileError, WatchlistError, ValidationError, SQLAlchemyError, OSError) as exc:
        sys.stderr.write(f"seawatch watchlist {args.action}: {exc}\n")
        return 2


def _action(args: argparse.Namespace, store: Any, who: str) -> int:
    if args.action == "import":
        if not args.name:
            raise WatchlistFileError("give the list's name: --name NAME")
        added, parsed = run_import(store, Path(args.file), args.name, reason=args.reason, source=args.source, by=who)
        ignored = f"; {parsed.ignored} entities not vessels ignored" if parsed.ignored else ""
        sys.stdout.write(f"seawatch watchlist: {added} entries added to {args.name!r} from {args.file}{ignored}\n")
        if parsed.skipped:
            lines = [f"  {s}" for s in parsed.skipped[:SHOWN_PROBLEMS]]
            if len(parsed.skipped) > SHOWN_PROBLEMS:
                lines.append(f"  ... and {len(parsed.skipped) - SHOWN_PROBLEMS} more")
            sys.stderr.write("\n".join([f"{len(parsed.skipped)} rows skipped:", *lines]) + "\n")
        return 0
    if args.action == "list":
        for w in store.watchlists_list():
            sys.stdout.write(f"{w['id']}\t{w['name']}\t{w['entries']} entries\t{w['created_by']}\t"
                             f"{w['created_at']:%Y-%m-%d %H:%M} UTC\n")  # fmt: skip
        return 0
    if not args.name or not args.out:
        raise WatchlistFileError("export needs --name NAME and --out FILE.csv or FILE.json")
    rows, out = export_rows(store, args.name), Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=[*FIELDS, "added_by", "added_at"])
            writer.writeheader()
            writer.writerows(rows)
    sys.stdout.write(f"seawatch watchlist: {len(rows)} entries of {args.name!r} -> {out}\n")
    return 0


def add_watchlist_parser(sub: Any) -> None:
    wl = sub.add_parser(
        "watchlist",
        help="import, list and export watchlists (vessels of interest) in the store",
        description="Keep analysts' watchlists in the store SEAWATCH_DATABASE_URL / SEAWATCH_DATABASE_PATH names "
        "(as seawatch serve). import FILE --name NAME: a CSV file with a header (mmsi, imo, callsign, name, reason, "
        "source; at least one identifier) or a FollowTheMoney JSON export (OpenSanctions: its Vessel entities), "
        "read from disk; the list is created if missing. list: the lists. export --name NAME --out FILE.csv|.json.",
    )
    wl.add_argument("action", choices=("import", "list", "export"), help="what to do")
    wl.add_argument("file", nargs="?", metavar="FILE", help="the file to import (CSV or FollowTheMoney JSON)")
    wl.add_argument("--name", help="the watchlist ('caught 2025')")
    wl.add_argument("--reason", default="", help="why its vessels are listed, where a row says nothing")
    wl.add_argument("--source", default="", help="where the list comes from (default: the file's name)")
    wl.add_argument("--out", metavar="FILE", help="export: FILE.csv or FILE.json")
    wl.add_argument("--database", metavar="URL", help="the store's SQLAlchemy URL (default: as seawatch serve)")
    wl.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    if args.action == "import" and not args.file:
        sys.stderr.write("seawatch watchlist import: give the FILE to import (CSV or FollowTheMoney JSON)\n")
        return 2
    return _run(args)
