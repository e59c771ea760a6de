"""Analyst SQL, confined: one read-only SELECT over the published lake, with a time and row limit.

Two independent locks, so that neither has to be perfect alone:

- DuckDB's own controls. The warehouse is opened read-only with external access disabled; only the
  folders of the published lake layers may be read (``allowed_directories``), extensions are
  neither installed nor loaded, and ``lock_configuration`` keeps the SQL from turning any of it
  back on. ``/proc/self/environ``, ``/etc/passwd``, a replacement scan of a path or a Python
  variable, ``glob('/etc/*')``: all fail with DuckDB's permission error.
- DuckDB's parser. ``allowed_directories`` also allows *writing* there (a ``COPY ... TO`` a lake
  partition would succeed), and a read-only database still takes temporary tables and macros. So
  the text must be exactly one SELECT, or an EXPLAIN [ANALYZE] of one. ``json_serialize_sql``
  serializes SELECT statements only, which makes it the check: COPY, CREATE, INSERT, ATTACH,
  PRAGMA, SET, CALL, CHECKPOINT, ... never serialize, whatever comments surround them.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.settings import QueryLimits

# Every setting here is fixed for the connection's life: lock_configuration comes last.
_CONNECT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_extension_repositories": "forbidden",
    "allow_persistent_secrets": False,
    # The Python client would otherwise resolve an unknown table name to a Python variable.
    "python_enable_replacements": False,
}
_BATCH_ROWS = 65_536


class QueryError(Exception):
    """The query was not run, or did not finish; the message is one line for the analyst."""


class NotAQuery(QueryError, ValueError):
    """The SQL is not a single read-only statement (SELECT, or EXPLAIN of one)."""


class QueryTimeout(QueryError):
    """The query ran longer than the timeout and was interrupted."""


class QueryFailed(QueryError):
    """DuckDB refused or failed the statement (bad SQL, a file outside the lake, ...)."""


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    # True when the row limit stopped the read: the query had more rows than ``table``.
    truncated: bool


def first_line(exc: BaseException) -> str:
    """DuckDB errors carry a caret diagram and hints on later lines; one line is enough here."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _serializes_as_one_select(con: duckdb.DuckDBPyConnection, sql: str) -> bool:
    [(text,)] = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    parsed = json.loads(text)
    return not parsed.get("error") and len(parsed.get("statements", ())) == 1


def _explained_text(sql: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE]`` explains, as text (comments are skipped)."""
    marks = duckdb.tokenize(sql)
    ends = [offset for offset, _ in marks[1:]] + [len(sql)]
    tokens = [
        (offset, sql[offset:end].strip())
        for (offset, kind), end in zip(marks, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]
    words = [text.lower() for _, text in tokens]
    skip = 2 if words[1:2] == ["analyze"] else 1
    if words[:1] != ["explain"] or len(tokens) <= skip or words[skip] == "(":
        raise NotAQuery("only EXPLAIN or EXPLAIN ANALYZE followed by a SELECT is allowed")
    return sql[tokens[skip][0] :]


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT, or one EXPLAIN [ANALYZE] of a SELECT."""
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1:
        raise NotAQuery(f"exactly one statement is allowed, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in ("SELECT", "EXPLAIN"):
        raise NotAQuery(f"only a SELECT (or EXPLAIN of one) is allowed, not {kind}")
    target = _explained_text(statements[0].query) if kind == "EXPLAIN" else statements[0].query
    # A parser-only connection: nothing in it to read, and it never touches the disk.
    with duckdb.connect(":memory:", config={"enable_external_access": False}) as con:
        if not _serializes_as_one_select(con, target):
            what = "EXPLAIN is allowed only of a SELECT" if kind == "EXPLAIN" else "not a SELECT"
            raise NotAQuery(f"{what} (no COPY, CREATE, INSERT, ATTACH, SET, PRAGMA, ...)")


def readable_directories(lake_root: Path, layers: Sequence[str]) -> list[str]:
    """One folder per layer (pass the published ones), each with a trailing slash: DuckDB
    matches allowed directories as prefixes, so ``<lake>/raw`` would also allow ``<lake>/raw2``."""
    # The views name files under the root as configured; a symlinked root also resolves.
    roots = dict.fromkeys([Path(lake_root).absolute(), Path(lake_root).resolve()])
    return [str(root / layer) + "/" for root in roots for layer in layers]


def sandbox_connection(
    warehouse_path: Path, readable: Sequence[str], timeout_seconds: float
) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, able to read ``readable`` folders and nothing else outside it.

    No single file is allowed beyond those folders (``allowed_paths`` stays empty): the open
    database needs no permission to serve its own views.
    """
    config = {**_CONNECT_CONFIG, "max_execution_time": max(1, round(timeout_seconds * 1000))}
    con = duckdb.connect(str(warehouse_path), read_only=True, config=config)
    try:
        # DuckDB 2.0.1 takes the allowed folders only once the database is open, and only while
        # external access is still on: hence SET, in this order, then the lock.
        con.execute("SET allowed_directories = ?", [list(readable)])
        con.execute("SET enable_external_access = false")
        # The query process's stdout carries the result (Arrow IPC): nothing else may print there.
        con.execute("SET enable_progress_bar = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _fetch(relation: duckdb.DuckDBPyRelation, max_rows: int) -> QueryResult:
    # Streamed in batches, so a huge result stops being read at the limit instead of being built.
    reader = relation.to_arrow_reader(min(_BATCH_ROWS, max_rows + 1))
    batches, seen = [], 0
    try:
        for batch in reader:
            batches.append(batch)
            seen += batch.num_rows
            if seen > max_rows:
                break
    finally:
        reader.close()
    table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)
    return QueryResult(table, truncated=seen > max_rows)


def _interrupt(con: duckdb.DuckDBPyConnection) -> None:
    # The timer may fire as the query ends and the connection closes: nothing left to stop then.
    with contextlib.suppress(duckdb.Error):
        con.interrupt()


def run_query(
    warehouse_path: Path,
    readable: Sequence[str],
    sql: str,
    limits: QueryLimits,
    params: Mapping[str, object] | None = None,
) -> QueryResult:
    """Check ``sql``, then run it in the sandbox; raise a ``QueryError`` with a one-line reason.

    The connection is closed before returning: DuckDB shares one open database per file within a
    process, so a lingering one would keep serving the catalog it opened, not a rebuilt one.
    """
    try:
        check_statement(sql)
        con = sandbox_connection(warehouse_path, readable, limits.timeout_seconds)
    except duckdb.Error as exc:  # bad SQL, or a warehouse that cannot be opened
        raise QueryFailed(first_line(exc)) from exc
    with con:
        # DuckDB's max_execution_time is set too; the timer also covers time spent fetching.
        timer = threading.Timer(limits.timeout_seconds, _interrupt, [con])
        timer.daemon = True
        timer.start()
        try:
            return _fetch(con.sql(sql, params=dict(params) if params else None), limits.max_rows)
        except duckdb.InterruptException as exc:
            raise QueryTimeout(
                f"stopped after {limits.timeout_seconds:g} s "
                f"(NIGHTSHIFT_QUERY_TIMEOUT_SECONDS={limits.timeout_seconds:g})"
            ) from exc
        except duckdb.Error as exc:
            raise QueryFailed(first_line(exc)) from exc
        finally:
            timer.cancel()
