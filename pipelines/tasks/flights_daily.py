"""Task adapters of the ``flights_daily`` DAG: extract -> validate_and_publish -> build_features."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pipelines.features.build import build_flight_features
from pipelines.history import OVERRIDE_PARAM
from pipelines.ingest import extract as ingest_extract
from pipelines.ingest import validate
from pipelines.ingest.sources import source_from_settings
from pipelines.settings import get_settings
from pipelines.tasks.common import RunContext, fails_fast


@fails_fast
def extract(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    summary = ingest_extract.extract(
        source_from_settings(settings), settings.lake_root, run.interval, run.run_id
    )
    return {"interval": str(run.interval), **asdict(summary)}


@fails_fast
def validate_and_publish(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    summary = validate.validate_and_publish(
        settings.lake_root, run.interval, run.run_id, settings.row_count_bounds()
    )
    return summary.overview(run.interval)


@fails_fast
def build_features(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    built = build_flight_features(
        settings.lake_root,
        settings.sql_root,
        run.interval,
        run.run_id,
        history_start=settings.first_history_day,
        allow_incomplete_history=bool((context.get("params") or {}).get(OVERRIDE_PARAM)),
    )
    return {"interval": str(run.interval), "rows_per_day": built.rows_per_day}
