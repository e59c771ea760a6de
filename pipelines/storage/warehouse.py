"""Views over the lake, for a pipeline's in-memory DuckDB and for the analysts' warehouse file.

``<layer>.<table>`` is a view over the files of that table in one snapshot of the lake (read
through the ``lake_table`` macro of ``sql/macros``, with ``dt`` as a DATE column from the
partition path): every view of one connection or warehouse shows the same snapshot, so a query
never mixes tables written by different commits;
``staging.<model>`` and ``marts.<model>`` views are the files under ``sql/staging`` and
``sql/marts``. One function defines them, so a query that runs in a pipeline runs unchanged in the
warehouse.

A pipeline's connection may be given a window of days: its views then read only the files of
those days (and, for a reference table, the snapshot in force when the window opens), so the
cost of a query of one day does not grow with the lake. The warehouse reads every file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.dates import Interval
from pipelines.settings import DuckDBResources
from pipelines.storage import lake, snapshots
from pipelines.storage.sql import (
    connect,
    define_macros,
    layer_models,
    load_sql,
    record_snapshot,
    select_lake_files,
)
from pipelines.tables import LAYERS, REFERENCE_TABLES, VIEW_LAYERS

log = logging.getLogger(__name__)

# Layers the warehouse exposes to analysts (``incoming`` is the unvalidated hand-over area).
PUBLISHED_LAYERS = tuple(layer for layer in LAYERS if layer != "incoming")
# The SQL view layers (VIEW_LAYERS, from the registry) are defined in their dependency order:
# marts read staging and the lake tables.


@dataclass(frozen=True)
class CatalogSummary:
    tables: list[str]
    views: list[str]
    snapshot: int | None = None


def _quote_identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _create_view(con: duckdb.DuckDBPyConnection, layer: str, name: str, body: str) -> None:
    # DDL takes no bound parameters: identifiers are allowlisted by `lake` or are SQL file names.
    con.execute("CREATE SCHEMA IF NOT EXISTS " + _quote_identifier(layer))
    con.execute(
        "CREATE OR REPLACE VIEW "
        + _quote_identifier(layer)
        + "."
        + _quote_identifier(name)
        + " AS "
        + body
    )


def _view_body(
    lake_root: Path, layer: str, table: str, days: Interval | None, snapshot: int | None
) -> str:
    """``SELECT`` over the files of ``layer.table`` that a view over ``days`` (None: all) needs."""
    paths = lake.table_files(lake_root, layer, table, days, snapshot)
    if days is None:
        return select_lake_files(paths)
    if table in REFERENCE_TABLES:
        # "The newest snapshot on or before day D" must find the same snapshot for every D of
        # the window: the one delivered last before the window opens comes too.
        opened = Interval(date.min, days.start)
        paths = lake.table_files(lake_root, layer, table, opened, snapshot)[-1:] + paths
    if paths:
        return select_lake_files(paths)
    # Nothing in the window: an empty view with the columns of the table's newest file.
    newest = lake.table_files(lake_root, layer, table, snapshot=snapshot)[-1:]
    return select_lake_files(newest) + " LIMIT 0"


def define_lake_views(
    con: duckdb.DuckDBPyConnection,
    lake_root: Path,
    sql_root: Path,
    layers: tuple[str, ...] = PUBLISHED_LAYERS,
    view_layers: tuple[str, ...] = VIEW_LAYERS,
    days: Interval | None = None,
) -> CatalogSummary:
    """Create ``layer.table`` views for every lake table with data, then the SQL view layers.

    With ``days``, each view reads only the partitions of those days; a reference table's view
    also reads its latest snapshot from before them, so "the newest snapshot on or before D"
    answers the same for every D in ``days``.
    """
    define_macros(con, sql_root)
    snapshot = snapshots.current_id(lake_root)  # read once: every view shows this snapshot
    record_snapshot(con, snapshot)
    tables = []
    for layer, names in lake.list_tables(lake_root, snapshot).items():
        if layer not in layers:
            continue
        for table in names:
            _create_view(con, layer, table, _view_body(lake_root, layer, table, days, snapshot))
            tables.append(f"{layer}.{table}")
    views = []
    for layer in view_layers:
        for model in layer_models(sql_root, layer):
            try:
                _create_view(con, layer, model, load_sql(sql_root, layer, model))
            except duckdb.CatalogException as exc:
                # A view over a table the lake does not have yet (say, before the first run).
                log.info("view %s.%s skipped: %s", layer, model, exc)
                continue
            views.append(f"{layer}.{model}")
    return CatalogSummary(tables, views, snapshot)


def lake_connection(
    lake_root: Path,
    sql_root: Path,
    *,
    days: Interval | None = None,
    resources: DuckDBResources | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the macros, the lake's views and the staging views.

    Pipelines read staging; the marts are for analysts and live in the warehouse only. ``days``:
    the views read only what a query of those days needs (see :func:`define_lake_views`); None,
    the whole lake. The connection is held to ``resources`` and does not keep insertion order:
    pipeline queries say the order they need.
    """
    con = connect(resources, keep_insertion_order=False)
    try:
        define_lake_views(
            con, lake_root, sql_root, layers=LAYERS, view_layers=("staging",), days=days
        )
    except BaseException:
        con.close()
        raise
    return con


def build_warehouse(
    lake_root: Path,
    sql_root: Path,
    warehouse_path: Path,
    resources: DuckDBResources | None = None,
) -> CatalogSummary:
    """Rebuild the analysts' views-only catalog and swap it in atomically.

    The new catalog is written to a temporary file beside the old one and moved over it with
    ``os.replace``. An analyst holding the old file open (read-only) keeps reading it undisturbed,
    and nobody ever opens a half-built catalog. No process holds the file open read-write for
    longer than this function, so runs never fail on DuckDB's single-writer lock.
    """
    warehouse_path = Path(warehouse_path)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # Two refreshes at once (two DAGs finishing together) take turns, so the last file swapped
    # in is built from the newest snapshot, never an older one.
    with open(warehouse_path.with_name(f".{warehouse_path.name}.lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        summary = _build_and_swap(lake_root, sql_root, warehouse_path, resources)
    return summary


def _build_and_swap(
    lake_root: Path, sql_root: Path, warehouse_path: Path, resources: DuckDBResources | None
) -> CatalogSummary:
    tmp = warehouse_path.with_name(f".{warehouse_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = connect(resources, str(tmp))
        try:
            summary = define_lake_views(con, lake_root, sql_root)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, warehouse_path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return summary
