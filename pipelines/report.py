"""What the lake holds, for the demo's closing summary, on-call engineers and analysts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines import lake
from pipelines.dates import Interval

# Table functions take bound parameters, so even the lake paths are never formatted into SQL.
_PARTITIONS_SQL = """
select count(distinct dt), count(*)
from read_parquet($glob, hive_partitioning = true, union_by_name = true, hive_types = {'dt': DATE})
where dt >= $start and dt < $end
"""
_CHECKS_BY_DAY_SQL = """
select
    dt,
    count(*),
    count(*) filter (where not success and severity = 'critical'),
    count(*) filter (where not success and severity = 'warning')
from read_parquet($glob, hive_partitioning = true, union_by_name = true, hive_types = {'dt': DATE})
where dt >= $start and dt < $end
group by dt
order by dt
"""
_ROWS_BY_DAY_SQL = """
select dt, count(*)
from read_parquet($glob, hive_partitioning = true, union_by_name = true, hive_types = {'dt': DATE})
where dt >= $start and dt < $end
group by dt
"""


def partitions_table(lake_root: Path, interval: Interval) -> list[tuple[str, int, int]]:
    """(layer.table, partitions in the interval, rows in the interval) for every published table."""
    rows = []
    with duckdb.connect() as con:
        for layer, tables in lake.list_tables(lake_root).items():
            if layer == "incoming":
                continue
            for table in tables:
                glob = lake.table_glob(lake_root, layer, table)
                parts, count = con.execute(_PARTITIONS_SQL, _bind(glob, interval)).fetchone()
                rows.append((f"{layer}.{table}", parts, count))
    return rows


def validation_by_day(lake_root: Path, interval: Interval) -> list[tuple]:
    """Per day: checks run, critical failures, warnings, and rows quarantined (all tables)."""
    if not lake.list_partitions(lake_root, "quality", "validation_results"):
        return []
    results_glob = lake.table_glob(lake_root, "quality", "validation_results")
    quarantine_glob = str(Path(lake_root) / "quarantine" / "*" / "dt=*" / "*.parquet")
    with duckdb.connect() as con:
        checks = con.execute(_CHECKS_BY_DAY_SQL, _bind(results_glob, interval)).fetchall()
        quarantined = dict(
            con.execute(_ROWS_BY_DAY_SQL, _bind(quarantine_glob, interval)).fetchall()
        )
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


def query(warehouse_path: Path, sql: str, params: dict[str, object] | None = None) -> pa.Table:
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
    return {"glob": glob, "start": interval.start, "end": interval.end}
