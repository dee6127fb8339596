# Every target sets up .venv first; nothing needs to be installed by hand (Python 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SHARED ?= ../shared/data

.PHONY: setup web demo backtest-demo demo-recordings test lint bench fuzz models clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Seawatch needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	@# -qq: errors only. A machine whose pip looks in an extra index that lacks most packages warns once per
	@# package ("Location ... is ignored"): nothing for a newcomer to act on
	$(BIN)/python -m pip install -qq --upgrade pip
	@# setuptools says of every editable install that it is one (InformationOnly): nothing to act on
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install -qq -e '.[dev,cluster,bus]'
	@# seawatch's own bytecode written once: where PYTHONDONTWRITEBYTECODE is set, every command would otherwise
	@# compile its ~40 modules from source at start-up (0.1-0.25 s; benchmarks/RESULTS.md, issue 13)
	$(BIN)/python -m compileall -q feeds engine models api seawatch
	@touch $(STAMP)

setup: $(STAMP) web

# The map page's browser library (Leaflet) from api/web/package-lock.json into api/static/vendor/ (npm needed;
# without npm the page says how to build it and its browser test skips).
web: api/static/vendor/leaflet/leaflet.js

api/static/vendor/leaflet/leaflet.js: api/web/package-lock.json api/web/build.sh
	@if command -v npm >/dev/null 2>&1; then api/web/build.sh; else echo "npm not found: the map page's Leaflet is not built (apt-get install npm, then make web)"; fi

demo: setup
	@echo "Serving a simulated Gulf of Tonkin feed (every alert kind injected) replayed at 60x real time;"
	@echo "open the printed map URL; Ctrl-C stops (a second run continues from .demo/live)."
	$(BIN)/seawatch demo --dir .demo/live

backtest-demo: $(STAMP)
	@echo "Simulating 24 h of Gulf of Tonkin traffic (300 vessels, every alert kind injected) into .demo/scenario ..."
	$(BIN)/seawatch simulate --hours 24 --vessels 300 --seed 1 --out .demo/scenario
	@echo "Backtesting it: every detector, both risk scores, the report, and the metrics against the labels ..."
	$(BIN)/seawatch backtest .demo/scenario/feed.nmea --zones .demo/scenario/zones.geojson --labels .demo/scenario/labels.csv --out .demo/backtest --progress off
	@echo "Open .demo/backtest/report.html in a browser (one file, works offline)."

demo-recordings: $(STAMP)
	@if [ -d "$(SHARED)/nmea" ]; then \
		echo "Decoding the real recorded AIS feeds in $(SHARED)/nmea into .demo/recordings ..."; \
		$(BIN)/seawatch decode $(SHARED)/nmea/*.* --out .demo/recordings; \
	else \
		echo "make demo-recordings decodes the real AIS recordings in $(SHARED)/nmea, which is not here."; \
		echo "Give it with 'make demo-recordings SHARED=/path/to/data', or run: $(BIN)/seawatch decode YOUR.nmea --out out/"; \
	fi

test: lint web
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m compileall -q feeds engine models api seawatch  # bytecode of the code as it is now
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_decode.py --whole  # the commands as users run them, beside pyais and aiscat
	$(BIN)/python benchmarks/bench_backtest.py --hours 168 --runs 3  # the 7-day log: in process and the whole command
	$(BIN)/python benchmarks/bench_geo.py
	$(BIN)/python benchmarks/bench_live.py --parts latency  # a distress message and an ordinary alert -> the API
	$(BIN)/python benchmarks/bench_api.py --fleet 1000000 --rate 500  # open and closed loop; seeding takes ~3 min

# The scoring models shipped in models/default/: simulated Gulf of Tonkin scenarios with fixed seeds (the quality
# benchmark and the tests use other seeds). Rerun after changing features or detectors (the files are plain arrays
# that scoring reads without scikit-learn, whatever its version).
models: $(STAMP)
	NUMBA_NUM_THREADS=1 $(BIN)/seawatch train --seeds 101 102 103 104 105 106 --hours 24 --vessels 300 --out models/default

# FUZZ_SECONDS each: the NMEA framing, then the API's request parsers (tests/fuzz/fuzz_api.py: one target each)
FUZZ_API_TARGETS := zone ring alert mute key query

fuzz: $(STAMP)
	$(BIN)/python -m pip install -qq -e '.[fuzz]'
	$(BIN)/python tests/fuzz/fuzz_framing.py -max_total_time=$${FUZZ_SECONDS:-60}
	for t in $(FUZZ_API_TARGETS); do $(BIN)/python tests/fuzz/fuzz_api.py $$t -max_total_time=$${FUZZ_SECONDS:-60} || exit 1; done

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache api/web/node_modules api/static/vendor
