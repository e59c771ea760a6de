"""Task adapters of the ``flights_daily`` DAG: extract -> validate_and_publish -> build_features."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from pipelines.dates import Interval
from pipelines.errors import InvalidRunParams
from pipelines.features.build import build_flight_features
from pipelines.history import OVERRIDE_PARAM
from pipelines.ingest import extract as ingest_extract
from pipelines.ingest import validate
from pipelines.ingest.sources import source_from_settings
from pipelines.settings import get_settings
from pipelines.tasks.common import RunContext, announces, fails_fast, param_date


@fails_fast
def plan_chunks(context: Mapping[str, Any]) -> list[dict[str, str]]:
    """The run's interval in chunks of ``ingest_chunk_days``: what extract and validation map over.
    A nightly run is one chunk of one day."""
    run = RunContext.from_airflow(context)
    chunks = run.interval.chunks(get_settings().ingest_chunk_days)
    return [{"start": c.start.isoformat(), "end": c.end.isoformat()} for c in chunks]


def chunk_label(chunk: Mapping[str, str]) -> str:
    """How a mapped task names its chunk in the grid: ``2013-02-01..2013-02-28`` (inclusive)."""
    try:
        last = param_date("end", chunk.get("end")) - timedelta(days=1)
    except InvalidRunParams:
        return str(chunk.get("start"))
    return f"{chunk.get('start')}..{last}" if str(last) != chunk.get("start") else str(last)


def _chunk_run(context: Mapping[str, Any], chunk: Mapping[str, str] | None) -> RunContext:
    """The run, narrowed to ``chunk`` (which must lie inside the run's interval)."""
    run = RunContext.from_airflow(context)
    if chunk is None:
        return run
    part = Interval(param_date("start", chunk.get("start")), param_date("end", chunk.get("end")))
    if part.start < run.interval.start or part.end > run.interval.end:
        raise InvalidRunParams(f"chunk {part} is not inside the run's interval {run.interval}")
    return RunContext(part, run.run_id)


@fails_fast
def extract(context: Mapping[str, Any], chunk: Mapping[str, str] | None = None) -> dict[str, Any]:
    run = _chunk_run(context, chunk)
    settings = get_settings()
    summary = ingest_extract.extract(
        source_from_settings(settings), settings.lake_root, run.interval, run.run_id
    )
    return {"interval": str(run.interval), **asdict(summary)}


@announces
@fails_fast
def validate_and_publish(
    context: Mapping[str, Any], chunk: Mapping[str, str] | None = None
) -> dict[str, Any]:
    run = _chunk_run(context, chunk)
    settings = get_settings()
    summary = validate.validate_and_publish(
        settings.lake_root,
        run.interval,
        run.run_id,
        settings.row_count_bounds(),
        resources=settings.duckdb_resources(),
    )
    return summary.overview(run.interval)


@announces
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
        resources=settings.duckdb_resources(),
    )
    return {
        "interval": str(run.interval),
        "rows_per_day": built.rows_per_day,
        "history_counts": built.history_counts,
    }
