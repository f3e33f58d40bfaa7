# Two commands for a newcomer: `make serve` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint format bench clean fuzz

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/tablerest serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests examples
	$(BIN)/ruff check --fix src tests examples

# The docs-page test drives Debian's Chromium (headless); it is installed here when missing.
# Two pytest-xdist workers: each test makes its own databases (random names), files (tmp_path)
# and servers (free ports), and most of the suite waits on databases and servers rather than
# on a core. PYTEST_WORKERS=0 runs it in one process (pdb, or output in order).
PYTEST_WORKERS ?= 2
test: lint
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the docs page test will skip"
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Schemathesis with a fresh seed and more cases than make test's fixed-seed run (tests/e2e).
FUZZ_EXAMPLES ?= 300
fuzz: $(STAMP)
	TABLEREST_FUZZ_SEED=$$(date +%s) TABLEREST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(BIN)/python -m pytest tests/e2e/test_fuzz.py

# The side-by-side benchmark (../shared/bench): tablerest against floor, flaskfloor and peers, on
# SQLite and PostgreSQL, then deep pages (bench/deep.py), aggregates and bulk updates
# (bench/beyond.py) and a py-spy profile (bench/spy.py). Installs wrk from Debian's packages if
# missing; ~15 minutes on 2 cores. bench/inprocess.py profiles one request without the network.
BENCH_SYSTEMS ?= floor,flaskfloor,seedstyle,fastapi,tablerest
BENCH_DB ?= sqlite,postgres
bench:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
	BENCH_WORK_DIR=$(CURDIR)/bench $(PYTHON) ../shared/bench/run.py --systems-dir bench/systems \
		--systems $(BENCH_SYSTEMS) --db $(BENCH_DB) --report bench/results.md $(BENCH_ARGS)
	$(PYTHON) bench/deep.py --report bench/results.md
	$(PYTHON) bench/beyond.py --report bench/results.md
	$(PYTHON) bench/spy.py --report bench/results.md
	bench/.venvs/tablerest/bin/python bench/inprocess.py --report bench/results.md

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
