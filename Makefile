# Nightshift: `make help` lists the targets. Two commands do all the set-up on a fresh machine:
#   make demo   # install, generate landing files, run flights_daily through Airflow, print a summary
#   make test   # install, then the whole test suite (unit, DAG integrity, integration)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_START ?= 2013-01-01
DEMO_END ?= 2013-01-15
# `airflow standalone` spawns `airflow` by name: the venv's bin must be on PATH.
AIRFLOW_ENV = export PATH="$(CURDIR)/$(BIN):$$PATH" && eval "$$($(BIN)/nightshift airflow-env)"

.PHONY: help install demo test lint format airflow warehouse clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	@touch $@

install: $(STAMP) ## Create .venv and install pinned dependencies (skipped when nothing changed)

demo: $(STAMP) ## Run the nightly data path through Airflow for DEMO_START..DEMO_END and summarise
	$(BIN)/nightshift generate-landing --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/nightshift run-dag flights_daily --start $(DEMO_START) --end $(DEMO_END) > data/demo-airflow.log 2>&1 \
		|| { tail -50 data/demo-airflow.log; echo "demo failed: full log in data/demo-airflow.log"; exit 1; }
	@grep -E '^flights_daily ' data/demo-airflow.log || true
	$(BIN)/nightshift summary --start $(DEMO_START) --end $(DEMO_END)

test: $(STAMP) ## Run every test (PostgreSQL must be up on 127.0.0.1:5432)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff check and format check (fails, never fixes)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

airflow: $(STAMP) ## Start Airflow (standalone: UI on http://localhost:8080) on the embedded default
	$(AIRFLOW_ENV) && airflow standalone

warehouse: $(STAMP) ## Rebuild data/warehouse.duckdb from the lake
	$(BIN)/nightshift warehouse

clean: ## Delete generated data (lake, landing files, warehouse, Airflow home, MLflow store)
	rm -rf data
