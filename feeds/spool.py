"""The relay's outbox on disk: every bus message is written here before it is sent, and forgotten once the server
has acknowledged it.

So a relay that loses the server keeps what it receives (bounded: ``max_bytes``, the oldest given up first and
counted), and one killed (kill -9) sends again, when it starts, what the server had not acknowledged: with the
message ids it had, so the server drops the ones it did get (JetStream de-duplication).

Records go into segment files (``000000000001.seg``, a new one every ``segment_bytes``); a record is a length-
prefixed JSON header (subject, message id, headers) and the payload. ``acked`` holds where the first record not
acknowledged lies (segment, offset), rewritten atomically at most every ``mark_every_s``: a kill resends at most
that much, all of it within the server's de-duplication window. A record a kill cut short is at the end of the
segment being written; the next start writes into a new segment and the reader stops at the cut.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_LEN = struct.Struct("<I")
SEGMENT_BYTES = 8 * 1024 * 1024
MAX_BYTES = 1024**3  # a day of a busy station (~200 messages/s of ~80 bytes is ~1.4 GB a day): hours of outage
MARK_EVERY_S = 0.2


@dataclass(frozen=True)
class Record:
    subject: str
    msg_id: str
    headers: dict[str, str]
    payload: bytes
    where: tuple[int, int]  # (segment, offset) of the record
    after: tuple[int, int]  # (segment, offset) just past it


class SpoolError(Exception):
    """The spool folder cannot be used; the message names it and the fix."""


class Spool:
    """Append records; read them back in order from the first one not acknowledged; acknowledge a prefix."""

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES, segment_bytes: int = SEGMENT_BYTES,
                 mark_every_s: float = MARK_EVERY_S) -> None:  # fmt: skip
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(
                f"relay spool {self.folder}: cannot create it ({exc}); give a writable --spool DIR"
            ) from None
        self.max_bytes, self.segment_bytes, self.mark_every_s = max_bytes, segment_bytes, mark_every_s
        self.dropped = 0  # records given up because the spool was full (the server away too long)
        self.mark = self._read_mark()
        segments = self._segments()
        for n in segments:
            if n < self.mark[0]:
                (self.folder / f"{n:012d}.seg").unlink(missing_ok=True)
        segments = [n for n in segments if n >= self.mark[0]]
        if self.mark[0] not in segments:  # its segment was all acknowledged: the next one, from its start
            self.mark = (segments[0] if segments else self.mark[0], 0)
        self.cursor = self.mark  # where the next read starts
        self._writing = max([*segments, self.mark[0] - 1]) + 1  # never append after a record a kill cut short
        self._file = open(self._path(self._writing), "ab")  # noqa: SIM115  # kept open while the relay runs
        self._size = 0
        self._marked_at = 0.0

    def _path(self, n: int) -> Path:
        return self.folder / f"{n:012d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(p.name.split(".")[0]) for p in self.folder.glob("*.seg") if p.name.split(".")[0].isdigit())

    def _read_mark(self) -> tuple[int, int]:
        try:
            seg, off = (self.folder / "acked").read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            return (0, 0)

    def append(self, subject: str, msg_id: str, headers: dict[str, str], payload: bytes) -> None:
        """Write one record (to the OS: it survives a kill of the relay, not a power loss)."""
        head = json.dumps({"s": subject, "i": msg_id, "h": headers}).encode()
        if self._size >= self.segment_bytes:
            self._file.close()
            self._writing += 1
            self._file = open(self._path(self._writing), "ab")  # noqa: SIM115
            self._size = 0
        self._file.write(_LEN.pack(len(head)) + head + _LEN.pack(len(payload)) + payload)
        self._file.flush()
        self._size += 2 * _LEN.size + len(head) + len(payload)
        self._bound()

    def bytes_held(self) -> int:
        return sum(self._path(n).stat().st_size for n in self._segments())

    def _bound(self) -> None:
        """Give up the oldest segments while the spool is over ``max_bytes`` (the segment being written stays)."""
        segments = self._segments()
        total = sum(self._path(n).stat().st_size for n in segments)
        while total > self.max_bytes and len(segments) > 1 and segments[0] < self._writing:
            oldest = segments.pop(0)
            size = self._path(oldest).stat().st_size
            lost = sum(1 for _ in self._records(oldest, self.mark[1] if oldest == self.mark[0] else 0))
            self._path(oldest).unlink()
            total -= size
            self.dropped += lost
            log.error("relay spool %s full (%d bytes): gave up %d message(s) the server never acknowledged; "
                      "raise --spool-bytes or bring the server back", self.folder, self.max_bytes, lost)  # fmt: skip
            if self.mark[0] <= oldest:
                self.mark = (oldest + 1, 0)
            if self.cursor[0] <= oldest:
                self.cursor = (oldest + 1, 0)

    def _records(self, n: int, offset: int) -> list[Record]:
        try:
            with open(self._path(n), "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        pos = 0
        while pos + _LEN.size <= len(data):
            (hl,) = _LEN.unpack_from(data, pos)
            p = pos + _LEN.size + hl
            if p + _LEN.size > len(data):
                break
            (pl,) = _LEN.unpack_from(data, p)
            end = p + _LEN.size + pl
            if end > len(data):
                break  # a record a kill cut short
            head = json.loads(data[pos + _LEN.size : p])
            payload = data[p + _LEN.size : end]
            out.append(Record(head["s"], head["i"], head["h"], payload, (n, offset + pos), (n, offset + end)))
            pos = end
        return out

    def read(self, limit: int) -> list[Record]:
        """Up to ``limit`` records from the cursor on, which moves past them (:meth:`rewind` goes back)."""
        out: list[Record] = []
        while len(out) < limit:
            seg, off = self.cursor
            got = self._records(seg, off)[: limit - len(out)]
            out.extend(got)
            if got:
                self.cursor = got[-1].after
            if len(out) >= limit or seg >= self._writing:
                break
            if not got:
                self.cursor = (seg + 1, 0)  # this segment is read to its end (or a kill's cut): the next one
        return out

    def rewind(self) -> None:
        """Read again from the first record not acknowledged (after a send failed)."""
        self.cursor = self.mark

    def acknowledge(self, upto: Record, *, force: bool = False) -> None:
        """Every record up to ``upto`` has been acknowledged by the server: forget them."""
        self.mark = upto.after
        for n in self._segments():
            if n < self.mark[0]:
                self._path(n).unlink(missing_ok=True)
        now = time.monotonic()
        if force or now - self._marked_at >= self.mark_every_s:
            self.save_mark()
            self._marked_at = now

    def save_mark(self) -> None:
        tmp = self.folder / "acked.tmp"
        tmp.write_text(f"{self.mark[0]} {self.mark[1]}\n")
        os.replace(tmp, self.folder / "acked")

    def close(self) -> None:
        self.save_mark()
        self._file.close()
