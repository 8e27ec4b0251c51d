# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all serve worker bench bench-financepy lint clean system-deps

# `make demo` writes this database and `make serve` serves it, so the demo's keys work.
DATABASE_URL ?= sqlite:///datafin-demo.db
export DATABASE_URL
# Server processes of `make serve` (uvicorn workers); one job worker runs beside them.
WORKERS ?= 1

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependency declaration changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f datafin-demo.db
	$(BIN)/datafin demo

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/typos
	$(BIN)/python -m pytest -q --cov --cov-report=

# Everything `make test` runs, plus the tests marked slow (minutes more).
test-all: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/typos
	$(BIN)/python -m pytest -q -m "slow or not slow"

# The API on http://127.0.0.1:8000 and one job worker (stress runs), stopped together.
serve: $(STAMP)
	$(BIN)/datafin db upgrade
	$(BIN)/datafin worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/datafin serve --workers $(WORKERS)

# A job worker alone (e.g. a second one on PostgreSQL).
worker: $(STAMP)
	$(BIN)/datafin worker

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# FinancePy (GPL) for the credit benchmark's comparison only: its own environment, never a
# dependency of the project; `python -m benchmarks credit` finds it there.
bench-financepy:
	$(PYTHON) -m venv .venv-financepy
	.venv-financepy/bin/python -m pip install --quiet financepy

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/typos

# Debian packages for the reports and the dashboard test: a CJK font (Chinese names), Pango
# for WeasyPrint, Chromium (driven headless by the dashboard test) and poppler's PDF tools.
# Installs only what is missing (root, apt-get); nothing downloads fonts or browsers itself.
SYSTEM_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 chromium poppler-utils
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

clean:
	rm -rf $(VENV) .venv-financepy *.egg-info datafin-demo.db
