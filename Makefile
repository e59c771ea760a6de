# Nightshift: `make help` lists the targets. Two commands do all the set-up on a fresh machine:
#   make demo   # install, run the data path and training through Airflow, print a summary
#   make test   # install, then the whole test suite (unit, DAG integrity, integration)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo, through Airflow's scheduler (`nightshift demo` starts and stops it): flights_daily
# for DEMO_START..DEMO_END (exclusive), one coarse run and then a nightly run for each of the last
# DEMO_NIGHTLY_DAYS days; training as of DEMO_TRAIN_AS_OF on the 59 days of January-February
# (holdout: the last 14); scoring from DEMO_TRAIN_AS_OF through DEMO_END (one coarse run, then
# the last night's run), monitored day by day.
DEMO_START ?= 2013-01-01
DEMO_END ?= 2013-03-15
DEMO_NIGHTLY_DAYS ?= 4
DEMO_TRAIN_AS_OF ?= 2013-03-01
DEMO_TRAIN_CONF ?= {"window_days": 59}
# The schedule window of the demo's Airflow (and of `make airflow` after it) ends on the last day
# with data, so unpausing a DAG in the UI schedules no day the landing files do not have.
demo airflow screenshots: export NIGHTSHIFT_SCHEDULE_END ?= 2013-03-14
# `airflow standalone` spawns `airflow` by name: the venv's bin must be on PATH.
AIRFLOW_ENV = export PATH="$(CURDIR)/$(BIN):$$PATH" && eval "$$($(BIN)/nightshift airflow-env)"

.PHONY: help install demo test test-unit lint format airflow mlflow warehouse bench clean screenshots

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	@touch $@

install: $(STAMP) ## Create .venv and install pinned dependencies (skipped when nothing changed)

demo: $(STAMP) ## Data path, training, scoring and monitoring through Airflow on Jan-Mar 2013
	$(BIN)/nightshift generate-landing --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/nightshift demo --start $(DEMO_START) --end $(DEMO_END) \
		--nightly-days $(DEMO_NIGHTLY_DAYS) --train-as-of $(DEMO_TRAIN_AS_OF) --train-conf '$(DEMO_TRAIN_CONF)'
	$(BIN)/nightshift summary --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/nightshift models
	$(BIN)/nightshift scores --day $(DEMO_END) --start $(DEMO_TRAIN_AS_OF)

test: $(STAMP) ## Run every test (PostgreSQL must be up on 127.0.0.1:5432)
	$(BIN)/python -m pytest

test-unit: $(STAMP) ## The fast feedback loop: unit, layering and DAG tests (no model fits, no services)
	$(BIN)/python -m pytest -m "not integration" tests/unit tests/dags tests/test_layering.py

lint: $(STAMP) ## ruff (check and format), sqlfluff over sql/, mypy over pipelines/ (fails, never fixes)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

airflow: $(STAMP) ## Start Airflow (standalone: UI on http://localhost:8080) on the embedded default
	$(AIRFLOW_ENV) && airflow standalone

mlflow: $(STAMP) ## MLflow UI on http://127.0.0.1:5000 over the local store (runs, metrics, plots)
	@echo "MLflow UI, classic view: http://127.0.0.1:5000/#/models/flight_delay?workflowType=machine_learning"
	eval "$$($(BIN)/nightshift mlflow-env)" && $(BIN)/mlflow ui --backend-store-uri "$$MLFLOW_TRACKING_URI" \
		--default-artifact-root "$$NIGHTSHIFT_MLFLOW_ARTIFACT_URI" --host 127.0.0.1 --port 5000

warehouse: $(STAMP) ## Rebuild data/warehouse.duckdb from the lake
	$(BIN)/nightshift warehouse

bench: $(STAMP) ## Stage seconds and peak memory at 1x-10,000x a real day (ARGS=--quick: 1x-100x, minutes)
	$(BIN)/python -m benchmarks.bench $(ARGS)

clean: ## Delete generated data (lake, landing files, warehouse, Airflow home, MLflow store)
	rm -rf data

screenshots: $(STAMP) ## After `make demo`: open the Airflow log, the report and the model card in headless Chromium, keep PNGs
	$(BIN)/python docs/screenshots.py
