"""Stage: build ``features.flight_features`` for every day of an interval.

Set-based: the feature SQL computes a whole run of days in one pass (the history counted once per
day whose trailing window holds it), so a coarse run over a year is a dozen queries, not 365. A
pass holds at most ``PASS_FLIGHTS`` flights (counted from the raw partitions' footers), so a large
day gets a pass of its own, and a day alone reads its history from the counts the lake keeps
(:mod:`pipelines.trailing`): one day's work, not 28. Each day then streams from DuckDB into its
partition a batch at a time: the process holds what DuckDB holds (bounded by its memory limit,
spilling past it) plus one batch, however large the day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from pipelines import history, tables, trailing
from pipelines.dates import Interval
from pipelines.errors import MissingUpstreamPartition
from pipelines.settings import DuckDBResources
from pipelines.storage import lake
from pipelines.storage.sql import load_sql
from pipelines.storage.warehouse import lake_connection

log = logging.getLogger(__name__)

# Rows per batch streamed from DuckDB to the partition file (one Parquet row group each).
BATCH_ROWS = lake.ROW_GROUP
# Flights one pass of the feature SQL may cover: about a month of the sample, one large day.
PASS_FLIGHTS = 1_000_000
_DAY_OF_PASS = "select * from built where flight_date = $day"


@dataclass
class FeaturesBuilt:
    rows_per_day: dict[str, int] = field(default_factory=dict)
    # How each day's trailing counts were found: kept, moved, counted or set-based
    # (pipelines.trailing).
    history_counts: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_per_day.values())


def build_flight_features(
    lake_root: Path,
    sql_root: Path,
    interval: Interval,
    run_id: str,
    history_start: date,
    allow_incomplete_history: bool = False,
    *,
    resources: DuckDBResources | None = None,
) -> FeaturesBuilt:
    """One partition of ``features.flight_features`` per day of ``interval``.

    Each day reads only the published schedule of that day and outcomes of the 28 days before it,
    so days can be rebuilt in any order and a rerun gives the same rows. A day whose 28-day window
    has a missing or blocked day (on or after ``history_start``) is refused, unless
    ``allow_incomplete_history``: then its rows say how many days were missing. DuckDB opens only
    the partitions those days read, held to ``resources`` (None: DuckDB's defaults).
    """
    missing = lake.missing_partitions(lake_root, *tables.raw("flights").address, interval)
    if missing:
        raise MissingUpstreamPartition(
            f"raw.flights has no partition for {', '.join(map(str, missing))}: run (or fix and "
            "rerun) validate_and_publish for those days first"
        )
    days = list(interval.days())
    found = history.require_complete(lake_root, days, history_start, allow_incomplete_history)
    query = load_sql(sql_root, "features", "flight_features")
    built = FeaturesBuilt()
    for run in passes(lake_root, days):
        span = Interval(run[0], run[-1] + timedelta(days=1))
        # A connection a pass, on the lake as it is now: the counts an earlier pass kept (the
        # day before's, which this day's move a day) are in a later snapshot than the first's.
        reads = history.lake_days(span)
        with lake_connection(lake_root, sql_root, days=reads, resources=resources) as con:
            counts = trailing.prepare(con, lake_root, sql_root, span, run_id)
            for day, rows in _days_of_pass(con, query, span):
                built.history_counts[day.isoformat()] = counts.flight_numbers
                batches = (history.stamp(batch, found[day]) for batch in rows)
                with lake.transaction(lake_root, run_id) as tx:
                    written = tx.write_batches(
                        *tables.FLIGHT_FEATURES.address,
                        day,
                        history.stamped_schema(rows.schema),
                        batches,
                    )
                built.rows_per_day[day.isoformat()] = written.rows
                if found[day].count:
                    log.warning(
                        "features.flight_features dt=%s built on an incomplete history (%s): "
                        "allowed by %s",
                        day,
                        found[day].describe(),
                        history.OVERRIDE_PARAM,
                    )
                log.info("features.flight_features dt=%s: %d rows", day, written.rows)
    return built


def _days_of_pass(con, query: str, span: Interval):
    """Each day of the pass ``span`` and a reader of its rows (in no particular order: a sort of
    a 10M-flight day's 48 columns cost 5 s and could overrun DuckDB's memory limit, and every
    reader orders what it reads). A single day streams from the query; a run of days is computed
    once into a temporary table, then read a day at a time."""
    params = {"start": span.start, "end": span.end}
    if len(span) == 1:
        yield span.start, con.sql(query, params=params).to_arrow_reader(BATCH_ROWS)
        return
    con.execute("create or replace temp table built as " + query, params)
    for day in span.days():
        yield day, con.sql(_DAY_OF_PASS, params={"day": day}).to_arrow_reader(BATCH_ROWS)


def passes(lake_root: Path, days: list[date]) -> list[list[date]]:
    """``days`` (consecutive, in order) cut into runs of at most ``PASS_FLIGHTS`` flights each,
    by the row counts in the raw partitions' footers; a day larger than that is a run alone."""
    runs: list[list[date]] = []
    flights = 0
    for day in days:
        path = lake.partition_file(lake_root, *tables.raw("flights").address, day)
        rows = 0 if path is None else pq.ParquetFile(path).metadata.num_rows
        if runs and flights + rows <= PASS_FLIGHTS:
            runs[-1].append(day)
            flights += rows
        else:
            runs.append([day])
            flights = rows
    return runs
