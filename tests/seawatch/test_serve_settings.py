"""The live service's settings as the stream runner gets them (seawatch/serve_job.py stream_settings)."""

from __future__ import annotations

import pytest

from api.settings import Settings
from engine.stream import StreamSettings
from seawatch.serve_job import stream_settings


def test_the_micro_batch_window_eviction_and_alerts_kept_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEAWATCH_BATCH_MS", "40")
    monkeypatch.setenv("SEAWATCH_EVICT_AFTER_HOURS", "0")
    got = stream_settings(StreamSettings(snapshot_seconds=7.0), Settings(environment="development"))
    assert got.batch_seconds == pytest.approx(0.04)
    assert got.evict_after_s is None  # 0: never
    assert got.recent_alerts_s == pytest.approx(72 * 3600.0)
    assert got.snapshot_seconds == 7.0  # the command line's, untouched
    kept = stream_settings(StreamSettings(recent_alerts_s=60.0), Settings(environment="development"))
    assert kept.recent_alerts_s == 60.0


def test_the_default_window_is_100_ms_and_a_bad_one_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stream_settings(StreamSettings(), Settings(environment="development")).batch_seconds == pytest.approx(0.1)
    monkeypatch.setenv("SEAWATCH_BATCH_MS", "0")
    with pytest.raises(ValueError, match="batch_ms"):
        Settings(environment="development")
