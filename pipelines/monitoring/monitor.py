"""Monitoring: how good were the predictions for a day, and do its inputs still look like training?

Once day D's actuals are published (the run for D), two questions get a partition each:

* ``monitoring.model_performance_daily`` (one row) and ``monitoring.calibration_by_band_daily``
  (one row per risk band): the predictions made for D the evening before, joined with D's
  outcomes (:mod:`pipelines.monitoring.performance`).
* ``monitoring.feature_drift_daily`` (one row per feature): the population stability index (PSI)
  of the features of the trailing ``DRIFT_WINDOW_DAYS`` days ending on D against the reference
  profile logged with the model's training run (:mod:`pipelines.drift`). A window, not the day
  alone: many features are day-level context (weekday, yesterday's delay rate at the origin, the
  weather), constant across a day's flights, so one day is a single point against a distribution
  and its PSI means nothing.

Thresholds come from settings; crossings become alert messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

import models.flight_delay as fd
from pipelines import tables
from pipelines.drift import PROFILE_ARTIFACT, drift_rows
from pipelines.errors import MissingUpstreamPartition
from pipelines.monitoring.performance import alerts, realized_performance
from pipelines.settings import Thresholds
from pipelines.storage import lake, registry

log = logging.getLogger(__name__)

DRIFT_WINDOW_DAYS = 28  # as long as the longest trailing feature window


def read_table(lake_root: Path, table: tables.LakeTable, day: date) -> pd.DataFrame | None:
    if not lake.has_partition(lake_root, *table.address, day):
        return None
    return lake.read_partition(lake_root, *table.address, day).to_pandas()


SCHEMAS = {
    tables.MODEL_PERFORMANCE_DAILY: pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("flights_scored", pa.int64()),
            ("flights_labelled", pa.int64()),
            ("roc_auc", pa.float64()),
            ("pr_auc", pa.float64()),
            ("brier", pa.float64()),
            ("log_loss", pa.float64()),
            ("predicted_delay_rate", pa.float64()),
            ("actual_delay_rate", pa.float64()),
            ("in_sample", pa.bool_()),
        ]
    ),
    tables.CALIBRATION_BY_BAND_DAILY: pa.schema(
        [
            ("model_version", pa.string()),
            ("risk_band", pa.string()),
            ("flights_labelled", pa.int64()),
            ("mean_probability", pa.float64()),
            ("actual_delay_rate", pa.float64()),
        ]
    ),
    tables.FEATURE_DRIFT_DAILY: pa.schema(
        [
            ("model_version", pa.string()),
            ("feature", pa.string()),
            ("psi", pa.float64()),
            ("reference_missing_share", pa.float64()),
            ("current_missing_share", pa.float64()),
            ("day_psi", pa.float64()),
            ("day_missing_share", pa.float64()),
            ("drifted", pa.bool_()),
        ]
    ),
}


def write_rows(
    lake_root: Path, where: tables.LakeTable, day: date, rows: list[dict], run_id: str
) -> int:
    """Replace the day's partition of a monitoring table with ``rows`` (typed, even when empty)."""
    with lake.transaction(lake_root, run_id) as tx:
        return stage_rows(tx, where, day, rows)


def stage_rows(tx: lake.Transaction, where: tables.LakeTable, day: date, rows: list[dict]) -> int:
    """Add the day's rows of a monitoring table to ``tx`` (typed, even when empty)."""
    table = pa.Table.from_pylist(rows, schema=SCHEMAS[where])
    return tx.write(*where.address, day, table).rows


@dataclass(frozen=True)
class MonitorSummary:
    day: str
    performance: dict[str, Any] | None
    drift_top: list[dict[str, Any]]
    alerts: list[str]
    model_version: str | None


def _reference_profile(tracking_uri: str, version: str) -> dict[str, Any] | None:
    import mlflow.artifacts

    client = registry.client(tracking_uri)
    run_id = client.get_model_version(fd.MODEL_NAME, version).run_id
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except Exception as exc:  # an older version logged without a profile: no drift, say why
        log.warning("model v%s has no %s (%s): drift not computed", version, PROFILE_ARTIFACT, exc)
        return None


def monitor_day(
    lake_root: Path, tracking_uri: str, day: date, run_id: str, thresholds: Thresholds
) -> MonitorSummary:
    """Realized performance of the predictions for ``day`` and drift of its features.

    Needs ``features.flight_features`` of ``day`` (its outcomes). Days that were never scored get
    empty partitions (monitored, nothing to measure) and a log line saying so.
    """
    outcomes = read_table(lake_root, tables.FLIGHT_FEATURES, day)
    if outcomes is None:
        raise MissingUpstreamPartition(
            f"features.flight_features has no partition for {day}: monitoring needs the day's "
            "outcomes (flights_daily builds them)"
        )
    window = [outcomes] + [
        read_table(lake_root, tables.FLIGHT_FEATURES, day - timedelta(days=back))
        for back in range(1, DRIFT_WINDOW_DAYS)
    ]
    recent = pd.concat([w for w in window if w is not None], ignore_index=True)
    predictions = read_table(lake_root, tables.PREDICTIONS, day)
    performance, bands, version = None, [], None
    if predictions is None or predictions.empty:
        log.warning("no predictions were made for %s: nothing to measure", day)
    else:
        measured = realized_performance(predictions, outcomes)
        performance = measured.row
        version = max(performance["model_version"].split(","), key=int)
        bands = [{"model_version": performance["model_version"], **b} for b in measured.bands]
    if version is None:
        champion = registry.get_champion(registry.client(tracking_uri), fd.MODEL_NAME)
        version = None if champion is None else str(champion.version)
    profile = None if version is None else _reference_profile(tracking_uri, version)
    drift = [] if profile is None else drift_rows(profile, recent)
    today = {} if profile is None else {r["feature"]: r for r in drift_rows(profile, outcomes)}
    for r in drift:
        own = today[r["feature"]]
        # The window smooths day-level context; the day's own numbers catch a feed that broke today.
        r.update(
            model_version=version,
            day_psi=own["psi"],
            day_missing_share=own["current_missing_share"],
            drifted=r["psi"] > thresholds.max_psi
            or own["current_missing_share"] - r["reference_missing_share"]
            > thresholds.max_missing_increase,
        )
    found = alerts(day, performance, drift, thresholds)
    # The day's three monitoring partitions become visible together, in one commit.
    with lake.transaction(lake_root, run_id) as tx:
        stage_rows(tx, tables.MODEL_PERFORMANCE_DAILY, day, [performance] if performance else [])
        stage_rows(tx, tables.CALIBRATION_BY_BAND_DAILY, day, bands)
        stage_rows(tx, tables.FEATURE_DRIFT_DAILY, day, drift)
    for message in found:
        log.warning("MONITORING ALERT %s", message)
    return MonitorSummary(day.isoformat(), performance, drift[:5], found, version)
