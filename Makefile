# Two commands matter: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint servers bench clean docs schemas

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reconciler demo

# The documentation site on http://127.0.0.1:8000 (make test builds it with --strict).
docs: $(STAMP)
	$(BIN)/mkdocs serve

# The JSON Schemas of the two config files, generated from the models (a test compares them).
schemas: $(STAMP)
	$(BIN)/reconciler schema bundle > docs/schemas/bundle.schema.json
	$(BIN)/reconciler schema targets > docs/schemas/targets.schema.json

# Debian packages for the real servers the integration tests start (nginx for POPs).
servers:
	@bash tests/servers/install.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: $(STAMP) servers lint
	$(BIN)/python -m pytest -q

bench: $(STAMP) servers
	$(BIN)/python -m tests.bench.bench_audit
	$(BIN)/python -m tests.bench.bench_fleet
	$(BIN)/python -m tests.bench.bench_history
	$(BIN)/python -m tests.bench.bench_rollback
	$(BIN)/python -m tests.bench.bench_detection
	$(BIN)/python -m tests.bench.bench_scale
	$(BIN)/python -m tests.bench.bench_memory
	$(BIN)/python -m tests.bench.bench_switch
	$(BIN)/python -m tests.bench.bench_judge
	$(BIN)/python -m tests.bench.bench_devices
	$(BIN)/python -m tests.bench.bench_canary_flip

clean:
	rm -rf $(VENV) .reconciler .pytest_cache .ruff_cache
