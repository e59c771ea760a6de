"""The DuckDB side of validation: the metrics GX decides on, the samples, the row splits.

A suite's row-level predicates (:mod:`pipelines.ingest.validation.checks`) are evaluated where
the day's rows are (a Parquet file read in place, or an Arrow table): one aggregate pass counts
every check's offending and considered rows and every column's nulls; a check that found
offenders reads its first few with a query that stops there; only a day with rows to quarantine
reads its rows again to split them. Nothing materializes the day: a clean 10-million-row day
costs one scan, under the connection's memory limit.
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
    @property
    def counted(self) -> str | None: ...
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
    """What one aggregate pass found: rows, nulls per column, and per row-level check its
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


def predicates(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    columns: list[str],
    suite: Sequence[Check],
) -> dict[str, str]:
    """Each row-level check of ``suite`` that applies to ``columns``: its predicate over the
    relation ``source`` as a boolean SQL expression (true: the row offends), with the value sets
    it reads registered on ``con``."""
    found = {}
    for index, check in enumerate(suite):
        if check.predicate is None or not check.applies_to(columns):
            continue
        predicate = check.predicate.replace("{rows}", source)
        for key, values in check.sets.items():
            set_name = f"_set_{table}_{index}_{key}_{next(_names)}"
            con.register(set_name, values)
            predicate = predicate.replace("{" + key + "}", set_name)
        found[check.name] = f"coalesce(({predicate}), false)"
    return found


def measure(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    suite: Sequence[Check],
    columns: list[str],
    row_checks: dict[str, str],
) -> Measured:
    """Every metric of the suite in one aggregate pass (and a pass of its own for a check
    ``counted`` apart)."""
    applicable = [c for c in suite if c.name in row_checks and c.counted is None]
    measures = ["count(*)"]
    measures += [f"count(*) - count({quote(c)})" for c in columns]
    measures += [f"count(*) filter (where {row_checks[c.name]})" for c in applicable]
    measures += [f"count(*) filter (where {c.considered or 'true'})" for c in applicable]
    # Generated relation names, quoted schema columns, the checks' own predicates.
    (row,) = con.execute(f"select {', '.join(measures)} from {relation}").fetchall()  # noqa: S608
    n, names = len(columns), [c.name for c in applicable]
    counts = row[1 + n :]
    offending = dict(zip(names, counts[: len(names)], strict=True))
    considered = dict(zip(names, counts[len(names) :], strict=True))
    for check in suite:
        if check.name in row_checks and check.counted is not None:
            query = check.counted.replace("{rows}", relation)  # the check's own SQL
            ((offending[check.name], considered[check.name]),) = con.execute(query).fetchall()
    nulls = dict(zip(columns, row[1 : 1 + n], strict=True))
    return Measured(rows=row[0], nulls=nulls, offending=offending, considered=considered)


def count(con: duckdb.DuckDBPyConnection, relation: str, predicate: str) -> int:
    """Rows of ``relation`` for which ``predicate`` (a checks' expression) holds."""
    ((found,),) = con.execute(
        f"select count(*) filter (where {predicate}) from {relation}"  # noqa: S608
    ).fetchall()
    return int(found)


def sample(
    con: duckdb.DuckDBPyConnection, relation: str, predicate: str, columns: tuple[str, ...]
) -> list[Any]:
    """The first offending values in the rows' order (a tuple per row for a check on several
    columns): the scan stops at the ``SAMPLE_SIZE``-th (the connection keeps insertion order)."""
    selected = ", ".join(quote(c) for c in columns)
    rows = con.execute(
        f"select {selected} from {relation} where {predicate} limit {SAMPLE_SIZE}"  # noqa: S608
    ).fetchall()
    return [r[0] if len(r) == 1 else list(r) for r in rows]
