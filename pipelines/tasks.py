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

from pipelines import catalog, features, ingest, lake, training
from pipelines.dates import Interval, as_date
from pipelines.settings import get_settings
from pipelines.sources import source_from_settings
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


def validate_and_publish(context: Mapping[str, Any]) -> dict[str, Any]:
    run = RunContext.from_airflow(context)
    settings = get_settings()
    bounds = RowCountBounds(
        flights=(settings.min_flights_per_day, settings.max_flights_per_day),
        weather=(settings.min_weather_rows_per_day, settings.max_weather_rows_per_day),
    )
    summary = ingest.validate_and_publish(settings.lake_root, run.interval, run.run_id, bounds)
    return {
        "interval": str(run.interval),
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


def training_as_of(context: Mapping[str, Any]) -> date:
    """The day training data ends before (exclusive): the ``as_of`` param, else the interval end."""
    params = context.get("params") or {}
    value = params.get("as_of") or context.get("data_interval_end")
    if value is None:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date or set param 'as_of' "
            "(YYYY-MM-DD, the day after the last training day)"
        )
    return as_date(value)


def features_ready(context: Mapping[str, Any]) -> bool:
    """Sensor: are the features of the window's last day (``as_of`` - 1) built?"""
    last = training_as_of(context) - timedelta(days=1)
    ready = lake.has_partition(get_settings().lake_root, *training.FEATURE_TABLE, last)
    log.info("features.flight_features dt=%s %s", last, "is built" if ready else "not built yet")
    return ready


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
