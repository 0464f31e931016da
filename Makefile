# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv and fetches what it needs on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-chaos lint typecheck check kafka-jars postgres chromium clean distclean bench bench-quick

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

kafka-jars: $(STAMP)
	$(BIN)/hub kafka fetch

demo: $(STAMP) kafka-jars
	$(BIN)/hub demo

postgres:
	bash scripts/ensure-postgres.sh

# the dashboard's browser test drives Debian's chromium (Playwright never downloads one)
chromium:
	bash scripts/ensure-chromium.sh

test: $(STAMP) kafka-jars postgres chromium
	$(BIN)/lint-imports
	$(BIN)/pytest

# The chaos run of tests/test_chaos.py over 100,000 events (make test runs a short one of a few thousand):
# SIGKILLs, a broker and a registry restart, re-publishing and poison records. HUB_CHAOS_SEED=N replays a run.
test-chaos: $(STAMP) kafka-jars postgres
	HUB_CHAOS_EVENTS=$${HUB_CHAOS_EVENTS:-100000} $(BIN)/pytest -p no:cacheprovider tests/test_chaos.py -q -x

lint: $(STAMP)
	$(BIN)/ruff check hub projections consumers demo cli tests benchmarks
	$(BIN)/ruff format --check hub projections consumers demo cli tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# Speed is measured here, never asserted in tests: figures go to docs/benchmarks.md.
# `make bench` is the full run (about an hour); `make bench-quick` the same stages in minutes.
bench: $(STAMP) kafka-jars postgres
	$(BIN)/python benchmarks/run.py

bench-quick: $(STAMP) kafka-jars postgres
	$(BIN)/python benchmarks/run.py --quick

clean:
	-$(BIN)/hub stack down
	-$(BIN)/hub kafka stop
	rm -rf .hub

distclean: clean
	rm -rf $(VENV)
