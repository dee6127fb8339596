"""Durable files, and the named crash points every change of state on disk passes first.

The journal's batches, the engine's snapshot and the store's writes each pass a named *crash point* before they
change anything: a test sets a hook that raises there (a simulated kill or a full disk), so a crash is injected at
every place one can happen rather than hoped for by timing (tests/engine/test_crash_safety.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

_crash_hook: Callable[[str], None] | None = None


def set_crash_hook(hook: Callable[[str], None] | None) -> None:
    """Call ``hook(name)`` at every crash point from now on (None: none). For tests and fault drills."""
    global _crash_hook
    _crash_hook = hook


def crash_point(name: str) -> None:
    """A place where a crash (or a failed write) may happen: the hook set by :func:`set_crash_hook` runs here."""
    if _crash_hook is not None:
        _crash_hook(name)


def fsync_file(file: Path) -> None:
    """``file``'s content on the disk, not only in the page cache (a power loss keeps it)."""
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """``folder``'s entries on the disk: a file created or renamed in it survives a power loss."""
    fsync_file(folder)
