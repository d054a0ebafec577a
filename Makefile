# bandsync: `make run` serves the API (and a worker) on http://127.0.0.1:8000; `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help install services run worker demo migrate test proof fuzz lint typecheck openapi openapi-check dockerfile-lint bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(INSTALLED): requirements.lock requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "bandsync needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

install: $(INSTALLED) ## create .venv with the locked dependencies and the bandsync command

services: ## make sure PostgreSQL and Redis answer (starts the local ones if stopped)
	@bash scripts/ensure-services.sh

run: install services ## migrate, then serve the API on :8000 with a worker
	@bash scripts/run-dev.sh

worker: install ## run an arq worker in the foreground
	$(BIN)/arq workers.settings.WorkerSettings

demo: migrate ## walk through onboarding against the sandbox, printing what the admin would see
	$(BIN)/bandsync demo

migrate: install services ## create the database if missing and migrate it to head
	$(BIN)/bandsync create-db
	$(BIN)/alembic upgrade head

lint: install ## ruff format check, ruff lint, and the import contracts (imports run downhill only)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: install ## mypy, strict
	$(BIN)/mypy

dockerfile-lint: install ## hadolint the Dockerfile
	$(BIN)/hadolint Dockerfile

openapi: install ## regenerate openapi/openapi.json
	$(BIN)/bandsync openapi

openapi-check: install ## fail when openapi/openapi.json is stale
	$(BIN)/bandsync openapi --check

test: install services lint typecheck dockerfile-lint openapi-check ## everything CI checks, then the test suite
	$(BIN)/pytest

proof: install services ## the stress proof: property test (500 examples), faults, restarts, concurrency; prints counts
	BANDSYNC_PROOF_EXAMPLES=$${BANDSYNC_PROOF_EXAMPLES:-500} $(BIN)/pytest tests/proof -m "proof or not proof" -p no:cacheprovider

FUZZ_VENV := .venv-fuzz

$(FUZZ_VENV)/.installed: requirements-fuzz.lock
	@test -x $(FUZZ_VENV)/bin/python || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-fuzz.lock
	@touch $@

fuzz: install services $(FUZZ_VENV)/.installed ## schemathesis against a live local API: no 5xx, responses match openapi.json
	$(BIN)/python scripts/fuzz.py

bench: install services ## run the benchmarks and print their figures
	$(BIN)/python -m bench.roster_import
	$(BIN)/python -m bench.fetch
	$(BIN)/python -m bench.matching --seeds 20
	$(BIN)/python -m bench.nightly --schools 200
	$(BIN)/python -m bench.webhook_intake --rate 200 --seconds 30
	$(BIN)/python -m bench.api_latency --requests 200

lock: install ## re-resolve the lock files (versions and hashes, no download addresses)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-header --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev -c requirements.lock --python-version 3.11 --generate-hashes --no-header --quiet -o requirements-dev.lock
	$(BIN)/uv pip compile scripts/fuzz-requirements.in --python-version 3.11 --generate-hashes --no-header --quiet -o requirements-fuzz.lock

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) $(FUZZ_VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
