"""What the lake holds, for the demo's closing summary, on-call engineers and analysts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from pipelines import tables
from pipelines.dates import Interval
from pipelines.ops import sandbox
from pipelines.ops.sandbox import NotAQuery, QueryError
from pipelines.settings import DuckDBResources, get_settings
from pipelines.storage import lake, snapshots
from pipelines.storage.sql import load_sql, macro_connection
from pipelines.storage.warehouse import PUBLISHED_LAYERS

# Re-exported: callers catch them from here, where `query` lives.
__all__ = [
    "NotAQuery",
    "QueryError",
    "day_ranges",
    "format_rows",
    "partitions_table",
    "query",
    "scored_days",
    "validation_by_day",
]
log = logging.getLogger(__name__)


def partitions_table(
    lake_root: Path, sql_root: Path, interval: Interval, resources: DuckDBResources | None = None
) -> list[tuple[str, int, int]]:
    """(layer.table, partitions in the interval, rows in the interval) for every published table."""
    rows = []
    query = load_sql(sql_root, "reports", "partition_counts")
    snapshot = snapshots.current_id(lake_root)
    with macro_connection(sql_root, resources) as con:
        for layer, names in lake.list_tables(lake_root, snapshot).items():
            if layer == "incoming":
                continue
            for table in names:
                files = lake.table_files(lake_root, layer, table, snapshot=snapshot)
                [(parts, count)] = con.execute(query, _bind(files, interval)).fetchall()
                rows.append((f"{layer}.{table}", parts, count))
    return rows


def validation_by_day(
    lake_root: Path, sql_root: Path, interval: Interval, resources: DuckDBResources | None = None
) -> list[tuple]:
    """Per day: checks run, critical failures, warnings, and rows quarantined (all tables)."""
    snapshot = snapshots.current_id(lake_root)
    results = lake.table_files(lake_root, *tables.VALIDATION_RESULTS.address, snapshot=snapshot)
    if not results:
        return []
    quarantine = [
        f
        for table in lake.list_tables(lake_root, snapshot).get("quarantine", [])
        for f in lake.table_files(lake_root, "quarantine", table, snapshot=snapshot)
    ]
    with macro_connection(sql_root, resources) as con:
        checks_sql = load_sql(sql_root, "reports", "checks_by_day")
        rows_sql = load_sql(sql_root, "reports", "rows_by_day")
        checks = con.execute(checks_sql, _bind(results, interval)).fetchall()
        quarantined = (
            dict(con.execute(rows_sql, _bind(quarantine, interval)).fetchall())
            if quarantine
            else {}
        )
    return [(*row, quarantined.get(row[0], 0)) for row in checks]


def format_rows(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain fixed-width table."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def day_ranges(days: Sequence[date]) -> str:
    """Days as runs of consecutive ones: ``2013-03-01 to 2013-03-15, 2013-04-02 (16 days)``."""
    ordered = sorted(set(days))
    if not ordered:
        return "none"
    runs: list[list[date]] = [[ordered[0], ordered[0]]]
    for day in ordered[1:]:
        if day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    spans = [str(a) if a == b else f"{a} to {b}" for a, b in runs]
    count = f"{len(ordered)} day" + ("s" if len(ordered) > 1 else "")
    return f"{', '.join(spans)} ({count})"


def scored_days(warehouse_path: Path, sql_root: Path) -> list[date]:
    """The days ``scores.flight_delay_predictions`` has, in order (none before the first run)."""
    try:
        table = query(warehouse_path, load_sql(sql_root, "reports", "scored_days"))
    except QueryError as exc:
        if "does not exist" in str(exc):  # no scores view: nothing was scored yet
            return []
        raise
    return table.column("dt").to_pylist()


def query(warehouse_path: Path, sql: str, params: Mapping[str, object] | None = None) -> pa.Table:
    """Run one read-only statement against the warehouse, in the sandbox (see ``ops.sandbox``).

    Only a single SELECT (or EXPLAIN of one) runs; it reads the published lake and nothing else,
    within NIGHTSHIFT_QUERY_TIMEOUT_SECONDS and NIGHTSHIFT_QUERY_MAX_ROWS (a cut result is logged).
    Raises ``QueryError`` (``NotAQuery`` for a refused statement) with a one-line reason.
    """
    settings = get_settings()
    result = sandbox.run_query(
        warehouse_path,
        sandbox.readable_directories(settings.lake_root, PUBLISHED_LAYERS),
        sql,
        settings.query_limits(),
        params,
    )
    if result.truncated:
        rows = result.table.num_rows
        log.warning("query result cut at %d rows (NIGHTSHIFT_QUERY_MAX_ROWS)", rows)
    return result.table


def _bind(files: list[str], interval: Interval) -> dict[str, object]:
    return {"files": files, "start": interval.start, "end": interval.end}
