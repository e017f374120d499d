# Two commands for a new user: `make demo` and `make test`.
# Each builds the virtual environment in .venv from the lock file when needed.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export LEADBILL_DATABASE_URL ?= sqlite:///leadbill.db

.PHONY: demo test lint typecheck venv lock bench clean openapi

$(BIN)/leadbill: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(BIN)/leadbill

venv: $(BIN)/leadbill

demo: venv
	rm -f leadbill.db leadbill.db-wal leadbill.db-shm
	$(BIN)/leadbill migrate
	@# In a terminal the demo ends by serving the portal until Ctrl-C; a script or CI never waits.
	@if [ -t 0 ] && [ -t 1 ]; then \
		echo "$(BIN)/leadbill demo --serve"; $(BIN)/leadbill demo --serve; \
	else \
		echo "$(BIN)/leadbill demo"; $(BIN)/leadbill demo; \
	fi

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2 -q tests

# Regenerate the committed OpenAPI document (tests/api/test_openapi.py fails when stale).
openapi: venv
	$(BIN)/leadbill openapi > docs/openapi.json

bench: venv
	$(BIN)/python bench/ingest_and_bill.py

# Regenerate the lock file from pyproject.toml (needs network access to PyPI).
lock:
	$(BIN)/python -m uv pip compile pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 --output-file requirements.lock

clean:
	rm -rf $(VENV) leadbill.db leadbill.db-wal leadbill.db-shm
