"""``seawatch demo``: a simulated Gulf of Tonkin scenario replayed as a live feed, with the map and the API.

The scenario (every alert kind injected) is written to ``DIR/scenario``; the service keeps its database and
engine state in ``DIR`` too, so a second run continues where the first stopped (delete ``DIR`` to start over).
The demo runs in development mode: the map works without a key on this machine (viewer role), and a viewer key
is printed for trying the API.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.app import open_store
from api.keys import create_key
from api.settings import Settings
from seawatch.serve_job import ServeOptions, serve


def run_demo(folder: Path, *, hours: float, speed: float, host: str, port: int, seed: int) -> None:
    from seawatch.simulator.config import SimConfig
    from seawatch.simulator.scenario import simulate

    scenario = folder / "scenario"
    if not (scenario / "feed.nmea").is_file():
        sys.stdout.write(f"simulating {hours:g} h of Gulf of Tonkin traffic into {scenario} ...\n")
        # the scenario ends now, so the replay shows recent times ("2 h ago"), not the simulator's default date
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
        simulate(SimConfig(hours=hours, seed=seed, start=start)).write(scenario)
    settings = Settings(environment="development", anonymous_role="viewer", database_path=folder / "seawatch.db",
                        examples=True)  # the simulated traffic sails the pack's example zones
    store = open_store(settings)
    try:
        key = create_key(store, "demo viewer", "viewer")
    finally:
        store.close()
    sys.stdout.write(
        f"replaying {scenario / 'feed.nmea'} at {speed:g}x real time\n"
        f"  map:      http://{host}:{port}/\n"
        f"  API:      http://{host}:{port}/api/v1/docs\n"
        f"  viewer key (X-API-Key): {key}\n"
        f"  Ctrl-C stops; a second run continues from {folder}\n"
    )
    sys.stdout.flush()
    options = ServeOptions(feeds=[f"file://{(scenario / 'feed.nmea').resolve()}"], host=host, port=port,
                           state_dir=folder, speed=speed, examples=True)  # fmt: skip
    asyncio.run(serve(options, settings))
