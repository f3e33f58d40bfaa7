# Two commands for a newcomer: `make serve` and `make test`. Both bootstrap .venv themselves:
# `make serve` installs what serving needs (the package and its dependencies), `make test` adds
# the dev extras (pytest, linters, drivers, browsers' driver: several times the size).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint format bench clean fuzz toc

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The dev extras include everything serving needs, so this stamp stands for both.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/tablerest serve --host $(HOST) --port $(PORT)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

format: $(DEV_STAMP)
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
fuzz: $(DEV_STAMP)
	TABLEREST_FUZZ_SEED=$$(date +%s) TABLEREST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(BIN)/python -m pytest tests/e2e/test_fuzz.py

# The side-by-side benchmark (../shared/bench): tablerest as `serve` ships it (granian) against
# the granian floors and the peers, and on gunicorn (tablerest_gunicorn), on SQLite and
# PostgreSQL, then issue 20's ratios (bench/targets.py: to flaskfloor_granian, the best peer,
# worker RSS), deep pages and exports of 1,000,000 rows on SQLite and PostgreSQL
# (bench/deep.py, on `tablerest serve`), aggregates and bulk updates (bench/beyond.py) and a
# py-spy profile (bench/spy.py). The report's ratios are to `floor` (gunicorn), so it stays in
# the list. PostgreSQL is the harness's private cluster (kept running for deep.py, then
# stopped), or the server of BENCH_PG_DSN ("host=127.0.0.1 port=5432 user=postgres") when set.
# Installs wrk from Debian's packages if missing; ~35 minutes on 2 cores.
# bench/inprocess.py profiles one request without the network.
BENCH_SYSTEMS ?= floor,floor_granian,flaskfloor_granian,seedstyle,fastapi,tablerest,tablerest_1thread,tablerest_gunicorn
BENCH_DB ?= sqlite,postgres
BENCH_DEEP_PG_DSN = $(or $(BENCH_PG_DSN),host=127.0.0.1 port=$(or $(BENCH_PG_PORT),54329) user=postgres)
bench:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
	BENCH_WORK_DIR=$(CURDIR)/bench $(PYTHON) ../shared/bench/run.py --systems-dir bench/systems \
		--systems $(BENCH_SYSTEMS) --db $(BENCH_DB) --keep-pg --report bench/results.md $(BENCH_ARGS)
	BENCH_WORK_DIR=$(CURDIR)/bench $(PYTHON) bench/targets.py --report bench/results.md
	BENCH_PG_DSN="$(BENCH_DEEP_PG_DSN)" $(PYTHON) bench/deep.py --report bench/results.md; \
		status=$$?; BENCH_WORK_DIR=$(CURDIR)/bench $(PYTHON) ../shared/bench/run.py pg-stop; \
		exit $$status
	$(PYTHON) bench/beyond.py --report bench/results.md
	$(PYTHON) bench/spy.py --report bench/results.md
	bench/.venvs/tablerest_gunicorn/bin/python bench/inprocess.py --report bench/results.md

# The README's table of contents, from its headings (tests/test_readme_toc.py checks it).
toc:
	$(PYTHON) tests/readme_toc.py --write

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
