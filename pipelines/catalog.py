"""Views over the lake, for a pipeline's in-memory DuckDB and for the analysts' warehouse file.

``<layer>.<table>`` is a view over ``<lake>/<layer>/<table>/dt=*/*.parquet`` (with ``dt`` as a DATE
column from the partition path); ``staging.<model>`` views are the files under ``sql/staging``.
One function defines them, so a query that runs in a pipeline runs unchanged in the warehouse.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import lake
from pipelines.sqlfiles import layer_models, load_sql

log = logging.getLogger(__name__)

# Layers the warehouse exposes to analysts (``incoming`` is the unvalidated hand-over area).
PUBLISHED_LAYERS = tuple(layer for layer in lake.LAYERS if layer != "incoming")
# SQL view layers, in dependency order (marts read staging and the lake tables).
VIEW_LAYERS = ("staging", "marts")


@dataclass(frozen=True)
class CatalogSummary:
    tables: list[str]
    views: list[str]


def _quote_literal(value: str) -> str:
    # DDL cannot take bound parameters; the only value quoted into a view is a lake path.
    return "'" + value.replace("'", "''") + "'"


def _quote_identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def define_lake_views(
    con: duckdb.DuckDBPyConnection,
    lake_root: Path,
    sql_root: Path | None,
    layers: tuple[str, ...] = PUBLISHED_LAYERS,
    view_layers: tuple[str, ...] = VIEW_LAYERS,
) -> CatalogSummary:
    """Create ``layer.table`` views for every lake table with data, then the SQL view layers."""
    tables = []
    for layer, names in lake.list_tables(lake_root).items():
        if layer not in layers:
            continue
        con.execute("CREATE SCHEMA IF NOT EXISTS " + _quote_identifier(layer))
        for table in names:
            glob = lake.table_glob(lake_root, layer, table)
            # DDL takes no bound parameters: identifiers are allowlisted by `lake`, the path quoted.
            con.execute(
                "CREATE OR REPLACE VIEW "  # noqa: S608
                + _quote_identifier(layer)
                + "."
                + _quote_identifier(table)
                + " AS SELECT * FROM read_parquet("
                + _quote_literal(glob)
                + ", hive_partitioning = true, union_by_name = true,"
                + " hive_types = {'dt': DATE})"
            )
            tables.append(f"{layer}.{table}")
    views = []
    for layer in view_layers if sql_root is not None else ():
        con.execute("CREATE SCHEMA IF NOT EXISTS " + _quote_identifier(layer))
        for model in layer_models(sql_root, layer):
            body = load_sql(sql_root, layer, model)
            try:
                con.execute(
                    "CREATE OR REPLACE VIEW "
                    + _quote_identifier(layer)
                    + "."
                    + _quote_identifier(model)
                    + " AS "
                    + body
                )
            except duckdb.CatalogException as exc:
                # A view over a table the lake does not have yet (say, before the first run).
                log.info("view %s.%s skipped: %s", layer, model, exc)
                continue
            views.append(f"{layer}.{model}")
    return CatalogSummary(tables, views)


def lake_connection(lake_root: Path, sql_root: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's views (and the staging views, given ``sql_root``).

    Pipelines read staging; the marts are for analysts and live in the warehouse only.
    """
    con = duckdb.connect(":memory:")
    define_lake_views(con, lake_root, sql_root, layers=lake.LAYERS, view_layers=("staging",))
    return con


def build_warehouse(lake_root: Path, sql_root: Path, warehouse_path: Path) -> CatalogSummary:
    """Rebuild the analysts' views-only catalog and swap it in atomically.

    The new catalog is written to a temporary file beside the old one and moved over it with
    ``os.replace``. An analyst holding the old file open (read-only) keeps reading it undisturbed,
    and nobody ever opens a half-built catalog. No process holds the file open read-write for
    longer than this function, so runs never fail on DuckDB's single-writer lock.
    """
    warehouse_path = Path(warehouse_path)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse_path.with_name(f".{warehouse_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
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
