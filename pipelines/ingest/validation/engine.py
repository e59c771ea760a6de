"""The DuckDB side of validation: the day's rows, one flag per check, the metrics GX decides on.

A suite's row-level predicates (:mod:`pipelines.ingest.validation.checks`) become flag columns of
one temporary table over the day's rows (a Parquet file read in place, or an Arrow table), built
in one pass. Every count, sample and row split is then a query over that table, under the
connection's memory limit: nothing holds the day in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa


class Check(Protocol):
    """What the engine needs of a check (``checks.Check`` has it): a row predicate over named
    columns, the value sets it reads, and the rows its tolerance counts against."""

    @property
    def name(self) -> str: ...
    @property
    def predicate(self) -> str | None: ...
    @property
    def sets(self) -> Mapping[str, pa.Table]: ...
    @property
    def columns(self) -> tuple[str, ...]: ...
    @property
    def considered(self) -> str | None: ...
    def applies_to(self, columns: Collection[str]) -> bool: ...


RUN_ID_COLUMN = "pipeline_run_id"  # the lake's lineage column, never validated

SAMPLE_SIZE = 10
BATCH_ROWS = 256 * 1024
_names = itertools.count()


@dataclass
class Rows:
    """A set of rows of one table and day, held by DuckDB: stream it, or (small) take it whole."""

    con: duckdb.DuckDBPyConnection | None
    query: str
    schema: pa.Schema
    count: int

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.con is None or not self.count:
            return
        reader = self.con.sql(self.query).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [batch.column(f.name).cast(f.type) for f in self.schema], schema=self.schema
            )

    def table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)


@dataclass(frozen=True)
class Measured:
    """What one aggregate pass found: rows, nulls per column, and per flagged check its
    offending and considered rows."""

    rows: int
    nulls: dict[str, int]
    offending: dict[str, int]
    considered: dict[str, int]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table | Path) -> str:
    """A view over ``data`` in ``con``, under a name of its own."""
    name = f"_rows_{table}_{next(_names)}"
    if isinstance(data, pa.Table):
        con.register(name, data)
        return name
    # A relation binds the path as a value (a view's DDL could not take it as a parameter).
    relation = con.read_parquet(str(data)).project(f"* exclude ({RUN_ID_COLUMN})")
    relation.create_view(name, replace=True)
    return name


def flag(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    columns: list[str],
    suite: Sequence[Check],
) -> tuple[str, dict[str, str]]:
    """One temporary table: the rows, plus a flag column per row-level check that applies
    (true: the row offends). Returns its name and each check's flag column."""
    flags, selected = {}, []
    for index, check in enumerate(suite):
        if check.predicate is None or not check.applies_to(columns):
            continue
        predicate = check.predicate.replace("{rows}", source)
        for key, values in check.sets.items():
            set_name = f"_set_{table}_{index}_{key}_{next(_names)}"
            con.register(set_name, values)
            predicate = predicate.replace("{" + key + "}", set_name)
        flag = f"_check_{index}"
        flags[check.name] = flag
        selected.append(f"coalesce(({predicate}), false) as {flag}")
    flagged = f"_flagged_{table}_{next(_names)}"
    con.execute(
        f"create temp table {flagged} as select *, "  # noqa: S608 (generated names, code predicates)
        + ", ".join([*selected, "true as _row"])
        + f" from {source}"
    )
    return flagged, flags


def measure(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    suite: Sequence[Check],
    columns: list[str],
    flags: dict[str, str],
) -> Measured:
    """Every metric of the suite in one aggregate query over a flagged relation."""
    applicable = [c for c in suite if c.name in flags]
    measures = ["count(*)"]
    measures += [f"count(*) - count({quote(c)})" for c in columns]
    measures += [f"count(*) filter (where {flags[c.name]})" for c in applicable]
    measures += [f"count(*) filter (where {c.considered or 'true'})" for c in applicable]
    # Generated relation and flag names, quoted schema columns, the checks' own predicates.
    (row,) = con.execute(f"select {', '.join(measures)} from {relation}").fetchall()  # noqa: S608
    n = len(columns)
    names = [c.name for c in applicable]
    return Measured(
        rows=row[0],
        nulls=dict(zip(columns, row[1 : 1 + n], strict=True)),
        offending=dict(zip(names, row[1 + n : 1 + n + len(names)], strict=True)),
        considered=dict(zip(names, row[1 + n + len(names) :], strict=True)),
    )


def sample(
    con: duckdb.DuckDBPyConnection, relation: str, flag: str, columns: tuple[str, ...]
) -> list[Any]:
    """The first offending values (a tuple per row for a check on several columns)."""
    selected = ", ".join(quote(c) for c in columns)
    rows = con.execute(
        f"select {selected} from {relation} where {flag} order by rowid limit {SAMPLE_SIZE}"  # noqa: S608
    ).fetchall()
    return [r[0] if len(r) == 1 else list(r) for r in rows]
