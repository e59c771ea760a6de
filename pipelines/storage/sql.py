"""The one SQL loader: ``sql/<layer>/<name>.sql`` files, read as text and run with bound values.

``sql/macros`` holds DuckDB macros (the lake reader, the smoothing of delay rates) that every
connection over the lake defines first, so a query that uses them runs the same in a pipeline
and in the analysts' warehouse. :func:`connect` is how a pipeline opens DuckDB: held to the
memory limit, spill directory and threads of the settings.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import duckdb

from pipelines.settings import DuckDBResources

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


def connect(
    resources: DuckDBResources | None = None,
    database: str = ":memory:",
    *,
    keep_insertion_order: bool = True,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection held to ``resources`` (None: DuckDB's defaults, 80% of the RAM).

    Past the memory limit DuckDB spills to ``<temp_directory>/<host name>``: DuckDB names its
    spill files after the process id, and processes on two hosts sharing the data volume (two
    containers) can have the same one. ``keep_insertion_order=False`` lets DuckDB return rows of
    a query without ORDER BY in any order, which lets large results stream and spill; what an
    ORDER BY asks for still holds.
    """
    config: dict[str, str | bool | int | float | list[str]] = {}
    if not keep_insertion_order:
        config["preserve_insertion_order"] = False
    if resources is not None:
        resources.temp_directory.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last
        config["memory_limit"] = resources.memory_limit
        config["temp_directory"] = str(resources.temp_directory / socket.gethostname())
        if resources.threads:
            config["threads"] = resources.threads
    return duckdb.connect(database, config=config)


def quote_literal(value: str) -> str:
    # DDL cannot take bound parameters; the only values quoted into views are lake file paths.
    return "'" + value.replace("'", "''") + "'"


def select_lake_files(paths: list[str] | list[Path]) -> str:
    """``SELECT`` of every row of lake files ``paths`` as the lake reads them (``lake_table``:
    ``dt`` from the partition path), for a view's body: DDL takes no bound parameters, so the
    paths are quoted in."""
    files = "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"
    return "SELECT * FROM lake_table(" + files + ")"  # noqa: S608 (quoted lake paths)


def define_file_view(con: duckdb.DuckDBPyConnection, name: str, paths: list[Path]) -> None:
    """A temporary view ``name`` (a constant of the caller's, never caller text) over lake files
    ``paths`` (at least one): :func:`select_lake_files`."""
    if not _NAME.match(name) or not paths:
        raise ValueError(f"a view needs a lower_snake_case name and files: {name!r}, {paths}")
    con.execute("CREATE OR REPLACE TEMP VIEW " + name + " AS " + select_lake_files(paths))


_SNAPSHOT_VARIABLE = "nightshift_lake_snapshot"


def record_snapshot(con: duckdb.DuckDBPyConnection, snapshot: int | None) -> None:
    """Note on ``con`` the lake snapshot its views read (:func:`snapshot_of` tells it)."""
    con.execute("SET VARIABLE " + _SNAPSHOT_VARIABLE + " = $id", {"id": snapshot})


def snapshot_of(con: duckdb.DuckDBPyConnection) -> int | None:
    """The lake snapshot the views of ``con`` read, as :func:`record_snapshot` noted it."""
    ((found,),) = con.execute("SELECT getvariable('" + _SNAPSHOT_VARIABLE + "')").fetchall()
    return None if found is None else int(found)


def macro_connection(
    sql_root: Path, resources: DuckDBResources | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the macros only: for queries that name the files they read
    (``lake_table($files)``) instead of defining a view for every table of the lake."""
    con = connect(resources)
    define_macros(con, sql_root)
    return con
