"""The trailing counts the feature SQL reads, kept in the lake so a day costs a day's work.

``sql/features/flight_features.sql`` reads the 28 days before each feature day through two
relations that :func:`prepare` defines on the query's connection:

* ``trailing_route_hour_daily``: each flight day counted per carrier, route and hour (small: a
  row per carrier, route and hour of a day). For one feature day they are the lake's
  ``features.route_hour_daily`` partitions of the 28 days; a day not counted yet is counted now.
* ``trailing_flight_numbers``: per feature day, carrier and flight number, the flights of the 28
  days before. As many keys as a day has flights, so summing 28 days of them costs what reading
  28 days of flights does: for one feature day D, the lake keeps ``features.flight_number_28d``
  dt=D, moved a day at a time from dt=D-1 (the flights of D-1 in, those of D-29 out), or counted
  from the 28 days when D-1 has no usable partition.

A partition names, in its Parquet footer, the ``raw.flights`` files it was counted from and the
SQL that counted them. It is used only while those are still the lake's (a day republished or
a blocked day published since makes it stale; it is counted again), so the kept counts are a
cache: removing them changes the time a day takes, never its features. A run of several small
days (a coarse run) counts its history in one set-based pass instead, in memory.

The nightly path moves each table a day: ``flights_daily`` of D finds dt=D already made by
the scoring run of the night before, and scoring of D+1 makes dt=D+1 from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines import tables
from pipelines.dates import Interval
from pipelines.storage import lake, snapshots
from pipelines.storage.sql import define_file_view, layer_models, load_sql, snapshot_of

log = logging.getLogger(__name__)

FLIGHT_NUMBERS = "trailing_flight_numbers"
ROUTE_HOUR_DAILY = "trailing_route_hour_daily"
_DAY_BEFORE = "trailing_day_before"  # what sql/features/flight_number_step.sql moves a day
_FOOTER_KEY = "nightshift.counted_from"
# The SQL a kept partition's numbers depend on (with sql/macros): a change to any of it makes the
# partition stale.
_ROUTE_HOUR_SQL = (("staging", "stg_flight_outcomes"), ("features", "route_hour_daily"))
_FLIGHT_NUMBER_SQL = (
    ("staging", "stg_flight_outcomes"),
    ("features", "flight_number_28d"),
    ("features", "flight_number_step"),
)
# The feature query's joins run in the order written (see sql/features/flight_features.sql).
_JOINS_AS_WRITTEN = "SET disabled_optimizers = 'join_order'"


@dataclass(frozen=True)
class Prepared:
    """How the history of the feature days was found, for the logs and the benchmark."""

    flight_numbers: str  # kept, moved (a day, from the day before's), counted, or set-based
    route_hour_days_counted: int  # days counted now (the others were kept)


def prepare(
    con: duckdb.DuckDBPyConnection,
    lake_root: Path,
    sql_root: Path,
    days: Interval,
    run_id: str | None,
) -> Prepared:
    """Make ``con`` ready to run ``sql/features/flight_features.sql`` for the feature ``days``.

    ``con`` is a lake connection over (at least) ``history.lake_days(days)``; the counts are
    taken in the lake snapshot its views read. For a single day, what had to be counted is kept
    in the lake under ``run_id`` (its own commits); with ``run_id`` None nothing is written (a
    reader, such as the predictions API) and it is counted in memory.
    """
    con.execute(_JOINS_AS_WRITTEN)
    for relation in (FLIGHT_NUMBERS, ROUTE_HOUR_DAILY, _DAY_BEFORE):
        _forget(con, relation)
    if len(days) > 1:
        history = _history_of(days)
        span = {"first": history.start, "end": history.end}
        _count_in_memory(con, sql_root, "route_hour_daily", ROUTE_HOUR_DAILY, span)
        span = {"start": days.start, "end": days.end}
        _count_in_memory(con, sql_root, "flight_number_28d", FLIGHT_NUMBERS, span)
        return Prepared("set-based", len(history))
    snapshot = snapshot_of(con)
    raw = snapshots.load(lake_root, snapshot).files(tables.raw("flights").qualified)
    kept = _Kept(lake_root, snapshot, run_id)
    counted = _route_hour_daily(con, sql_root, kept, days.start, raw)
    how = _flight_numbers(con, sql_root, kept, days.start, raw)
    log.info("trailing counts of %s: flight numbers %s, %d day(s) counted", days, how, counted)
    return Prepared(how, counted)


def _forget(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temporary relation ``name``, a view or a table (DuckDB replaces neither by the
    other): a connection prepared again, for another interval, defines it afresh."""
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = $name UNION ALL "
        "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = $name",
        {"name": name},
    ).fetchall()
    for (kind,) in kinds:
        con.execute("DROP " + kind + " " + name)  # a constant of this module


def window(day: date) -> list[date]:
    """The days whose outcomes feature day ``day`` counts: [day - 28, day - 1]."""
    return [day - timedelta(days=back) for back in range(tables.FEATURE_HISTORY_DAYS, 0, -1)]


def _history_of(days: Interval) -> Interval:
    first = days.start - timedelta(days=tables.FEATURE_HISTORY_DAYS)
    return Interval(first, days.end - timedelta(days=1))


def _count_in_memory(
    con: duckdb.DuckDBPyConnection,
    sql_root: Path,
    sql_name: str,
    relation: str,
    params: dict[str, date],
) -> None:
    _temp_table(con, relation, load_sql(sql_root, "features", sql_name), params)


def _temp_table(
    con: duckdb.DuckDBPyConnection, relation: str, query: str, params: Mapping[str, object]
) -> None:
    """The temporary table ``relation`` of ``query``'s rows."""
    # The relation name is one of this module's constants; the values are bound.
    con.execute("CREATE TEMP TABLE " + relation + " AS " + query, dict(params))


class _Kept:
    """The kept partitions of the connection's snapshot, and where new ones go."""

    def __init__(self, lake_root: Path, snapshot: int | None, run_id: str | None) -> None:
        self.root, self.snapshot, self.run_id = lake_root, snapshot, run_id

    def usable(self, table: tables.LakeTable, day: date, counted_from: str) -> Path | None:
        """Partition ``day`` of ``table`` if it was counted from exactly ``counted_from``."""
        path = lake.partition_file(self.root, *table.address, day, self.snapshot)
        if path is None or lake.footer_metadata(path).get(_FOOTER_KEY) != counted_from:
            return None
        return path

    def keep(
        self,
        con: duckdb.DuckDBPyConnection,
        table: tables.LakeTable,
        counted: list[tuple[date, str, str, dict[str, date]]],
    ) -> list[Path]:
        """Run each ``(day, counted_from, query, params)`` and keep its rows as partition
        ``day`` of ``table``, in one commit; their files."""
        if self.run_id is None:
            raise ValueError("a reader's counts are not kept")
        written = []
        with lake.transaction(self.root, self.run_id) as tx:
            for day, counted_from, query, params in counted:
                rows = con.sql(query, params=params).to_arrow_reader(lake.ROW_GROUP)
                footer = {_FOOTER_KEY: counted_from}
                part = tx.write_batches(*table.address, day, rows.schema, rows, footer)
                written.append(part.path)
        return written


def _route_hour_daily(
    con: duckdb.DuckDBPyConnection, sql_root: Path, kept: _Kept, day: date, raw: Mapping[str, str]
) -> int:
    """Define ``trailing_route_hour_daily`` over the 28 days before ``day``; days counted now."""
    version = _sql_version(sql_root, _ROUTE_HOUR_SQL)
    query = load_sql(sql_root, "features", "route_hour_daily")
    files, todo = [], []
    for past in window(day):
        if (source := raw.get(past.isoformat())) is None:
            continue  # no flights published for that day: nothing to count
        counted_from = _counted_from(version, {past: source})
        if (path := kept.usable(tables.ROUTE_HOUR_DAILY, past, counted_from)) is not None:
            files.append(path)
        else:
            params = {"first": past, "end": past + timedelta(days=1)}
            todo.append((past, counted_from, query, params))
    counted = len(todo)
    if kept.run_id is not None:
        files += kept.keep(con, tables.ROUTE_HOUR_DAILY, todo)
        todo = []
    # An empty table of the query's columns, then what is kept and what is counted in memory.
    empty = {"first": day, "end": day}
    _temp_table(con, ROUTE_HOUR_DAILY, query, empty)
    columns = ", ".join(c[0] for c in con.execute("FROM " + ROUTE_HOUR_DAILY).description)
    if files:  # the relation and its columns are this module's; the files are bound
        kept_rows = "SELECT " + columns + " FROM lake_table($files)"  # noqa: S608
        con.execute(
            "INSERT INTO " + ROUTE_HOUR_DAILY + " " + kept_rows, {"files": list(map(str, files))}
        )
    for _, _, _, params in todo:
        con.execute("INSERT INTO " + ROUTE_HOUR_DAILY + " " + query, params)
    return counted


def _flight_numbers(
    con: duckdb.DuckDBPyConnection, sql_root: Path, kept: _Kept, day: date, raw: Mapping[str, str]
) -> str:
    """Define ``trailing_flight_numbers`` of ``day``; how it was found."""
    version = _sql_version(sql_root, _FLIGHT_NUMBER_SQL)
    counted_from = _counted_from(version, _window_files(raw, day))
    if (path := kept.usable(tables.FLIGHT_NUMBER_28D, day, counted_from)) is not None:
        _use(con, kept, FLIGHT_NUMBERS, path)
        return "kept"
    before = day - timedelta(days=1)
    counted_before = _counted_from(version, _window_files(raw, before))
    if (previous := kept.usable(tables.FLIGHT_NUMBER_28D, before, counted_before)) is not None:
        define_file_view(con, _DAY_BEFORE, [previous])
        how, query = "moved", load_sql(sql_root, "features", "flight_number_step")
        params = {"day": day}
    else:
        how, query = "counted", load_sql(sql_root, "features", "flight_number_28d")
        params = {"start": day, "end": day + timedelta(days=1)}
    with _one_thread(con) if how == "counted" else contextlib.nullcontext():
        if kept.run_id is None:
            _temp_table(con, FLIGHT_NUMBERS, query, params)
        else:
            counted = [(day, counted_from, query, params)]
            (path,) = kept.keep(con, tables.FLIGHT_NUMBER_28D, counted)
            _use(con, kept, FLIGHT_NUMBERS, path)
    return how


def _use(con: duckdb.DuckDBPyConnection, kept: _Kept, relation: str, path: Path) -> None:
    """``relation`` over a kept partition: a view for a run (read once, by its query); a copy in
    memory for a reader such as the predictions API, which runs the query at every call and
    must not depend on the lake's files meanwhile."""
    if kept.run_id is not None:
        define_file_view(con, relation, [path])
        return
    rows = "SELECT * FROM lake_table($files)"
    _temp_table(con, relation, rows, {"files": [str(path)]})


@contextlib.contextmanager
def _one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run on one DuckDB thread: 28 days of flights (250M at 10 million a day) into as many groups
    as a day has flight numbers overruns the memory limit on two threads, each keeping partial
    groups that grow with the rows it reads (duckdb/duckdb#22474); on one it stays within it."""
    ((threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute("SET threads = $n", {"n": threads})


def _window_files(raw: Mapping[str, str], day: date) -> dict[date, str | None]:
    """The ``raw.flights`` file of each day of ``day``'s window (None: not published)."""
    return {past: raw.get(past.isoformat()) for past in window(day)}


def _counted_from(version: str, sources: dict[date, str | None]) -> str:
    """The footer a partition counted from ``sources`` (day -> raw file) by SQL ``version``
    carries: equal strings, equal inputs."""
    files = {d.isoformat(): sources[d] for d in sorted(sources)}
    return json.dumps({"sql": version, "raw.flights": files}, sort_keys=True)


def _sql_version(sql_root: Path, files: tuple[tuple[str, str], ...]) -> str:
    """A digest of the SQL a kept partition's numbers depend on: the files named, and every
    macro (the label's definition, the lake reader) they may call. Read afresh each time, so a
    long-lived process sees an edit."""
    digest = hashlib.sha256()
    macros = tuple(("macros", name) for name in layer_models(sql_root, "macros"))
    for layer, name in (*files, *macros):
        digest.update(f"{layer}/{name}\n".encode())
        digest.update(load_sql(sql_root, layer, name).encode())
    return digest.hexdigest()[:16]
