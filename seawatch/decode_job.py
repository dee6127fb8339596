"""``seawatch decode``: NMEA files -> positions/statics/events Parquet, streamed in chunks with bounded memory.

Each chunk's tables go to part files in a scratch folder; at the end polars streams the parts into one Parquet
file per table, so peak memory is set by the chunk size, not the input size. With details, the rarer types' typed
tables (one per layout variant, :mod:`engine.decode_rare`) go to ``messages/<variant>.parquet`` beside them.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.decode import DECODE_REJECTS, Decoded, decode
from feeds.files import CHUNK_BYTES, InputError, map_chunks, sniff
from feeds.framing import Framer
from feeds.nmea_kernel import NOTES, OUTCOMES

TABLES = ("positions", "statics", "events")
MESSAGE_TYPE_NAMES = {
    1: "position A", 2: "position A", 3: "position A", 4: "base station", 5: "static/voyage",
    6: "binary addressed", 7: "binary ack", 8: "binary broadcast", 9: "SAR aircraft", 10: "UTC inquiry",
    11: "UTC response", 12: "safety addressed", 13: "safety ack", 14: "safety broadcast",
    15: "interrogation", 16: "assignment", 17: "DGNSS", 18: "position B", 19: "extended B",
    20: "data link mgmt", 21: "aid to navigation", 22: "channel mgmt", 23: "group assignment",
    24: "static B", 25: "binary single slot", 26: "binary multi slot", 27: "long-range position",
}  # fmt: skip


@dataclass
class DecodeOptions:
    keep_bad_checksums: bool = False
    details: bool = True
    chunk_bytes: int = CHUNK_BYTES
    progress: bool | None = None  # None: a bar when stderr is a terminal


@dataclass
class DecodeSummary:
    out: Path
    files: int = 0
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    types: Counter[int] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        msgs = sum(self.types.values())
        rate = msgs / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"decoded {msgs:,} messages from {self.lines:,} lines in {self.files} file(s), "
            f"{self.bytes / 1e6:,.1f} MB in {self.seconds:.2f} s ({rate:,.0f} messages/s)",
            "messages by type:",
        ]
        for t, n in sorted(self.types.items()):
            out.append(f"  {t:>2} {MESSAGE_TYPE_NAMES.get(t, '?'):<22} {n:>10,}")
        out.append("sentence records by outcome:")
        for name in OUTCOMES + DECODE_REJECTS:
            if self.outcomes[name]:
                out.append(f"  {name:<25} {self.outcomes[name]:>10,}")
        notes = [name for name in NOTES if self.outcomes[name]]
        if notes:
            out.append("notes:")
            out.extend(f"  {name:<25} {self.outcomes[name]:>10,}" for name in notes)
        out.append("written:")
        out.extend(f"  {self.out / (t + '.parquet')}  {self.rows.get(t, 0):,} rows" for t in TABLES)
        return "\n".join(out) + "\n"


def progress_bar(total: int, enabled: bool | None, desc: str = "decode"):
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, unit="B", unit_scale=True, disable=not show, file=sys.stderr, desc=desc)


def decode_file(path: Path, framer: Framer, chunk_bytes: int, details: bool,
                columns: Mapping[str, Collection[str]] | None = None) -> Iterator[tuple[Decoded, int]]:  # fmt: skip
    """The decoded tables of ``path``, chunk by chunk, each with the bytes it read (the last, 0, flushes the
    framer's partial lines and parts); ``columns`` as :func:`engine.decode.decode` takes them."""
    for chunk in _with_end(map_chunks(path, chunk_bytes)):
        batch = framer.feed(chunk or b"", final=chunk is None)
        yield decode(batch, details=details, columns=columns), len(chunk or b"")


def run_decode(inputs: list[Path], out: Path, options: DecodeOptions) -> DecodeSummary:
    """Decode ``inputs`` into ``out``; raises :class:`InputError` naming a bad input before writing anything."""
    for path in inputs:
        sniff(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    summary = DecodeSummary(out=out)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=".decode-", dir=out))
    parts: dict[str, list[Path]] = {t: [] for t in TABLES}
    (scratch / "messages").mkdir()
    total = sum(p.stat().st_size for p in inputs)
    try:
        with progress_bar(total, options.progress) as bar:
            for path in inputs:
                framer = Framer(keep_bad_checksums=options.keep_bad_checksums)
                for decoded, n_bytes in decode_file(path, framer, options.chunk_bytes, options.details):
                    summary.types.update(decoded.types)
                    summary.outcomes.update(decoded.rejects)
                    tables = {t: getattr(decoded, t) for t in TABLES}
                    tables |= {f"messages/{name}": frame for name, frame in decoded.messages.items()}
                    for table, frame in tables.items():
                        if frame.height:
                            part = scratch / f"{table}-{len(parts.setdefault(table, [])):06d}.parquet"
                            frame.write_parquet(part)
                            parts[table].append(part)
                    summary.bytes += n_bytes
                    bar.update(n_bytes)
                summary.outcomes.update(framer.counts)
                summary.lines += framer.lines
                summary.files += 1
        if len(parts) > len(TABLES):
            (out / "messages").mkdir(exist_ok=True)
        for table in parts:
            target = out / f"{table}.parquet"
            if parts[table]:
                pl.scan_parquet(parts[table]).sink_parquet(target)
            else:
                _empty(table).write_parquet(target)
            summary.rows[table] = pl.scan_parquet(target).select(pl.len()).collect().item()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _with_end(chunks):
    """The chunks, then None to say the input has ended."""
    yield from chunks
    yield None


def _empty(table: str) -> pl.DataFrame:
    """An empty table with the right columns, from decoding nothing."""
    from engine.decode import decode_bytes

    frame: pl.DataFrame = getattr(decode_bytes(b""), table)
    return frame
