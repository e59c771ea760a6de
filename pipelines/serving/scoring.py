"""Batch scoring: tomorrow's published schedule, scored by the champion, as a lake partition.

The run for day D (interval [D, D+1)) scores the flights of D+1. Their features are built by the
same SQL as the training features (``sql/features/flight_features.sql``), on a view of the lake
as it stood on the evening of D: actual flights and weather up to D, plus the next-day feeds of
D+1 (the published schedule and the weather forecast). Nothing of D+1's outcome exists yet, so
the label columns are null and no feature can leak; a backfill sees exactly what a nightly run saw.

Output: ``scores.flight_delay_predictions``, partition ``dt=D+1``, one row per scheduled flight,
stamped with the model name, version and MLflow run id and the pipeline run id. Rerunning
replaces the partition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

import models.flight_delay as fd
from pipelines import history, tables
from pipelines.errors import MissingUpstreamPartition, PermanentError
from pipelines.serving.schema import PREDICTION_SCHEMA
from pipelines.storage import lake, registry
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

log = logging.getLogger(__name__)

# The raw tables scoring sees "as of the evening before" (sql/serving/<table>_as_of.sql).
AS_OF_TABLES = ("flights", "weather")
# Which model scores a day: today's champion, or the one that was champion on the scored day.
CURRENT_CHAMPION = "current_champion"
CHAMPION_ON_DATE = "champion_on_date"
VERSION_POLICIES = (CURRENT_CHAMPION, CHAMPION_ON_DATE)


class ScoringInputMissing(MissingUpstreamPartition):
    """A next-day feed or the day's actuals are not published: nothing to score yet."""


class UnknownVersionPolicy(PermanentError, ValueError):
    pass


@dataclass(frozen=True)
class ScoreSummary:
    day: str
    rows: int
    model_version: str
    mlflow_run_id: str
    bands: dict[str, int]


def build_scoring_features(
    lake_root: Path,
    sql_root: Path,
    day: date,
    history_start: date,
    allow_incomplete_history: bool = False,
) -> pa.Table:
    """Features of the flights scheduled on ``day``, from what was known the evening before.

    Refused when a day of the 28-day history is missing or blocked (see :mod:`pipelines.history`),
    unless ``allow_incomplete_history``; the rows say how many days were missing.
    """
    before = day - timedelta(days=1)
    required = [
        (tables.raw("schedule"), day),
        (tables.raw("weather_forecast"), day),
        (tables.raw("flights"), before),
    ]
    missing = [
        f"{t} dt={d}" for t, d in required if not lake.has_partition(lake_root, *t.address, d)
    ]
    if missing:
        raise ScoringInputMissing(
            f"cannot score {day}: {', '.join(missing)} not published. The next-day feeds come from "
            "this DAG's extract_next_day/validate_next_day; the actuals from flights_daily."
        )
    found = history.require_complete(lake_root, [day], history_start, allow_incomplete_history)
    query = load_sql(sql_root, "features", "flight_features")
    with lake_connection(lake_root, sql_root) as con:
        # The lake as of the evening before `day` (the contract is in sql/serving/*_as_of.sql).
        window = {"first": day - timedelta(days=history.HISTORY_DAYS), "before": before, "day": day}
        for table in AS_OF_TABLES:  # names from this constant, never from callers; days bound
            as_of = load_sql(sql_root, "serving", table + "_as_of")
            con.execute("CREATE TABLE main." + table + "_as_of AS " + as_of, window)
            con.execute("CREATE OR REPLACE VIEW raw." + table + " AS FROM main." + table + "_as_of")
        features = con.sql(query, params={"feature_date": day}).to_arrow_table()
    return history.stamp(features, found[day])


def resolve_model(tracking_uri: str, day: date, policy: str = CURRENT_CHAMPION):
    """The ``ModelVersion`` that scores ``day`` under ``policy`` (raises NoChampionError)."""
    client = registry.client(tracking_uri)
    if policy == CURRENT_CHAMPION:
        return registry.require_champion(client, fd.MODEL_NAME)
    if policy == CHAMPION_ON_DATE:
        return registry.champion_on(client, fd.MODEL_NAME, day)
    raise UnknownVersionPolicy(
        f"model version policy must be one of {VERSION_POLICIES}; got {policy!r}"
    )


def predictions_table(features: pa.Table, probabilities, version) -> pa.Table:
    frame = features.select([*fd.KEY, "dest", "sched_dep_minute_of_day"]).to_pandas()
    minutes = frame.pop("sched_dep_minute_of_day").astype("int64")
    frame["scheduled_departure"] = pd.to_datetime(frame["flight_date"]) + pd.to_timedelta(
        minutes, unit="min"
    )
    frame["probability"] = probabilities
    frame["risk_band"] = [fd.risk_band(p) for p in probabilities]
    frame["model_name"] = fd.MODEL_NAME
    frame["model_version"] = str(version.version)
    frame["mlflow_run_id"] = version.run_id or ""
    trained = (version.tags or {}).get("data.as_of")
    frame["model_trained_as_of"] = date.fromisoformat(trained) if trained else None
    frame = frame.sort_values(["scheduled_departure", *fd.KEY[1:]], kind="stable")
    return pa.Table.from_pandas(
        frame[PREDICTION_SCHEMA.names], schema=PREDICTION_SCHEMA, preserve_index=False
    )


def score_day(
    lake_root: Path,
    sql_root: Path,
    tracking_uri: str,
    day: date,
    run_id: str,
    policy: str = CURRENT_CHAMPION,
    *,
    history_start: date,
    allow_incomplete_history: bool = False,
) -> ScoreSummary:
    """Score the flights of ``day``; replace ``scores.flight_delay_predictions`` dt=``day``."""
    version = resolve_model(tracking_uri, day, policy)
    features = build_scoring_features(
        lake_root, sql_root, day, history_start, allow_incomplete_history
    )
    model = registry.load_sklearn(fd.MODEL_NAME, version.version)
    probabilities = fd.predict(model, features.to_pandas())
    table = predictions_table(features, probabilities, version)
    # What the model saw and what it said become visible together, in one commit.
    with lake.transaction(lake_root, run_id) as tx:
        tx.write(*tables.SCORING_FEATURES.address, day, features)
        written = tx.write(*tables.PREDICTIONS.address, day, table)
    bands = {b: 0 for _, b in fd.RISK_BANDS}
    for band in table.column("risk_band").to_pylist():
        bands[band] += 1
    log.info(
        "scored %d flights of %s with %s v%s: %s",
        written.rows,
        day,
        fd.MODEL_NAME,
        version.version,
        bands,
    )
    return ScoreSummary(
        day.isoformat(), written.rows, str(version.version), version.run_id or "", bands
    )
