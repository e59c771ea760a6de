"""Task adapters of the ``flight_delay_scoring`` DAG: next-day feeds -> score D+1 -> publish;
monitor D -> alert."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from pipelines import tables
from pipelines.dates import Interval
from pipelines.history import OVERRIDE_PARAM
from pipelines.ingest import extract as ingest_extract
from pipelines.ingest import validate
from pipelines.ingest.sources import source_from_settings
from pipelines.monitoring.monitor import monitor_day
from pipelines.monitoring.report import write_report
from pipelines.serving import scoring
from pipelines.settings import get_settings
from pipelines.storage import lake
from pipelines.tasks.common import RunContext, fails_fast, features_built

log = logging.getLogger(__name__)


def _next_days(interval: Interval) -> Interval:
    """The days the next-day feeds of ``interval`` describe: each day's following day."""
    return Interval(interval.start + timedelta(days=1), interval.end + timedelta(days=1))


@fails_fast
def extract_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = ingest_extract.extract(
        source_from_settings(settings), settings.lake_root, days, run.run_id, tables.NEXT_DAY_TABLES
    )
    return {"interval": str(days), **asdict(summary)}


@fails_fast
def validate_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = validate.validate_and_publish(
        settings.lake_root,
        days,
        run.run_id,
        settings.row_count_bounds(),
        source_tables=tables.NEXT_DAY_TABLES,
        results=tables.NEXT_DAY_VALIDATION_RESULTS,
        resources=settings.duckdb_resources(),
    )
    return summary.overview(days)


def day_features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: has flights_daily built the features (the outcomes) of the interval's last day?"""
    return features_built(RunContext.from_airflow(context).interval.end - timedelta(days=1))


@fails_fast
def score_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    params = context.get("params") or {}
    policy = params.get("model_version_policy") or scoring.CURRENT_CHAMPION
    scored = [
        asdict(
            scoring.score_day(
                settings.lake_root,
                settings.sql_root,
                settings.mlflow_tracking_uri,
                day,
                run.run_id,
                policy,
                history_start=settings.first_history_day,
                allow_incomplete_history=bool(params.get(OVERRIDE_PARAM)),
                resources=settings.duckdb_resources(),
            )
        )
        for day in _next_days(run.interval).days()
    ]
    return {"policy": policy, "days": scored}


@fails_fast
def publish_predictions(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    if settings.publish_dsn is None:
        log.info("NIGHTSHIFT_PUBLISH_DSN is not set: predictions stay in the lake")
        return {"published": False, "reason": "NIGHTSHIFT_PUBLISH_DSN not set"}
    from pipelines.serving.publish import publish_predictions as publish  # psycopg: only here

    dsn = settings.publish_dsn.get_secret_value()
    done = []
    for day in _next_days(run.interval).days():
        # The partition file, read a batch at a time: a large day never sits in memory.
        with lake.open_partition(settings.lake_root, *tables.PREDICTIONS.address, day) as scored:
            done.append(asdict(publish(dsn, settings.publish_schema, day, scored)))
    return {"published": True, "days": done}


@fails_fast
def monitor(context: Mapping[str, Any]) -> dict[str, Any]:
    """Realized performance and drift of each day of the interval, then the HTML report."""
    run = RunContext.from_airflow(context)
    settings = get_settings()
    thresholds = settings.thresholds()
    days = [
        monitor_day(settings.lake_root, settings.mlflow_tracking_uri, day, run.run_id, thresholds)
        for day in run.interval.days()
    ]
    alerts = [a for d in days for a in d.alerts]
    last = run.interval.end - timedelta(days=1)
    report = write_report(
        settings.lake_root,
        settings.sql_root,
        settings.reports_root,
        last,
        alerts,
        thresholds,
        resources=settings.duckdb_resources(),
    )
    log.info("monitoring report: %s (also %s)", report, report.with_name("latest.html"))
    return {
        "interval": str(run.interval),
        "alerts": alerts,
        "report": str(report),
        "days": [asdict(d) for d in days],
    }


@fails_fast
def model_alert(context: Mapping[str, Any], monitored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The extra of the model-alert asset event, or None when no threshold was crossed.

    ``as_of`` is the day after the monitored interval: a training run triggered by the alert
    trains on data up to and including the day that raised it.
    """
    if not monitored.get("alerts"):
        return None
    run = RunContext.from_airflow(context)
    for message in monitored["alerts"]:
        log.warning("MODEL ALERT: %s", message)
    return {"as_of": str(run.interval.end), "alerts": list(monitored["alerts"])}
