"""What the lake holds, for the demo's closing summary, on-call engineers and analysts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines import tables
from pipelines.dates import Interval
from pipelines.storage import lake
from pipelines.storage.sql import load_sql, macro_connection


def partitions_table(
    lake_root: Path, sql_root: Path, interval: Interval
) -> list[tuple[str, int, int]]:
    """(layer.table, partitions in the interval, rows in the interval) for every published table."""
    rows = []
    query = load_sql(sql_root, "reports", "partition_counts")
    with macro_connection(sql_root) as con:
        for layer, names in lake.list_tables(lake_root).items():
            if layer == "incoming":
                continue
            for table in names:
                glob = lake.table_glob(lake_root, layer, table)
                [(parts, count)] = con.execute(query, _bind(glob, interval)).fetchall()
                rows.append((f"{layer}.{table}", parts, count))
    return rows


def validation_by_day(lake_root: Path, sql_root: Path, interval: Interval) -> list[tuple]:
    """Per day: checks run, critical failures, warnings, and rows quarantined (all tables)."""
    if not lake.list_partitions(lake_root, *tables.VALIDATION_RESULTS.address):
        return []
    results_glob = lake.table_glob(lake_root, *tables.VALIDATION_RESULTS.address)
    quarantine_glob = str(Path(lake_root) / "quarantine" / "*" / "dt=*" / "*.parquet")
    with macro_connection(sql_root) as con:
        checks_sql = load_sql(sql_root, "reports", "checks_by_day")
        rows_sql = load_sql(sql_root, "reports", "rows_by_day")
        checks = con.execute(checks_sql, _bind(results_glob, interval)).fetchall()
        quarantined = dict(con.execute(rows_sql, _bind(quarantine_glob, interval)).fetchall())
    return [(*row, quarantined.get(row[0], 0)) for row in checks]


def format_rows(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain fixed-width table."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class NotAQuery(ValueError):
    """The SQL is not a single read-only statement (SELECT, or EXPLAIN of one)."""


READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")


def query(warehouse_path: Path, sql: str, params: Mapping[str, object] | None = None) -> pa.Table:
    """Run one read-only statement against the warehouse (never blocks or is blocked by a run).

    A read-only connection protects the catalog file, not the disk: DuckDB would still run a
    ``COPY ... TO`` over a lake file. So only a single SELECT (or EXPLAIN) is accepted.
    The connection is closed before returning: DuckDB shares one open database per file within a
    process, so a lingering connection would keep serving the catalog it opened, not a rebuilt one.
    """
    statements = duckdb.extract_statements(sql)
    kinds = [s.type.name for s in statements]
    if len(statements) != 1 or kinds[0] not in READ_ONLY_STATEMENTS:
        raise NotAQuery(
            f"only one SELECT (or EXPLAIN) statement is allowed; got {', '.join(kinds) or 'none'}"
        )
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        return con.sql(sql, params=params).to_arrow_table()


def _bind(glob: str, interval: Interval) -> dict[str, object]:
    return {"files": glob, "start": interval.start, "end": interval.end}
