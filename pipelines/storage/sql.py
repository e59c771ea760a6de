"""The one SQL loader: ``sql/<layer>/<name>.sql`` files, read as text and run with bound values.

``sql/macros`` holds DuckDB macros (the lake reader, the smoothing of delay rates) that every
connection over the lake defines first, so a query that uses them runs the same in a pipeline
and in the analysts' warehouse.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MACROS = "macros"


class SqlFileNotFound(FileNotFoundError):
    pass


def load_sql(sql_root: Path, layer: str, name: str) -> str:
    """Text of ``<sql_root>/<layer>/<name>.sql``."""
    if not (_NAME.match(layer) and _NAME.match(name)):
        raise ValueError(f"SQL file names are lower_snake_case, got {layer}/{name}")
    path = Path(sql_root) / layer / f"{name}.sql"
    if not path.exists():
        raise SqlFileNotFound(f"no SQL file {path} (NIGHTSHIFT_SQL_ROOT={sql_root})")
    return path.read_text(encoding="utf-8")


def layer_models(sql_root: Path, layer: str) -> list[str]:
    """Names of the SQL models of one layer, in file-name order."""
    folder = Path(sql_root) / layer
    return sorted(p.stem for p in folder.glob("*.sql") if _NAME.match(p.stem))


def define_macros(con: duckdb.DuckDBPyConnection, sql_root: Path) -> list[str]:
    """Create every macro of ``sql/macros`` on ``con``; return their names."""
    names = layer_models(sql_root, MACROS)
    for name in names:
        con.execute(load_sql(sql_root, MACROS, name))
    return names


def macro_connection(sql_root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the macros only: for queries that name the files they read
    (``lake_table($files)``) instead of defining a view for every table of the lake."""
    con = duckdb.connect(":memory:")
    define_macros(con, sql_root)
    return con
