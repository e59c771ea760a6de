"""Batch scoring: tomorrow's published schedule, scored by the champion, as a lake partition.

The run for day D (interval [D, D+1)) scores the flights of D+1. Their features are built by the
same SQL as the training features (``sql/features/flight_features.sql``), on a view of the lake
as it stood on the evening of D: actual flights and weather up to D, plus the next-day feeds of
D+1 (the published schedule and the weather forecast). Nothing of D+1's outcome exists yet, so
the label columns are null and no feature can leak; a backfill sees exactly what a nightly run saw.

Output: ``scores.flight_delay_predictions``, partition ``dt=D+1``, one row per scheduled flight
stamped with the model name, version and MLflow run id and the pipeline
run id, beside ``features.scoring_features`` (what the model saw), in one commit. Rerunning
replaces both. However large the day, DuckDB streams the features a batch at a time, and each
batch is written and scored as it comes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

import models.flight_delay as fd
from pipelines import history, tables, trailing
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition, PermanentError
from pipelines.serving.predictions import predictions_table, scored_batch
from pipelines.serving.scheduled import ScheduledFlight, schedule_rows
from pipelines.serving.schema import PREDICTION_SCHEMA
from pipelines.settings import DuckDBResources
from pipelines.storage import lake, registry, snapshots
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

log = logging.getLogger(__name__)

# The raw tables scoring sees "as of the evening before" (sql/serving/<table>_as_of.sql).
AS_OF_TABLES = ("flights", "weather")
# Rows scored at a time (one Parquet row group of the features partition).
BATCH_ROWS = lake.ROW_GROUP
# The order of the on-demand answers: by scheduled departure (the day is the same for all).
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


@contextlib.contextmanager
def scoring_features(
    lake_root: Path,
    sql_root: Path,
    day: date,
    history_start: date,
    allow_incomplete_history: bool = False,
    *,
    run_id: str | None,
    resources: DuckDBResources | None = None,
) -> Iterator[pa.RecordBatchReader]:
    """The features of the flights scheduled on ``day``, from what was known the evening before,
    streamed from DuckDB (held to ``resources``) a batch at a time, in no particular order (as
    every partition of the lake: readers order what they read).

    Refused when a next-day feed or the day before's actuals are not published, or when a day of
    the 28-day history is missing or blocked (see :mod:`pipelines.history`), unless
    ``allow_incomplete_history``; the rows say how many days were missing. The history's counts
    are kept in the lake under ``run_id`` (:mod:`pipelines.trailing`; None: counted in memory).
    """
    _require_inputs(lake_root, day)
    found = history.require_complete(lake_root, [day], history_start, allow_incomplete_history)
    query = load_sql(sql_root, "features", "flight_features")
    reads = history.lake_days(Interval.day(day))
    with lake_connection(lake_root, sql_root, days=reads, resources=resources) as con:
        # The history as published (the days before ``day``), counted before the views move.
        trailing.prepare(con, lake_root, sql_root, Interval.day(day), run_id)
        _as_of_evening_before(con, sql_root, day)
        span = {"start": day, "end": day + timedelta(days=1)}
        rows = con.sql(query, params=span).to_arrow_reader(BATCH_ROWS)
        batches = (history.stamp(batch, found[day]) for batch in rows)
        yield pa.RecordBatchReader.from_batches(history.stamped_schema(rows.schema), batches)


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


# What an on-demand scorer holds in memory: the lake's raw views the as-of views read.
HELD_TABLES = ("flights_published", "weather_published", "schedule", "weather_forecast")
HELD_REFERENCE = ("planes", "airports", "airlines")
# The day's schedule as a call states it: each stated flight in place of the published one.
_STATED_SCHEDULE = """
CREATE OR REPLACE VIEW raw.schedule AS
SELECT * FROM online.schedule AS s
WHERE NOT EXISTS (
    SELECT 1 FROM online.requested AS r
    WHERE r.dt = s.dt AND r.carrier = s.carrier AND r.flight = s.flight AND r.origin = s.origin
)
UNION ALL BY NAME FROM online.requested
"""


class AsOfDay:
    """The lake as of the evening before ``day``, held in memory, for on-demand scoring.

    :meth:`features` puts the given flights into the day's published schedule (each in place of
    the published flight with its key, or beside them: the day's traffic counts and the aircraft's
    legs count it) and runs the batch's ``sql/features/flight_features.sql`` on the views
    :func:`scoring_features` uses. The same inputs are required as for the batch.

    Planning that query costs DuckDB about 0.1 s of CPU, whatever the rows, so the features of the
    published schedule are built once, with the instance: flights stated exactly as published
    leave the schedule unchanged, and get those rows. One instance per day and lake ``snapshot``.
    """

    def __init__(
        self,
        lake_root: Path,
        sql_root: Path,
        day: date,
        history_start: date,
        allow_incomplete_history: bool = False,
        *,
        resources: DuckDBResources | None = None,
    ) -> None:
        self.day = day
        self.snapshot = snapshots.current_id(lake_root)
        _require_inputs(lake_root, day)
        found = history.require_complete(lake_root, [day], history_start, allow_incomplete_history)
        self.gaps = found[day]
        query = load_sql(sql_root, "features", "flight_features")
        # Only the stated flights come back, in order of departure.
        self._query = (
            "SELECT f.* FROM (\n"  # noqa: S608 (a SQL file and constants, no caller text)
            + query
            + "\n) AS f SEMI JOIN online.requested AS r ON f.flight_date = r.dt "
            "AND f.carrier = r.carrier AND f.flight_number = r.flight AND f.origin = r.origin "
            "ORDER BY " + DEPARTURE_ORDER
        )
        self._lock = threading.Lock()
        reads = history.lake_days(Interval.day(day))
        self._con = lake_connection(lake_root, sql_root, days=reads, resources=resources)
        try:
            # A reader: what is not kept in the lake is counted in memory, never written.
            trailing.prepare(self._con, lake_root, sql_root, Interval.day(day), run_id=None)
            self._hold(sql_root)
            self._published_features = self._build(self._published.values())
        except BaseException:
            self._con.close()
            raise
        keys = zip(*(self._published_features.column(c).to_pylist() for c in fd.KEY), strict=True)
        self._published_index = {key: i for i, key in enumerate(keys)}

    def _hold(self, sql_root: Path) -> None:
        con = self._con
        _as_of_evening_before(con, sql_root, self.day)
        con.execute("CREATE SCHEMA online")
        views = "SELECT view_name FROM duckdb_views() WHERE schema_name = 'raw'"
        held = {row[0] for row in con.sql(views).fetchall()}
        # Names come from the constants here, never from callers (DDL takes no parameters).
        for name in (*HELD_TABLES, *HELD_REFERENCE):
            if name in held:
                con.execute("CREATE TABLE online." + name + " AS FROM raw." + name)
                con.execute("CREATE OR REPLACE VIEW raw." + name + " AS FROM online." + name)
        con.execute("CREATE TABLE online.requested AS FROM online.schedule LIMIT 0")
        con.execute(_STATED_SCHEDULE)
        day = {"day": self.day}
        published = con.sql("FROM online.schedule WHERE dt = $day", params=day).to_arrow_table()
        self._schema = published.schema
        self._published = {_schedule_key(r): _stated(r) for r in published.to_pylist()}
        # The time zone of each airport (its newest snapshot on or before the day) and the last
        # published distance of each route: what a stated flight may leave out.
        zones = "SELECT faa, arg_max(tzone, dt) FROM raw.airports WHERE dt <= $day GROUP BY faa"
        self._zones = dict(con.sql(zones, params=day).fetchall())
        routes = (
            "SELECT origin, dest, arg_max(distance, dt) FROM raw.flights "
            "WHERE distance IS NOT NULL GROUP BY origin, dest"
        )
        self._distances = {(o, d): miles for o, d, miles in con.sql(routes).fetchall()}

    def _build(self, rows) -> pa.Table:
        """Features of the schedule with ``rows`` (schedule rows) stated, for those rows."""
        stated = pa.Table.from_pylist(list(rows), schema=self._schema)
        span = {"start": self.day, "end": self.day + timedelta(days=1)}
        with self._lock:
            self._con.execute("DELETE FROM online.requested")
            self._con.register("stated_flights", stated)
            try:
                self._con.execute("INSERT INTO online.requested BY NAME FROM stated_flights")
            finally:
                self._con.unregister("stated_flights")
            features = self._con.sql(self._query, params=span).to_arrow_table()
        return history.stamp(features, self.gaps)

    def features(self, flights: Sequence[ScheduledFlight]) -> pa.Table:
        """The scoring features of ``flights`` (all of ``day``), as the batch builds them."""
        strays = [f.key for f in flights if f.flight_date != self.day]
        if strays:
            raise ValueError(f"flights of other days than {self.day}: {strays}")
        table = schedule_rows(flights, self._schema, self._zones, self._distances)
        rows = [_stated(row) for row in table.to_pylist()]
        if all(self._published.get(_schedule_key(row)) == row for row in rows):
            indices = sorted(self._published_index[_schedule_key(row)] for row in rows)
            return self._published_features.take(indices)  # kept in order of departure
        return self._build(rows)

    def predictions(self, flights: Sequence[ScheduledFlight], model: Any, version: Any) -> pa.Table:
        """What the batch would publish for ``flights``: :func:`predictions_table` of their
        features, scored by ``model`` (the registered ``version``)."""
        features = self.features(flights)
        return predictions_table(features, fd.predict(model, features), version)

    def is_published(self, flight: ScheduledFlight) -> bool:
        """Whether the day's published schedule has a flight with ``flight``'s key."""
        return flight.key in self._published

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _schedule_key(row: dict) -> tuple:
    return (row["dt"], row["carrier"], row["flight"], row["origin"])


def _stated(row: dict) -> dict:
    """A schedule row without its lineage: what a caller states of a flight."""
    return {k: v for k, v in row.items() if k != lake.RUN_ID_COLUMN}


def resolve_model(tracking_uri: str, day: date, policy: str = CURRENT_CHAMPION):
    """The ``ModelVersion`` that scores ``day`` under ``policy`` (raises NoChampionError)."""
    _require_policy(policy)
    client = registry.client(tracking_uri)
    if policy == CURRENT_CHAMPION:
        return registry.require_champion(client, fd.MODEL_NAME)
    return registry.champion_on(client, fd.MODEL_NAME, day)


def _require_policy(policy: str) -> None:
    if policy not in VERSION_POLICIES:
        raise UnknownVersionPolicy(
            f"model version policy must be one of {VERSION_POLICIES}; got {policy!r}"
        )


def _load_champion(tracking_uri: str, day: date, policy: str) -> tuple[Any, Any]:
    version = resolve_model(tracking_uri, day, policy)
    return version, registry.load_sklearn(fd.MODEL_NAME, version.version)


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

    One pass: each batch of features streams from DuckDB into ``features.scoring_features`` and,
    scored, into the predictions: memory holds DuckDB's share (bounded by ``resources``) and a
    batch, never the day. The champion is looked up and loaded (MLflow's store and the skops
    file, about 2 s) in a thread while DuckDB builds the features; a missing one fails the run
    before anything is committed.
    """
    _require_policy(policy)
    bands = {b: 0 for _, b in fd.RISK_BANDS}
    day_args = (lake_root, sql_root, day, history_start, allow_incomplete_history)
    # What the model saw and what it said become visible together, in one commit.
    with ThreadPoolExecutor(1) as pool, lake.transaction(lake_root, run_id) as tx:
        champion = pool.submit(_load_champion, tracking_uri, day, policy)
        with scoring_features(*day_args, run_id=run_id, resources=resources) as features:
            version, model = champion.result()
            with (
                tx.partition_writer(*tables.SCORING_FEATURES.address, day, features.schema) as seen,
                tx.partition_writer(*tables.PREDICTIONS.address, day, PREDICTION_SCHEMA) as said,
            ):
                for batch in features:
                    seen.write(batch)
                    said.write(scored_batch(batch, model, version, bands))
    log.info("scored %d flights of %s with v%s: %s", said.rows, day, version.version, bands)
    return ScoreSummary(
        day.isoformat(), said.rows, str(version.version), version.run_id or "", bands
    )
