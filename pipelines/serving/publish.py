"""Publish a day's predictions to the application's PostgreSQL table.

The application reads ``<schema>.flight_delay_predictions`` (one row per flight, primary key
``(flight_date, carrier, flight_number, origin)``). A day is published in **one transaction**:
the partition is copied into a temporary table, upserted, and rows of that day that are no longer
in the partition are deleted. Readers see the previous day's rows or the new ones, never half;
publishing the same partition twice leaves the same rows; nothing else in the table changes.
The partition is read and copied a batch at a time (CSV written by Arrow), so a day of any size
costs one batch of memory here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TypeAlias

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from pipelines import tables
from pipelines.serving.schema import PREDICTION_SCHEMA

log = logging.getLogger(__name__)

# The application table is named after the lake table it mirrors, with the same key.
TABLE = tables.PREDICTIONS.name
KEY = tables.PREDICTIONS.key
COLUMNS = (*PREDICTION_SCHEMA.names, "pipeline_run_id")
# Rows read and copied at a time.
BATCH_ROWS = 256 * 1024
# A day's predictions: a table, or the partition file to read a batch at a time.
Predictions: TypeAlias = pa.Table | pq.ParquetFile

_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {table} (
    flight_date date NOT NULL,
    carrier text NOT NULL,
    flight_number integer NOT NULL,
    origin text NOT NULL,
    dest text NOT NULL,
    scheduled_departure timestamp NOT NULL,
    probability double precision NOT NULL CHECK (probability BETWEEN 0 AND 1),
    risk_band text NOT NULL,
    model_name text NOT NULL,
    model_version text NOT NULL,
    mlflow_run_id text NOT NULL,
    model_trained_as_of date,
    pipeline_run_id text NOT NULL,
    PRIMARY KEY (flight_date, carrier, flight_number, origin)
);
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS model_trained_as_of date;
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS scored_at timestamptz NOT NULL DEFAULT now();
"""


class PublishError(ValueError):
    """The partition does not fit the application table (wrong day or missing columns)."""


@dataclass(frozen=True)
class PublishSummary:
    day: str
    table: str
    upserted: int
    deleted: int


def publish_predictions(
    dsn: str, schema: str, day: date, predictions: Predictions
) -> PublishSummary:
    """Replace the application's rows of ``day`` with ``predictions``, in one transaction.

    The columns and the day of every row are checked before connecting.
    """
    names = (
        predictions.schema_arrow.names
        if isinstance(predictions, pq.ParquetFile)
        else predictions.column_names
    )
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise PublishError(f"predictions lack columns {missing}")
    days = {d for batch in _batches(predictions, ["flight_date"]) for d in _days(batch)}
    if days - {day}:
        raise PublishError(f"partition dt={day} holds rows of other days: {sorted(days - {day})}")
    table = sql.Identifier(schema, TABLE)
    columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    key = sql.SQL(", ").join(map(sql.Identifier, KEY))
    # scored_at: when the nightly run wrote the row (its transaction), for the predictions API.
    updates = sql.SQL(", ").join(
        [
            *(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                for c in COLUMNS
                if c not in KEY
            ),
            sql.SQL("scored_at = now()"),
        ]
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:  # one transaction, committed on exit
        cur.execute(sql.SQL(_DDL).format(schema=sql.Identifier(schema), table=table))
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE incoming (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
            ).format(table)
        )
        # CSV: an empty unquoted field is NULL, a quoted one an empty string (Arrow quotes text).
        copy_sql = sql.SQL("COPY incoming ({}) FROM STDIN (FORMAT csv)").format(columns)
        with cur.copy(copy_sql) as copy:
            for batch in _batches(predictions, list(COLUMNS)):
                copy.write(_csv(batch))
        cur.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming "
                "ON CONFLICT ({key}) DO UPDATE SET {updates}"
            ).format(table=table, columns=columns, key=key, updates=updates)
        )
        upserted = cur.rowcount
        cur.execute(
            sql.SQL(
                "DELETE FROM {table} AS t WHERE t.flight_date = %s AND NOT EXISTS ("
                "SELECT 1 FROM incoming AS i WHERE (i.carrier, i.flight_number, i.origin) = "
                "(t.carrier, t.flight_number, t.origin))"
            ).format(table=table),
            (day,),
        )
        deleted = cur.rowcount
    log.info("published %s: %d rows upserted, %d stale rows deleted", day, upserted, deleted)
    return PublishSummary(day.isoformat(), f"{schema}.{TABLE}", upserted, deleted)


def _batches(predictions: Predictions, columns: list[str]) -> Iterator[pa.RecordBatch]:
    if isinstance(predictions, pq.ParquetFile):
        yield from predictions.iter_batches(batch_size=BATCH_ROWS, columns=columns)
    else:
        yield from predictions.select(columns).to_batches(max_chunksize=BATCH_ROWS)


def _days(batch: pa.RecordBatch) -> list[date]:
    return pc.unique(batch.column("flight_date")).to_pylist()


def _csv(batch: pa.RecordBatch) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()
