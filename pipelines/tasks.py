"""Entry points of the DAG tasks: the thin adapter between an Airflow run and the stages.

Each function takes the task's context (a plain mapping: no Airflow import here), resolves the data
interval and run id, reads settings, calls one stage and returns a small JSON-able summary for XCom.
Tests call these with a dict; the DAGs call them with the real context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from pipelines import catalog, features, ingest, lake, monitoring, scoring, training
from pipelines.dates import Interval, as_date
from pipelines.settings import get_settings
from pipelines.sources import source_from_settings
from pipelines.sources.schemas import NEXT_DAY_TABLES
from pipelines.validation import RowCountBounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    interval: Interval
    run_id: str

    @classmethod
    def from_airflow(cls, context: Mapping[str, Any]) -> RunContext:
        """The run's interval: the ``start``/``end`` params if given, else the data interval.

        Params let one run cover a coarse range (a month) and give dates to runs that have no data
        interval (triggered with ``logical_date: null`` or by an asset event).
        """
        params = context.get("params") or {}
        if bool(params.get("start")) != bool(params.get("end")):
            raise ValueError(
                "set both params 'start' and 'end' (YYYY-MM-DD, end exclusive) or neither; "
                f"got start={params.get('start')!r}, end={params.get('end')!r}"
            )
        start = params.get("start") or context.get("data_interval_start")
        end = params.get("end") or context.get("data_interval_end")
        if start is None or end is None:
            raise ValueError(
                "this run has no data interval: trigger it with a logical date, or set both "
                "params 'start' and 'end' (YYYY-MM-DD, end exclusive)"
            )
        return cls(Interval(as_date(start), as_date(end)), str(context["run_id"]))


def extract(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    summary = ingest.extract(
        source_from_settings(settings), settings.lake_root, run.interval, run.run_id
    )
    return {"interval": str(run.interval), **asdict(summary)}


def _bounds(settings) -> RowCountBounds:
    return RowCountBounds(
        flights=(settings.min_flights_per_day, settings.max_flights_per_day),
        weather=(settings.min_weather_rows_per_day, settings.max_weather_rows_per_day),
    )


def _validation_summary(interval: Interval, summary) -> dict[str, Any]:
    return {
        "interval": str(interval),
        "days": [
            {
                "day": d.day,
                "rows": d.rows,
                "quarantined": d.quarantined,
                "warnings": len(d.warnings),
            }
            for d in summary.days
        ],
    }


def validate_and_publish(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    summary = ingest.validate_and_publish(
        settings.lake_root, run.interval, run.run_id, _bounds(settings)
    )
    return _validation_summary(run.interval, summary)


def build_features(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    built = features.build_flight_features(
        settings.lake_root, settings.sql_root, run.interval, run.run_id
    )
    return {"interval": str(run.interval), "rows_per_day": built.rows_per_day}


def refresh_warehouse(context: Mapping[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    summary = catalog.build_warehouse(
        settings.lake_root, settings.sql_root, settings.warehouse_path
    )
    return {"warehouse": str(settings.warehouse_path), **asdict(summary)}


def _as_of_from_events(context: Mapping[str, Any]) -> str | None:
    """The latest ``as_of`` in the extras of the asset events that triggered this run, if any."""
    events = context.get("triggering_asset_events") or {}
    found = [
        (getattr(e, "extra", None) or {}).get("as_of") for queue in events.values() for e in queue
    ]
    found = [f for f in found if f]
    return max(found) if found else None


def training_as_of(context: Mapping[str, Any]) -> date:
    """The day training data ends before (exclusive): the ``as_of`` param, else the ``as_of`` of
    the model alert that triggered the run, else the interval end."""
    params = context.get("params") or {}
    value = params.get("as_of") or _as_of_from_events(context) or context.get("data_interval_end")
    if value is None:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date or set param 'as_of' "
            "(YYYY-MM-DD, the day after the last training day)"
        )
    return as_date(value)


def _features_built(day: date) -> bool:
    """Has flights_daily built ``features.flight_features`` of ``day``? (what the sensors poke)"""
    ready = lake.has_partition(get_settings().lake_root, *training.FEATURE_TABLE, day)
    log.info("features.flight_features dt=%s %s", day, "is built" if ready else "not built yet")
    return ready


def features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: are the features of the window's last day (``as_of`` - 1) built?"""
    return _features_built(training_as_of(context) - timedelta(days=1))


def train(context: Mapping[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    config = training.TrainingConfig.from_params(context.get("params") or {})
    result = training.train_challenger(
        settings.lake_root,
        settings.mlflow_tracking_uri,
        settings.mlflow_artifact_root,
        training_as_of(context),
        config,
        str(context["run_id"]),
    )
    return result.summary()


def evaluate_and_promote(context: Mapping[str, Any], trained: Mapping[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    config = training.TrainingConfig.from_params(context.get("params") or {})
    result = training.evaluate_and_promote(
        settings.lake_root,
        settings.mlflow_tracking_uri,
        str(trained["version"]),
        Interval.of(*trained["holdout"]),
        trained["as_of"],
        config.promotion_margin,
        str(context["run_id"]),
    )
    return result.summary()


# --- Scoring DAG ----------------------------------------------------------------------------------


def _next_days(interval: Interval) -> Interval:
    """The days the next-day feeds of ``interval`` describe: each day's following day."""
    return Interval(interval.start + timedelta(days=1), interval.end + timedelta(days=1))


def extract_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = ingest.extract(
        source_from_settings(settings), settings.lake_root, days, run.run_id, NEXT_DAY_TABLES
    )
    return {"interval": str(days), **asdict(summary)}


def validate_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    days = _next_days(run.interval)
    summary = ingest.validate_and_publish(
        settings.lake_root,
        days,
        run.run_id,
        _bounds(settings),
        tables=NEXT_DAY_TABLES,
        results_table=ingest.NEXT_DAY_RESULTS,
    )
    return _validation_summary(days, summary)


def day_features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: has flights_daily built the features (the outcomes) of the interval's last day?"""
    return _features_built(RunContext.from_airflow(context).interval.end - timedelta(days=1))


def score_next_day(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    policy = (context.get("params") or {}).get("model_version_policy") or scoring.CURRENT_CHAMPION
    scored = [
        asdict(
            scoring.score_day(
                settings.lake_root,
                settings.sql_root,
                settings.mlflow_tracking_uri,
                day,
                run.run_id,
                policy,
            )
        )
        for day in _next_days(run.interval).days()
    ]
    return {"policy": policy, "days": scored}


def publish_predictions(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    if settings.publish_dsn is None:
        log.info("NIGHTSHIFT_PUBLISH_DSN is not set: predictions stay in the lake")
        return {"published": False, "reason": "NIGHTSHIFT_PUBLISH_DSN not set"}
    from pipelines.publish import publish_predictions as publish

    dsn = settings.publish_dsn.get_secret_value()
    done = []
    for day in _next_days(run.interval).days():
        predictions = lake.read_partition(settings.lake_root, *scoring.PREDICTIONS, day)
        done.append(asdict(publish(dsn, settings.publish_schema, day, predictions)))
    return {"published": True, "days": done}


def _thresholds(settings) -> monitoring.Thresholds:
    return monitoring.Thresholds(
        min_roc_auc=settings.monitor_min_roc_auc,
        max_brier=settings.monitor_max_brier,
        max_psi=settings.monitor_max_psi,
        max_missing_increase=settings.monitor_max_missing_increase,
        min_labelled_flights=settings.monitor_min_labelled_flights,
    )


def monitor(context: Mapping[str, Any]) -> dict[str, Any]:
    """Realized performance and drift of each day of the interval, then the HTML report."""
    from pipelines.monitoring_report import write_report

    run = RunContext.from_airflow(context)
    settings = get_settings()
    thresholds = _thresholds(settings)
    days = [
        monitoring.monitor_day(
            settings.lake_root, settings.mlflow_tracking_uri, day, run.run_id, thresholds
        )
        for day in run.interval.days()
    ]
    alerts = [a for d in days for a in d.alerts]
    last = run.interval.end - timedelta(days=1)
    report = write_report(settings.lake_root, settings.reports_root, last, alerts, thresholds)
    log.info("monitoring report: %s (also %s)", report, report.with_name("latest.html"))
    return {
        "interval": str(run.interval),
        "alerts": alerts,
        "report": str(report),
        "days": [asdict(d) for d in days],
    }


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
