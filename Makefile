# Every target bootstraps its own virtualenv (.venv) from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit up up-emulators bench bench-cold-start bench-pipeline bench-emulator bench-marks paper-bybit paper-binance infra-check clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Stratus needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## replay examples/signals.jsonl end to end on the embedded stack
	$(BIN)/stratus demo

test: lint typecheck infra-check $(STAMP)  ## everything CI runs
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)  ## fast tier only
	$(BIN)/pytest tests/unit

infra-check: $(STAMP)  ## terraform fmt + checkov (own virtualenv)
	@if [ -x scripts/infra_check.sh ]; then scripts/infra_check.sh; fi

up: $(STAMP)  ## manager API + webhook on http://127.0.0.1:8080 (embedded default)
	$(BIN)/stratus up

# DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stratus make up-emulators for PostgreSQL.
up-emulators: $(STAMP)  ## every function on the Pub/Sub + Firestore emulators (needs gcloud)
	$(BIN)/stratus up --emulators $(if $(DATABASE_URL),--database-url $(DATABASE_URL))

bench: bench-pipeline bench-cold-start bench-marks  ## every benchmark (the manager's needs PostgreSQL: make bench-manager)

bench-cold-start: $(STAMP)  ## execute_order's cold start vs the same handler on naive ccxt
	$(BIN)/python -m bench.cold_start

bench-pipeline: $(STAMP)  ## signals/s and accepted->acknowledged p50/p99, embedded default
	$(BIN)/python -m bench.pipeline

bench-emulator: $(STAMP)  ## accepted->acknowledged on the emulator stack vs embedded, and memory per function
	$(BIN)/python -m bench.emulator_latency

bench-marks: $(STAMP)  ## marks streamed over WebSocket vs polled over REST, on the paper Bybit
	$(BIN)/python -m bench.marks

paper-bybit: $(STAMP)  ## the paper Bybit v5 API on http://127.0.0.1:8901 (emulator stack)
	$(BIN)/python -m stratus.adapters.paper.bybit_http --port 8901

paper-binance: $(STAMP)  ## the paper Binance USDⓈ-M futures API on http://127.0.0.1:8902
	$(BIN)/python -m stratus.adapters.paper.binance_http --port 8902

clean:
	rm -rf $(VENV) .venv-checkov .stratus .pytest_cache .mypy_cache .ruff_cache

db-upgrade: $(STAMP)  ## migrate the system of record (STRATUS_DATABASE_URL / Cloud SQL)
	$(BIN)/stratus db upgrade

bench-manager: $(STAMP)  ## manager API latencies and fill throughput (SQLite and PostgreSQL)
	$(BIN)/python -m bench.manager_api
