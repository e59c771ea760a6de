"""Batch scoring: tomorrow's published schedule, scored by the champion, as a lake partition.

The run for day D (interval [D, D+1)) scores the flights of D+1. Their features are built by the
same SQL as the training features (``sql/features/flight_features.sql``), on a view of the lake
as it stood on the evening of D: actual flights and weather up to D, plus the next-day feeds of
D+1 (the published schedule and the weather forecast). Nothing of D+1's outcome exists yet, so
the label columns are null and no feature can leak; a backfill sees exactly what a nightly run saw.

Output: ``scores.flight_delay_predictions``, partition ``dt=D+1``, one row per scheduled flight
in order of departure, stamped with the model name, version and MLflow run id and the pipeline
run id, beside ``features.scoring_features`` (what the model saw), in one commit. Rerunning
replaces both. However large the day, DuckDB streams the features into their partition, and
the model scores them back from it a batch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import models.flight_delay as fd
from pipelines import history, tables
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition, PermanentError
from pipelines.serving.schema import PREDICTION_SCHEMA
from pipelines.settings import DuckDBResources
from pipelines.storage import lake, registry
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

log = logging.getLogger(__name__)

# The raw tables scoring sees "as of the evening before" (sql/serving/<table>_as_of.sql).
AS_OF_TABLES = ("flights", "weather")
# Rows scored at a time (one Parquet row group of the features partition).
BATCH_ROWS = lake.ROW_GROUP
# The order of a scored day's rows: by scheduled departure (the day is the same for all).
DEPARTURE_ORDER = "sched_dep_minute_of_day, carrier, flight_number, origin"
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


def write_scoring_features(
    tx: lake.Transaction,
    sql_root: Path,
    day: date,
    history_start: date,
    allow_incomplete_history: bool = False,
    *,
    resources: DuckDBResources | None = None,
) -> lake.PartitionWritten:
    """Write ``features.scoring_features`` of ``day`` in ``tx``: the features of the flights
    scheduled on ``day``, from what was known the evening before, in order of departure.

    Refused when a next-day feed or the day before's actuals are not published, or when a day of
    the 28-day history is missing or blocked (see :mod:`pipelines.history`), unless
    ``allow_incomplete_history``; the rows say how many days were missing. The rows stream from
    DuckDB (held to ``resources``) into the partition a batch at a time.
    """
    _require_inputs(tx.root, day)
    found = history.require_complete(tx.root, [day], history_start, allow_incomplete_history)
    query = load_sql(sql_root, "features", "flight_features")
    reads = history.lake_days(Interval.day(day))
    with lake_connection(tx.root, sql_root, days=reads, resources=resources) as con:
        _as_of_evening_before(con, sql_root, day)
        ordered = "SELECT * FROM (\n" + query + "\n) ORDER BY " + DEPARTURE_ORDER  # noqa: S608
        span = {"start": day, "end": day + timedelta(days=1)}
        rows = con.sql(ordered, params=span).to_arrow_reader(BATCH_ROWS)
        batches = (history.stamp(batch, found[day]) for batch in rows)
        schema = history.stamped_schema(rows.schema)
        return tx.write_batches(*tables.SCORING_FEATURES.address, day, schema, batches)


def _require_inputs(lake_root: Path, day: date) -> None:
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


def _as_of_evening_before(con: duckdb.DuckDBPyConnection, sql_root: Path, day: date) -> None:
    """Point ``raw.flights`` and ``raw.weather`` of ``con`` at the lake as of the evening before
    ``day`` (the contract is in sql/serving/*_as_of.sql): views, so nothing is copied."""
    variables = {
        "as_of_first": day - timedelta(days=history.HISTORY_DAYS),
        "as_of_before": day - timedelta(days=1),
        "as_of_day": day,
    }
    # Names come from the constants here, never from callers; the dates are bound.
    for name, value in variables.items():
        con.execute("SET VARIABLE " + name + " = $value", {"value": value})
    for table in AS_OF_TABLES:
        con.execute("ALTER VIEW raw." + table + " RENAME TO " + table + "_published")
        as_of = load_sql(sql_root, "serving", table + "_as_of")
        con.execute("CREATE VIEW raw." + table + " AS " + as_of)


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


def predictions_table(features: pa.Table | pa.RecordBatch, probabilities, version) -> pa.Table:
    """The predictions of ``features`` (scoring features: a table or one batch), by departure."""
    p = np.asarray(probabilities, dtype=np.float64)
    n = len(p)
    midnight = pc.cast(features.column("flight_date"), pa.timestamp("us"))
    minutes = pc.cast(features.column("sched_dep_minute_of_day"), pa.int64())
    trained = (version.tags or {}).get("data.as_of")
    columns = {
        **{c: features.column(c) for c in (*fd.KEY, "dest")},
        "scheduled_departure": pc.add(
            midnight, pc.cast(pc.multiply(minutes, 60_000_000), pa.duration("us"))
        ),
        "probability": pa.array(p),
        "risk_band": pa.array(fd.risk_bands(p), pa.string()),
        "model_name": _constant(fd.MODEL_NAME, n),
        "model_version": _constant(str(version.version), n),
        "mlflow_run_id": _constant(version.run_id or "", n),
        "model_trained_as_of": (
            pa.array(np.full(n, np.datetime64(trained, "D")), pa.date32())
            if trained
            else pa.nulls(n, pa.date32())
        ),
    }
    table = pa.table(columns).select(PREDICTION_SCHEMA.names).cast(PREDICTION_SCHEMA)
    departure = [("scheduled_departure", "ascending"), *((k, "ascending") for k in fd.KEY[1:])]
    return table.take(pc.sort_indices(table, sort_keys=departure))


def _constant(value: str, rows: int) -> pa.Array:
    return pa.array(np.full(rows, value, dtype=object), pa.string())


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
    resources: DuckDBResources | None = None,
) -> ScoreSummary:
    """Score the flights of ``day``; replace ``scores.flight_delay_predictions`` dt=``day``.

    The features stream into their partition, then are read back and scored a batch at a time:
    memory holds DuckDB's share (bounded by ``resources``) and a batch, never the day.
    """
    version = resolve_model(tracking_uri, day, policy)
    bands = {b: 0 for _, b in fd.RISK_BANDS}
    # What the model saw and what it said become visible together, in one commit.
    with lake.transaction(lake_root, run_id) as tx:
        features = write_scoring_features(
            tx, sql_root, day, history_start, allow_incomplete_history, resources=resources
        )
        model = registry.load_sklearn(fd.MODEL_NAME, version.version)
        predictions = _predictions(features.path, model, version, bands)
        written = tx.write_batches(*tables.PREDICTIONS.address, day, PREDICTION_SCHEMA, predictions)
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


def _predictions(
    features: Path, model: Any, version: Any, bands: dict[str, int]
) -> Iterator[pa.RecordBatch]:
    """The predictions of a scoring features file, a batch at a time (in the file's order);
    adds each batch's risk bands to ``bands``."""
    wanted = dict.fromkeys([*fd.KEY, "dest", "sched_dep_minute_of_day", *fd.input_columns(model)])
    with pq.ParquetFile(features) as parquet:
        # A column the file lacks is left out here and named by fd.predict.
        columns = [c for c in wanted if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            table = predictions_table(batch, fd.predict(model, batch.to_pandas()), version)
            counted = pc.value_counts(table.column("risk_band"))
            for band, count in zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            ):
                bands[band] += count
            yield from table.to_batches()
